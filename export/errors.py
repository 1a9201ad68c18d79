"""What can stop an export."""

from __future__ import annotations


class ExportError(Exception):
    """A problem the user can fix (bad option, occupied folder): one clear line."""


class ExportRefused(ExportError):
    """The ledger's schema is not the one Draftgate made (a view or guard trigger was changed):
    what "signed off" means can no longer be trusted, so nothing leaves (exit 1)."""
