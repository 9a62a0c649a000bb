"""k-anonymity, l-diversity, t-closeness and re-identification risk: assess, enforce, gate.

::

    from shopveil.anonymity import KAnonymity, LDiversity, assess, anonymize_mondrian

    report = assess(table, qi=["age", "zip"], sensitive=["diagnosis"])
    result = anonymize_mondrian(table, ["age", "zip"], [KAnonymity(5), LDiversity(2)],
                                sensitive=["diagnosis"])
    result.table, result.utility.ncp

Inputs are Arrow tables or polars DataFrames; results come back as the same kind.
"""

from typing import TYPE_CHECKING

from shopveil._core.lazy import lazy_exports

if TYPE_CHECKING:
    from shopveil._core.hierarchy import Hierarchy
    from shopveil.anonymity._assess import Assessment, RiskSummary, assess
    from shopveil.anonymity._choose import MethodChoice, MethodTrial, anonymize_auto
    from shopveil.anonymity._gate import FailingClass, GateCheck, GateReport, check_gate, gate
    from shopveil.anonymity._hierarchy import interval_hierarchy, load_hierarchies
    from shopveil.anonymity._lattice import LatticeNode, Loss, anonymize_lattice, evaluate_node
    from shopveil.anonymity._mondrian import MondrianMode, anonymize_mondrian
    from shopveil.anonymity._prepare import AnonymizationResult
    from shopveil.anonymity._requirements import (
        KAnonymity,
        LDiversity,
        LDiversityVariant,
        MaxRisk,
        Requirement,
        RiskModel,
        TCloseness,
        TDistance,
        describe_requirement,
    )
    from shopveil.anonymity._utility import UtilityReport

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "shopveil._core.hierarchy": ("Hierarchy",),
        "shopveil.anonymity._assess": ("Assessment", "RiskSummary", "assess"),
        "shopveil.anonymity._choose": ("MethodChoice", "MethodTrial", "anonymize_auto"),
        "shopveil.anonymity._gate": (
            "FailingClass",
            "GateCheck",
            "GateReport",
            "check_gate",
            "gate",
        ),
        "shopveil.anonymity._hierarchy": ("interval_hierarchy", "load_hierarchies"),
        "shopveil.anonymity._lattice": (
            "LatticeNode",
            "Loss",
            "anonymize_lattice",
            "evaluate_node",
        ),
        "shopveil.anonymity._mondrian": ("MondrianMode", "anonymize_mondrian"),
        "shopveil.anonymity._prepare": ("AnonymizationResult",),
        "shopveil.anonymity._requirements": (
            "KAnonymity",
            "LDiversity",
            "LDiversityVariant",
            "MaxRisk",
            "Requirement",
            "RiskModel",
            "TCloseness",
            "TDistance",
            "describe_requirement",
        ),
        "shopveil.anonymity._utility": ("UtilityReport",),
    },
)

__all__ = [
    "AnonymizationResult",
    "Assessment",
    "FailingClass",
    "GateCheck",
    "GateReport",
    "Hierarchy",
    "KAnonymity",
    "LDiversity",
    "LDiversityVariant",
    "LatticeNode",
    "Loss",
    "MaxRisk",
    "MethodChoice",
    "MethodTrial",
    "MondrianMode",
    "Requirement",
    "RiskModel",
    "RiskSummary",
    "TCloseness",
    "TDistance",
    "UtilityReport",
    "anonymize_auto",
    "anonymize_lattice",
    "anonymize_mondrian",
    "assess",
    "check_gate",
    "describe_requirement",
    "evaluate_node",
    "gate",
    "interval_hierarchy",
    "load_hierarchies",
]
