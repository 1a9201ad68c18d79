"""Precision and recall of ``draftgate init``'s glossary candidates against hand-made lists.

    .venv/bin/python bench/init_glossary.py product_docs ../shared/corpora/*/docs

A folder's truth list is ``bench/data/init_glossary/<name>.txt``, where ``<name>`` is the
folder's name, or its parent's when the folder is called ``docs``. Names match ignoring case,
spacing, quotes and ``**``; a path also matches written with ``->`` or ``→``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from generator.init_scope import draft_scope

DATA = Path(__file__).parent / "data" / "init_glossary"


def normalise(name: str) -> str:
    name = re.sub(r"\s+", " ", name.replace("**", "")).strip(" \"'“”.…").lower()
    if name.startswith("<") and name.endswith(">"):
        return name  # key notation (<c-r>), not a path
    return re.sub(r"\s*(?:>|→|->)\s*", " > ", name)


def truth_for(folder: Path) -> tuple[str, set[str]] | None:
    name = folder.resolve().parent.name if folder.resolve().name == "docs" else folder.name
    path = DATA / f"{name}.txt"
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    return name, {normalise(x) for x in lines if x.strip() and not x.startswith("#")}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    print(
        f"{'corpus':<14} {'candidates':>10} {'truth':>6} {'hits':>5} {'precision':>9} {'recall':>7}"
    )
    for arg in argv:
        folder = Path(arg)
        found = truth_for(folder)
        if found is None:
            print(f"{arg}: no truth list in {DATA}", file=sys.stderr)
            continue
        name, truth = found
        candidates = {normalise(n) for n in draft_scope(folder).glossary_names()}
        hits = candidates & truth
        precision = len(hits) / len(candidates) if candidates else 0.0
        recall = len(hits) / len(truth) if truth else 0.0
        print(
            f"{name:<14} {len(candidates):>10} {len(truth):>6} {len(hits):>5} "
            f"{precision:>9.2f} {recall:>7.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
