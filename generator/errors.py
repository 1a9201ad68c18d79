"""What a generate run can fail on that the user can act on; the CLI gives each an exit code."""

from __future__ import annotations


class GenerateError(Exception):
    """A generate run could not start or finish: one line for the user."""


class SettingsError(GenerateError):
    """A setting (from the config file or the command line) has a value no run can use."""


class InputError(GenerateError):
    """The docs, scope or prompt templates cannot be used as they are."""


class NoChunksError(InputError):
    """The ledger holds no ingested docs to draft from."""


class EndpointError(GenerateError):
    """The endpoint cannot be used at all (unauthorised, unreachable)."""


class ServerGoneError(EndpointError):
    """The server answered, then refused or dropped connection after connection: it has most
    likely crashed, and every call left would fail the same way."""


class NoWorkingModeError(EndpointError):
    """The endpoint took none of the structured-output modes (``draftgate check``)."""
