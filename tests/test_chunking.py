"""Chunking rules: split by heading, long sections at paragraphs, tiny ones merged, in bounds.

Every chunk's text is exactly its file's lines start..end (blank edges trimmed), except the
documented exception: parts of one overlong line all carry that line's number.
"""

from __future__ import annotations

import random

import pytest

from generator.chunking import MAX_CHUNK_CHARS, MIN_CHUNK_CHARS, chunk_text, document_title
from ledger import ChunkIn

WORDS = [
    "shift",
    "roster",
    "clock",
    "leave",
    "payroll",
    "manager",
    "team",
    "export",
    "invoice",
    "report",
    "schedule",
]


def _sentence(rng: random.Random, words: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences))


def _span(text: str, chunk: ChunkIn) -> str:
    return "\n".join(text.splitlines()[chunk.start_line - 1 : chunk.end_line]).strip("\n")


def assert_well_formed(
    text: str,
    chunks: list[ChunkIn],
    max_chars: int = MAX_CHUNK_CHARS,
    *,
    heading_only_lines_may_be_dropped: bool = False,
) -> None:
    """Bounds, exact line spans, and every non-blank line in a chunk, in order.

    A bare heading that could not merge with its neighbours is left out (documented); its
    line is then covered by no chunk, but its title by the heading path of the next one.
    """
    lines = text.splitlines()
    covered: list[int] = []
    for chunk in chunks:
        assert len(chunk.text) <= max_chars
        assert 1 <= chunk.start_line <= chunk.end_line <= len(lines)
        span = _span(text, chunk)
        edge_lines = (lines[chunk.start_line - 1], lines[chunk.end_line - 1])
        if any(len(line) + 1 > max_chars for line in edge_lines):
            # The exception: a chunk that starts or ends inside an overlong line holds only
            # that line's part, under that line's number.
            assert chunk.text in span
        else:
            assert chunk.text == span
        covered.extend(range(chunk.start_line, chunk.end_line + 1))
    # Spans never overlap or go backwards (an overlong line's parts may share one line).
    starts = [c.start_line for c in chunks]
    assert starts == sorted(starts)
    for before, after in zip(chunks, chunks[1:], strict=False):
        shared_line_is_overlong = len(lines[after.start_line - 1]) + 1 > max_chars
        assert before.end_line < after.start_line or (
            before.end_line == after.start_line and shared_line_is_overlong
        )
    nonblank = {n for n, line in enumerate(lines, start=1) if line.strip()}
    missing = nonblank - set(covered)
    if heading_only_lines_may_be_dropped:
        missing = {n for n in missing if not lines[n - 1].startswith("#")}
    assert not missing


def test_headings_give_nested_paths() -> None:
    rng = random.Random(1)
    text = "\n".join(
        [
            "# Tidepool",
            "",
            _paragraph(rng, 3),
            "",
            "## Billing",
            "",
            _paragraph(rng, 3),
            "",
            "### Invoices",
            "",
            _paragraph(rng, 3),
            "",
            "## Team",
            "",
            _paragraph(rng, 3),
        ]
    )
    chunks = chunk_text(text)
    assert [c.heading_path for c in chunks] == [
        ["Tidepool"],
        ["Tidepool", "Billing"],
        ["Tidepool", "Billing", "Invoices"],
        ["Tidepool", "Team"],
    ]
    assert [c.start_line for c in chunks] == [1, 5, 9, 13]
    assert chunks[1].text.startswith("## Billing\n")
    assert_well_formed(text, chunks)


def test_long_section_splits_at_paragraph_boundaries() -> None:
    rng = random.Random(2)
    paragraphs = [_paragraph(rng, 6) for _ in range(12)]  # ~500 chars each
    text = "## Scheduling\n\n" + "\n\n".join(paragraphs)
    assert len(text) > 2 * MAX_CHUNK_CHARS
    chunks = chunk_text(text)
    assert len(chunks) >= 3
    assert all(c.heading_path == ["Scheduling"] for c in chunks)
    # The heading stays with the paragraph under it, and no paragraph is cut in two.
    assert chunks[0].text.startswith("## Scheduling\n\n" + paragraphs[0])
    for chunk in chunks:
        body = chunk.text.removeprefix("## Scheduling\n\n")
        assert all(part in paragraphs for part in body.split("\n\n"))
    assert all(MIN_CHUNK_CHARS <= len(c.text) <= MAX_CHUNK_CHARS for c in chunks)
    assert_well_formed(text, chunks)


def test_long_paragraph_splits_at_lines_and_long_line_at_spaces() -> None:
    rng = random.Random(3)
    long_lines = [_paragraph(rng, 2) for _ in range(40)]  # one paragraph, no blank lines
    overlong = " ".join(_sentence(rng) for _ in range(60))  # one line > MAX
    assert len(overlong) > MAX_CHUNK_CHARS
    text = "## Limits\n\n" + "\n".join(long_lines) + "\n\n" + overlong + "\n"
    chunks = chunk_text(text)
    assert_well_formed(text, chunks)
    overlong_parts = [c for c in chunks if c.start_line == c.end_line == 44]
    assert len(overlong_parts) >= 2
    # Cut at spaces: rejoined, the parts give the line back.
    assert " ".join(c.text for c in overlong_parts) == overlong


def test_line_without_spaces_is_cut_hard() -> None:
    text = "## Token\n\n" + "x" * (MAX_CHUNK_CHARS * 2 + 10)
    chunks = chunk_text(text)
    assert all(len(c.text) <= MAX_CHUNK_CHARS for c in chunks)
    assert "".join(c.text for c in chunks if c.start_line == 3) == "x" * (MAX_CHUNK_CHARS * 2 + 10)


def test_tiny_sections_merge_into_the_next() -> None:
    rng = random.Random(4)
    text = "\n".join(
        [
            "# Plans",
            "",
            "Short intro.",
            "",
            "## Free",
            "",
            "Up to 5 people.",
            "",
            "## Team",
            "",
            _paragraph(rng, 4),
            "",
            "## Business",
            "",
            _paragraph(rng, 4),
        ]
    )
    chunks = chunk_text(text)
    assert len(chunks) == 2
    # The two tiny sections ride with the fuller one after them; the chunk is labelled with the
    # path they all share and lists each section it holds.
    assert chunks[0].heading_path == ["Plans"]
    assert [(s.start_line, s.heading_path) for s in chunks[0].sections] == [
        (1, ["Plans"]),
        (5, ["Plans", "Free"]),
        (9, ["Plans", "Team"]),
    ]
    assert chunks[0].start_line == 1 and "Short intro." in chunks[0].text
    assert "Up to 5 people." in chunks[0].text
    assert chunks[1].heading_path == ["Plans", "Business"]
    assert_well_formed(text, chunks)


def test_tiny_last_section_merges_into_the_previous() -> None:
    rng = random.Random(5)
    text = "## Webhooks\n\n" + _paragraph(rng, 4) + "\n\n## Note\n\nBeta only.\n"
    chunks = chunk_text(text)
    assert len(chunks) == 1
    assert chunks[0].heading_path == ["Webhooks"]
    assert chunks[0].text.endswith("Beta only.")
    assert_well_formed(text, chunks)


def test_a_document_smaller_than_the_minimum_is_one_chunk() -> None:
    # The documented exception to the lower bound: nothing to merge with.
    chunks = chunk_text("# Tiny\n\nOne line.\n")
    assert [(c.heading_path, c.text) for c in chunks] == [(["Tiny"], "# Tiny\n\nOne line.")]


def test_headings_inside_code_fences_are_text() -> None:
    rng = random.Random(6)
    text = "\n".join(
        ["## Shell", "", _paragraph(rng, 3), "```", "# not a heading", "```", _paragraph(rng, 3)]
    )
    chunks = chunk_text(text)
    assert len(chunks) == 1 and chunks[0].heading_path == ["Shell"]
    assert "# not a heading" in chunks[0].text


def test_plain_text_has_no_headings_and_uses_the_root_heading() -> None:
    rng = random.Random(7)
    text = "# this is not a heading in .txt\n\n" + _paragraph(rng, 5)
    chunks = chunk_text(text, markdown=False, root_heading="release-notes")
    assert len(chunks) == 1
    assert chunks[0].heading_path == ["release-notes"]
    assert chunks[0].text.startswith("# this is not")


def test_blank_text_gives_no_chunks() -> None:
    assert chunk_text("") == []
    assert chunk_text("\n\n   \n") == []


@pytest.mark.parametrize("seed", range(8))
def test_random_documents_are_well_formed(seed: int) -> None:
    rng = random.Random(seed)
    parts = []
    for _ in range(rng.randint(3, 15)):
        parts.append("#" * rng.randint(1, 4) + " " + _sentence(rng, 3))
        for _ in range(rng.randint(0, 6)):
            parts.append(_paragraph(rng, rng.randint(1, 12)))
    text = "\n\n".join(parts) + "\n"
    assert_well_formed(text, chunk_text(text), heading_only_lines_may_be_dropped=True)
    small = chunk_text(text, max_chars=600, min_chars=100)
    assert_well_formed(text, small, max_chars=600, heading_only_lines_may_be_dropped=True)


def test_document_title_is_the_first_h1() -> None:
    assert document_title("intro\n## Sub\n# Main title\n# Second", "fallback") == "Main title"
    assert document_title("## Only h2", "fallback") == "Only h2"
    assert document_title("no heading", "fallback") == "fallback"


@pytest.mark.parametrize(
    ("heading", "title"),
    [
        ("## Using C#", "Using C#"),
        ("## Billing ##", "Billing"),
        ("## Billing #", "Billing"),
        ("## Issue #42 fixed", "Issue #42 fixed"),
        ("### Tabs\t", "Tabs"),
    ],
)
def test_heading_text_keeps_a_trailing_hash_that_is_not_a_closing_sequence(
    heading: str, title: str
) -> None:
    chunks = chunk_text(f"{heading}\n\n" + "Body text. " * 30)
    assert chunks[0].heading_path == [title]
    as_h1 = "# " + heading.lstrip("#").lstrip(" ")
    assert document_title(as_h1, "fallback") == title


def test_a_heading_that_cannot_merge_is_not_a_chunk_of_its_own() -> None:
    # "# Guide" cannot ride with the first, nearly full piece of the long section under it;
    # alone it would be a chunk with nothing to draft from. Its title is still in the
    # heading path of the chunks that follow.
    # Four of these paragraphs fill the first piece to 2392 of 2400 characters.
    paragraph = "Shift roster clock. " * 28 + "x" * 21
    body = "\n\n".join(f"Paragraph {i}. {paragraph}" for i in range(10))
    text = "# Guide\n\n## Intro\n\n" + body
    chunks = chunk_text(text)
    assert all(c.text.strip().lstrip("#").strip() not in ("Guide", "Intro") for c in chunks)
    assert chunks[0].heading_path == ["Guide", "Intro"]
    assert all(c.heading_path[0] == "Guide" for c in chunks)
    assert_well_formed(text, chunks, heading_only_lines_may_be_dropped=True)


def test_a_document_of_headings_only_has_no_chunks() -> None:
    assert chunk_text("# Title\n\n## Section\n") == []
    # ...while in plain text a leading '#' is just text.
    assert len(chunk_text("# Title\n", markdown=False, root_heading="notes")) == 1


def test_a_fence_closes_only_with_its_own_marker() -> None:
    rng = random.Random(8)
    text = "\n".join(
        [
            "## Shell",
            "",
            _paragraph(rng, 3),
            "```markdown",
            "~~~",
            "# inside the block, still code",
            "~~~",
            "```",
            _paragraph(rng, 3),
        ]
    )
    chunks = chunk_text(text)
    assert [c.heading_path for c in chunks] == [["Shell"]]
    assert "# inside the block, still code" in chunks[0].text
