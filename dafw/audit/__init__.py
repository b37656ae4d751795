"""`dafw audit`: measure batch-order effects, oracle selection, data overlap and metric errors."""

from dafw.audit.findings import CHECKS, Finding, TargetAudit
from dafw.audit.runner import AuditError, AuditOptions, AuditResult, run_audit

__all__ = [
    "CHECKS",
    "AuditError",
    "AuditOptions",
    "AuditResult",
    "Finding",
    "TargetAudit",
    "run_audit",
]
