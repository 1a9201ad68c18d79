"""Figures every audit report shows the same way: percentages, short hashes, the headline."""

from __future__ import annotations

from audit.model import Audit, IntegritySummary, VerdictTally

LIST_ROWS_HTML = 200
LIST_ROWS_MARKDOWN = 20
PROVENANCE_HTML_ROWS = 1000
GROUP_HEADERS = ["", "Decisions", "Approved", "Edited", "Rejected", "Edit rate", "Mean distance"]


def pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def short_hash(value: object, keep: int = 12) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= keep + 3 else text[: keep + 3] + "…"


def minute(stamp: object) -> str:
    """'2026-11-22T04:37:59.634Z' -> '2026-11-22 04:37' (the JSON keeps the full time)."""
    text = "" if stamp is None else str(stamp)
    return text[:16].replace("T", " ") if len(text) >= 16 else text


def checked(integrity: IntegritySummary) -> str:
    exports, heads = integrity.exports_checked, integrity.heads_checked
    return (
        f"{exports} export{'' if exports == 1 else 's'} and"
        f" {heads} recorded head{'' if heads == 1 else 's'} checked"
    )


def group_rows(groups: dict[str, VerdictTally]) -> list[list[object]]:
    return [
        [
            key,
            g.decisions,
            g.approved,
            g.edited,
            g.rejected,
            pct(g.edit_rate),
            num(g.mean_edit_distance),
        ]
        for key, g in groups.items()
    ]


def headline(audit: Audit) -> list[tuple[str, str]]:
    """The figures a reader wants first, as (label, value) pairs shared by every format."""
    quality = audit.quality
    overall = quality.edit_rate.overall
    coverage = quality.coverage
    fast = quality.fast_decisions
    duplicates = quality.duplicates
    agreement = quality.agreement
    return [
        ("Exported records", str(len(audit.provenance))),
        ("Signed-off examples", str(quality.totals.signed_off_examples)),
        ("Decisions in force", str(quality.totals.live_decisions)),
        ("Edit rate", pct(overall.edit_rate)),
        ("Mean edit distance", num(overall.mean_edit_distance)),
        (
            "Chunk coverage",
            f"{coverage.chunks_covered}/{coverage.chunks_total} ({pct(coverage.chunk_share)})",
        ),
        ("Fast decisions", f"{fast.fast} ({pct(fast.share)})"),
        ("Clock anomalies (decided before shown)", str(fast.clock_anomalies)),
        (
            "Duplicates",
            f"{duplicates.exact_extra_copies} exact copies,"
            f" {duplicates.near_pair_count} near pairs",
        ),
        ("Contradictions", str(quality.contradictions.count)),
        ("Phantom UI names", str(quality.phantom_references.count)),
        (
            "Reviewer agreement (κ)",
            f"{num(agreement.two_way.kappa)} over {agreement.pairs} pairs",
        ),
    ]
