"""Chunk counts and span checks for docs folders.

    .venv/bin/python bench/chunking.py product_docs ../shared/corpora/*/docs

Per folder: Markdown files read, chunks, chunks whose span starts or ends on a blank line,
chunks with an empty heading path, chunks holding more than one section, and how many chunks'
plain text still shows site markup (``++key++``, ``:::``, ``!!!``, ``<kbd>``, ``<!--``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from generator.chunking import chunk_text, split_lines
from generator.plain import plain_text

_MARKUP = re.compile(r"\+\+\w[\w+-]*\+\+|^:::|^!!! |<kbd>|<!--|<img\b", re.MULTILINE)


def measure(folder: Path) -> dict[str, int]:
    counts = dict.fromkeys(
        (
            "files",
            "chunks",
            "blank_edge",
            "no_heading",
            "multi_section",
            "raw_markup",
            "plain_markup",
        ),
        0,
    )
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in (".md", ".markdown", ".mdx") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        lines = split_lines(text)
        counts["files"] += 1
        for chunk in chunk_text(text, mdx=path.suffix.lower() == ".mdx"):
            counts["chunks"] += 1
            edges = (lines[chunk.start_line - 1], lines[chunk.end_line - 1])
            counts["blank_edge"] += any(not line.strip() for line in edges)
            counts["no_heading"] += not chunk.heading_path
            counts["multi_section"] += len(chunk.sections) > 1
            counts["raw_markup"] += bool(_MARKUP.search(chunk.text))
            counts["plain_markup"] += bool(_MARKUP.search(plain_text(chunk.text)))
    return counts


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    header = ("folder", "files", "chunks", "blank_edge", "no_heading", "multi_section",
              "raw_markup", "plain_markup")  # fmt: skip
    print(" | ".join(header))
    for name in argv:
        counts = measure(Path(name))
        print(" | ".join([name, *(str(counts[h]) for h in header[1:])]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
