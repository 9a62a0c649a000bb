"""Runs a compiled plan over sources into sinks, and the one-call release recipes."""

from shopveil.pipeline._anonymize import AnonymizeResult, anonymize_file
from shopveil.pipeline._audit import (
    audit_release,
    manifest_path,
    records_of_processing,
    write_manifest,
)
from shopveil.pipeline._dynamic import create_masked_view, masked_view, plan_for_role
from shopveil.pipeline._records import PlanCache, ProtectedRecords, protect_records
from shopveil.pipeline._run import RunSummary, apply_plan, run_plan
from shopveil.pipeline._spark import Engine, protect_frame, spark_session
from shopveil.pipeline._spark_assess import (
    SparkAssessment,
    assess_file_on_spark,
    failed_requirements,
)
from shopveil.pipeline._spark_query import query_file_on_spark
from shopveil.pipeline._table_release import KAnonymizeResult, k_anonymize_file

__all__ = [
    "AnonymizeResult",
    "Engine",
    "KAnonymizeResult",
    "PlanCache",
    "ProtectedRecords",
    "RunSummary",
    "SparkAssessment",
    "anonymize_file",
    "apply_plan",
    "assess_file_on_spark",
    "audit_release",
    "create_masked_view",
    "failed_requirements",
    "k_anonymize_file",
    "manifest_path",
    "masked_view",
    "plan_for_role",
    "protect_frame",
    "protect_records",
    "query_file_on_spark",
    "records_of_processing",
    "run_plan",
    "spark_session",
    "write_manifest",
]
