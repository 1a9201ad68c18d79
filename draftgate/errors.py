"""The errors a command ends in with one stderr line and a documented exit code.

Kept apart from the config and context modules so the CLI can catch them without importing
pydantic or the ledger first (cold start).
"""

from __future__ import annotations

from draftgate.exit_codes import ExitCode


class UserInputError(Exception):
    """A problem the user can fix (bad config, bad option): one line, exit code BAD_INPUT."""


class CommandError(Exception):
    """A failure the user can act on, with the exit code it ends in."""

    def __init__(self, message: str, code: ExitCode = ExitCode.BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code
