"""Reliability at larger trial counts: break things on purpose, count what survived.

Runs every category of tests/reliability/ (the same code the test suite runs with fewer
trials) and prints one row per category: trials, lost, undetected, crashed, seconds.

    PYTHONPATH=. python bench/reliability.py [--only NAME ...] [--scale 1.0] [--seed 1] [--suite]

``--suite`` runs each category at the trial count the test suite uses, to print the table
``make test`` checks.

Exit status 1 when any count is non-zero, so a run can gate a release.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.outcome import Outcome  # noqa: E402

CATEGORY_MODULES = (
    "review_crash",
    "generate_crash",
    "faults",
    "hostile_docs",
    "concurrency",
    "tampering",
    "key_leaks",
    "hostile_config",
    "identity",
    "terminal_escapes",
    "export_interrupt",
    "disk_full",
    "audit_orphans",
    "report_text",
    "review_sessions",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=CATEGORY_MODULES, help="categories to run")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every category's trial count"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for the random moments")
    parser.add_argument(
        "--suite", action="store_true", help="each category's suite trial count (before --scale)"
    )
    args = parser.parse_args()
    outcomes: list[Outcome] = []
    for name in args.only or CATEGORY_MODULES:
        module = importlib.import_module(f"tests.reliability.{name}")
        base = module.SUITE_TRIALS if args.suite else module.BENCH_TRIALS
        trials = max(1, round(base * args.scale))
        with tempfile.TemporaryDirectory(prefix=f"dg-rel-{name}-") as workdir:
            started = time.perf_counter()
            outcome: Outcome = module.run(trials, Path(workdir), args.seed)
            outcome.seconds = time.perf_counter() - started
        outcomes.append(outcome)
        print(f"  {outcome.category}: done in {outcome.seconds:.1f} s", file=sys.stderr)
    print(f"{'category':<28} {'trials':>7} {'lost':>6} {'undetected':>11} {'crashed':>8} {'s':>7}")
    for o in outcomes:
        print(
            f"{o.category:<28} {o.trials:>7} {o.lost:>6} {o.undetected:>11} {o.crashed:>8}"
            f" {o.seconds:>7.1f}"
        )
    for o in outcomes:
        for finding in o.findings:
            print(f"{o.category}: {finding}")
    return 0 if all(o.clean for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
