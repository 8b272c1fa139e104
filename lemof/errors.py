"""User-facing errors.

Every error a user can cause (bad file, unknown stay, incompatible checkpoint) is a
``LemofError`` whose message is one readable line naming the problem. The CLI prints it
and exits non-zero; the app shows it with ``st.error`` and keeps running.
"""

from __future__ import annotations


class LemofError(Exception):
    """Base class for errors caused by user input, files or configuration."""


class CohortError(LemofError):
    """A cohort bundle is missing, malformed or inconsistent."""


class StayNotFoundError(LemofError, KeyError):
    """A stay id is not part of the cohort."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "stay not found"


class RunError(LemofError):
    """A run directory (trained model) is missing, corrupt or incompatible with this code."""


class ConfigError(LemofError):
    """A configuration value is invalid."""


class UnsafePathError(LemofError, ValueError):
    """A user-supplied name or relative path would leave its folder or cannot be a file name
    (``..``, an absolute path, a NUL byte, dots only, too long, a symbolic link pointing out)."""


class OutputError(LemofError):
    """An output path the operator chose (the CLI's ``--out``) cannot be written: its folder cannot
    hold a new file (missing and not creatable, read-only, not a folder), or a file is asked for
    where a folder is."""


class EcgRecordError(LemofError):
    """An ECG record (WFDB) is missing, unreadable or holds no usable signal."""
