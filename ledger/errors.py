"""Errors a user can cause with a ledger file. Each carries one clear line for stderr."""

from __future__ import annotations


class LedgerError(Exception):
    """Base class: the message is the one line the CLI prints."""


class ForeignLedgerError(LedgerError):
    """The file exists but is not a Draftgate ledger (not SQLite, or another app's database)."""


class NewerLedgerError(LedgerError):
    """The file was written by a newer Draftgate whose schema this version does not know."""


class LedgerLockedError(LedgerError):
    """Another process held the write lock for longer than the busy timeout."""


class LedgerBusyError(LedgerLockedError):
    """Another process holds the write lock right now, and the caller asked not to wait for
    it (``Ledger.transaction(wait=False)``): nothing was written; try again later."""


class LedgerUnavailableError(LedgerError):
    """The ledger file or its folder cannot be created, opened or written."""


class DamagedLedgerError(LedgerError):
    """The file is a Draftgate ledger but SQLite cannot read it whole (truncated, corrupt pages,
    unreadable): the user restores it from a backup rather than retrying."""

    @classmethod
    def at(cls, path: str, detail: str) -> DamagedLedgerError:
        return cls(
            f"{path} is damaged ({detail}); SQLite cannot read it whole. Restore it from a "
            "backup; Draftgate does not repair it"
        )


class DecisionRejected(LedgerError):
    """A decision that breaks a rule (unknown draft, edit without text, reject without reason)."""


class DecidedElsewhereError(DecisionRejected):
    """Another reviewer's decision on the draft is in force (and this is not the blind second
    review the double-review rule allows): the draft is theirs, nothing was saved."""
