"""The audit trail: who did what to which patient's data, in a log that cannot be edited unnoticed.

- ``lemof.audit.chain``: the entry format and its hash chain (one canonical JSON line per entry);
- ``lemof.audit.log``: ``AuditLog``, appending under a file lock, flushed and fsynced before it
  returns; ``audit_log()``, the log this process writes (``$LEMOF_AUDIT_LOG``);
- ``lemof.audit.verify``: checking a log (``python -m lemof audit verify``);
- ``lemof.audit.export``: the CSV for the information-governance office (``audit export``).
"""

from lemof.audit.log import AuditError, AuditLog, audit_log, cli_actor, default_log_path
from lemof.audit.verify import Verification, verify_chain, verify_log
from lemof.audit.export import export_csv

__all__ = ["AuditError", "AuditLog", "audit_log", "cli_actor", "default_log_path", "Verification", "verify_chain", "verify_log", "export_csv"]
