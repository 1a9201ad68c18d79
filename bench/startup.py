"""Cold start: `draftgate --help` and `draftgate status` against a bare `python -c pass`.

Each round runs the three commands once each, in turn, so a load that comes and goes hits
them alike; the medians and the ratios to `python -c pass` are printed at the end.

    PYTHONPATH=. python bench/startup.py [--rounds 15]

Target: both commands at most 8x `python -c pass` (median).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 8.0


# A user's Python keeps compiled bytecode; a shell that turns that off would time compiling
# every module instead of starting Draftgate.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="runs of each command (default: 15)")
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ledger = work / "ledger.sqlite"
        draftgate = [python, "-m", "draftgate", "--ledger", str(ledger)]
        subprocess.run(
            [*draftgate, "ingest", str(REPO / "product_docs")],
            cwd=work,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        commands = {
            "python -c pass": [python, "-c", "pass"],
            "draftgate --help": [python, "-m", "draftgate", "--help"],
            "draftgate status": [*draftgate, "status"],
        }
        for command in commands.values():
            timed(command, work)  # warm-up: writes bytecode, fills the OS file cache
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                times[name].append(timed(command, work))
    floor = statistics.median(times["python -c pass"])
    print(f"{'command':<20} {'median ms':>10} {'x python -c pass':>17}")
    worst = 0.0
    for name, samples in times.items():
        median = statistics.median(samples)
        ratio = median / floor
        if name != "python -c pass":
            worst = max(worst, ratio)
        print(f"{name:<20} {median * 1000:>10.1f} {ratio:>17.1f}")
    verdict = "meets" if worst <= TARGET_RATIO else "misses"
    print(f"worst ratio {worst:.1f} ({verdict} the target of {TARGET_RATIO:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
