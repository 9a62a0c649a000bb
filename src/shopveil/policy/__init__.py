"""The privacy policy: YAML checked against a shipped JSON Schema, compiled into a Plan.

A policy says, per column, class and kind, which technique applies for each purpose;
which purposes allow which release modes; which roles may act for which purposes and see
which classes of column; and what its jurisdiction requires. Presets encode GDPR,
CCPA/CPRA, LGPD and PIPL; a policy ``extends`` one and overrides what it must.
"""

from typing import TYPE_CHECKING

from shopveil._core.lazy import lazy_exports

if TYPE_CHECKING:
    from shopveil.policy._compile import ColumnLabel, ColumnStep, Plan, PlanGate, compile_plan
    from shopveil.policy._draft import DraftColumn, draft_policy_yaml
    from shopveil.policy._explain import (
        Choice,
        Entry,
        GateLine,
        PolicyExplanation,
        explain_policy,
    )
    from shopveil.policy._load import PRESETS, load_policy, parse_policy, preset_file
    from shopveil.policy._minors import MinorCheck, minor_check
    from shopveil.policy._model import (
        ClassRule,
        ColumnRule,
        DPDefaults,
        Gates,
        Jurisdiction,
        Minors,
        Origin,
        Policy,
        Purpose,
        ReleaseMode,
        Requirements,
        Role,
        TechniqueSpec,
        UnknownAge,
    )
    from shopveil.policy._processing import (
        Flow,
        Processing,
        Recipient,
        RecipientKind,
        ReleaseStatus,
        Residence,
        Retention,
        StatusRule,
        StoreRetention,
        TransferMechanism,
        TransferRoute,
        Transfers,
    )
    from shopveil.policy._processing_bound import PlanProcessing, PlanRetention, PlanTransfer
    from shopveil.policy._processing_plan import bind_processing
    from shopveil.policy._registry import (
        OPERATORS,
        build_operator,
        scoped_domain,
        technique_names,
    )

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "shopveil.policy._compile": (
            "ColumnLabel",
            "ColumnStep",
            "Plan",
            "PlanGate",
            "compile_plan",
        ),
        "shopveil.policy._draft": ("DraftColumn", "draft_policy_yaml"),
        "shopveil.policy._explain": (
            "Choice",
            "Entry",
            "GateLine",
            "PolicyExplanation",
            "explain_policy",
        ),
        "shopveil.policy._load": ("PRESETS", "load_policy", "parse_policy", "preset_file"),
        "shopveil.policy._minors": ("MinorCheck", "minor_check"),
        "shopveil.policy._model": (
            "ClassRule",
            "ColumnRule",
            "DPDefaults",
            "Gates",
            "Jurisdiction",
            "Minors",
            "Origin",
            "Policy",
            "Purpose",
            "ReleaseMode",
            "Requirements",
            "Role",
            "TechniqueSpec",
            "UnknownAge",
        ),
        "shopveil.policy._processing": (
            "Flow",
            "Processing",
            "Recipient",
            "RecipientKind",
            "ReleaseStatus",
            "Residence",
            "Retention",
            "StatusRule",
            "StoreRetention",
            "TransferMechanism",
            "TransferRoute",
            "Transfers",
        ),
        "shopveil.policy._processing_bound": ("PlanProcessing", "PlanRetention", "PlanTransfer"),
        "shopveil.policy._processing_plan": ("bind_processing",),
        "shopveil.policy._registry": (
            "OPERATORS",
            "build_operator",
            "scoped_domain",
            "technique_names",
        ),
    },
)

__all__ = [
    "OPERATORS",
    "PRESETS",
    "Choice",
    "ClassRule",
    "ColumnLabel",
    "ColumnRule",
    "ColumnStep",
    "DPDefaults",
    "DraftColumn",
    "Entry",
    "Flow",
    "GateLine",
    "Gates",
    "Jurisdiction",
    "MinorCheck",
    "Minors",
    "Origin",
    "Plan",
    "PlanGate",
    "PlanProcessing",
    "PlanRetention",
    "PlanTransfer",
    "Policy",
    "PolicyExplanation",
    "Processing",
    "Purpose",
    "Recipient",
    "RecipientKind",
    "ReleaseMode",
    "ReleaseStatus",
    "Requirements",
    "Residence",
    "Retention",
    "Role",
    "StatusRule",
    "StoreRetention",
    "TechniqueSpec",
    "TransferMechanism",
    "TransferRoute",
    "Transfers",
    "UnknownAge",
    "bind_processing",
    "build_operator",
    "compile_plan",
    "draft_policy_yaml",
    "explain_policy",
    "load_policy",
    "minor_check",
    "parse_policy",
    "preset_file",
    "scoped_domain",
    "technique_names",
]
