"""One exit-code enum for every command; `draftgate --help` prints it."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTEGRITY = 1  # verify/audit found a break, or an export failed its own checks
    USAGE = 2  # bad command line (argparse's own code)
    BAD_INPUT = 3  # missing docs folder, bad config file, bad option value
    LEDGER = 4  # ledger file foreign, newer, locked or not writable
    ENDPOINT = 5  # LLM endpoint unreachable, unauthorised or misconfigured
    INCOMPLETE = 6  # work finished but some of it failed (e.g. generation calls)
    BELOW_MIN_PASS = 7  # a probe run's pass rate fell below --min-pass
    INTERRUPTED = 130  # Ctrl-C


DESCRIPTIONS = {
    ExitCode.OK: "success",
    ExitCode.INTEGRITY: "integrity check failed (verify or audit found a break)",
    ExitCode.USAGE: "bad command line",
    ExitCode.BAD_INPUT: "bad input: missing docs folder, bad config or option value",
    ExitCode.LEDGER: "ledger problem: not a Draftgate ledger, newer version, locked, not writable",
    ExitCode.ENDPOINT: "LLM endpoint problem: unreachable, unauthorised or misconfigured",
    ExitCode.INCOMPLETE: "finished, but some work failed (details in the summary)",
    ExitCode.BELOW_MIN_PASS: "probe: the model's pass rate is below --min-pass",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C); finished work is kept",
}


def exit_code_help() -> str:
    return "exit codes:\n" + "\n".join(
        f"  {int(code):<4} {DESCRIPTIONS[code]}" for code in ExitCode
    )
