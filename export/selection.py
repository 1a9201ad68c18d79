"""Which signed-off records an export takes, and into which split.

A draft leaves only when its latest live decision is an approve or an edit by a named reviewer
(views ``draft_status`` and ``live_decisions``); an edit leaves with its final text. There is no
option to include anything else. A stale draft (its source changed since it was drafted) is left
out unless ``include_stale``.

The train/eval split is a hash threshold per record (see ``position``): a record's split
depends only on the seed and its draft id, so adding unrelated drafts never moves it. Strata
are (kind, source document); ``--balance`` caps kinds by the same kind of hash position.

``--hold-out F`` keeps a share F of each kind out of both splits, for ``draftgate probe`` to
ask a tuned model what it never trained on: per kind and subtype, the round(F * n) records with
the lowest hold-out position (a hash of the draft id alone, not the seed), listed in the
manifest.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from export.errors import ExportError
from ledger import Ledger

# 2**64: split and balance positions are the first 8 bytes of a blake2b digest as an integer.
POSITION_SPACE = 1 << 64


@dataclass(frozen=True)
class Balance:
    """Per-kind caps (``qa=500``) or a target mix (``qa=0.7,negative=0.3``)."""

    caps: dict[str, int] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"caps": self.caps} if self.caps else {"ratios": self.ratios}


def parse_balance(text: str) -> Balance:
    """``kind=N,...`` caps each kind at N records; ``kind=0.7,...`` (any value with a decimal
    point) is a target mix among the named kinds, normalised. Unnamed kinds are not capped."""
    pairs: dict[str, str] = {}
    for part in text.split(","):
        kind, sep, value = part.partition("=")
        if not sep or not kind.strip() or not value.strip():
            raise ExportError(f"--balance: {part!r} is not kind=value")
        pairs[kind.strip()] = value.strip()
    if any("." in v for v in pairs.values()):
        try:
            ratios = {k: float(v) for k, v in pairs.items()}
        except ValueError as exc:
            raise ExportError(f"--balance: not a number: {exc}") from exc
        # float() reads "nan" and "inf"; neither is a share of a mix.
        if not all(math.isfinite(r) for r in ratios.values()):
            raise ExportError("--balance: ratios must be finite numbers")
        if any(r < 0 for r in ratios.values()) or sum(ratios.values()) <= 0:
            raise ExportError("--balance: ratios must be non-negative and not all zero")
        total = sum(ratios.values())
        return Balance(ratios={k: r / total for k, r in ratios.items()})
    try:
        caps = {k: int(v) for k, v in pairs.items()}
    except ValueError as exc:
        raise ExportError(f"--balance: not a whole number: {exc}") from exc
    if any(c < 0 for c in caps.values()):
        raise ExportError("--balance: caps must be non-negative")
    return Balance(caps=caps)


def caps_for(balance: Balance | None, counts: dict[str, int]) -> dict[str, int]:
    """Resolve a balance into a cap per kind, given how many signed-off records each kind has.

    For a mix, the largest set that keeps the mix is taken: total T = min(n_k / w_k), and kind
    k keeps floor(w_k * T) records.
    """
    if balance is None:
        return {}
    if balance.caps:
        return dict(balance.caps)
    weighted = {k: w for k, w in balance.ratios.items() if w > 0}
    total = min((counts.get(k, 0) / w for k, w in weighted.items()), default=0.0)
    return {k: int(balance.ratios[k] * total + 1e-9) for k in balance.ratios}


def position(seed: int, purpose: str, draft_id: str) -> int:
    """A draft's fixed place in [0, 2**64) for one purpose ("split" or "balance")."""
    digest = hashlib.blake2b(f"{seed}:{purpose}:{draft_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def hold_out_position(draft_id: str) -> int:
    """A draft's place for the hold-out: the same whatever the seed, so exports that differ
    only in their split hold the same drafts out."""
    return position(0, "hold_out", draft_id)


def _hold_out_ids(ledger: Ledger, options: SelectionOptions) -> frozenset[str]:
    """Per (kind, subtype), the round(hold_out * n) of its n signed-off records with the lowest
    hold-out positions."""
    positions: dict[tuple[str, str | None], list[tuple[int, str]]] = {}
    records = ledger.iter_signed_off_records(options.kinds, include_stale=options.include_stale)
    for record in records:
        group = positions.setdefault((record.kind, record.subtype), [])
        group.append((hold_out_position(record.draft_id), record.draft_id))
    held: set[str] = set()
    for found in positions.values():
        count = int(options.hold_out * len(found) + 0.5)
        held.update(draft_id for _, draft_id in sorted(found)[:count])
    return frozenset(held)


def min_stratum_for_eval(eval_fraction: float) -> int:
    """The smallest stratum that must hold at least one eval record: one where the expected
    number of eval records, n * fraction, reaches 1."""
    if eval_fraction <= 0:
        return sys.maxsize
    return max(1, int(1 / eval_fraction + 0.999999))


class SelectionOptions(Protocol):
    """What decides the selection: which kinds, the split, the caps."""

    @property
    def kinds(self) -> tuple[str, ...] | None: ...
    @property
    def eval_fraction(self) -> float: ...
    @property
    def seed(self) -> int: ...
    @property
    def balance(self) -> Balance | None: ...
    @property
    def include_stale(self) -> bool: ...
    @property
    def hold_out(self) -> float: ...


@dataclass
class ExportPlan:
    """What the cheap id-only passes decide before any file is written."""

    kind_cutoff: dict[str, int]  # keep a record of kind k when its balance position < cutoff
    forced_eval: set[str]  # one draft per stratum that the threshold left without eval records
    threshold: int  # split position below which a record goes to eval
    record_count: int  # records the export will write
    # drafts kept out of both splits (--hold-out), for probing
    held_out: frozenset[str] = frozenset()


# (draft id, kind, source document) of each record an export may write, read afresh per pass.
KeyPass = Callable[[], Iterable[tuple[str, str, str]]]


def plan_export(
    ledger: Ledger, options: SelectionOptions, keys: KeyPass | None = None
) -> ExportPlan:
    """Id-only passes: one without --balance, three with a cap that binds. ``keys`` gives the
    records to plan for (default: every signed-off draft; a preference export passes its
    pairs)."""
    if keys is None:

        def keys() -> Iterable[tuple[str, str, str]]:
            return ledger.iter_signed_off_keys(options.kinds, include_stale=options.include_stale)

    hold = _hold_out_ids(ledger, options) if options.hold_out > 0 else frozenset()
    if hold:
        every = keys

        def keys() -> Iterable[tuple[str, str, str]]:
            return (key for key in every() if key[0] not in hold)

    counts, strata = _strata_pass(keys, options, {})
    caps = caps_for(options.balance, counts)
    binding = {k: c for k, c in caps.items() if c < counts.get(k, 0)}
    cutoff: dict[str, int] = {}
    if binding:
        cutoff = _balance_cutoffs(keys, options, binding)
        _, strata = _strata_pass(keys, options, cutoff)
    threshold = int(options.eval_fraction * POSITION_SPACE)
    # Small strata: a (kind, document) stratum big enough to expect an eval record but whose
    # records all fell above the threshold sends its lowest-positioned record to eval.
    need = min_stratum_for_eval(options.eval_fraction)
    forced = {
        stratum.lowest_id
        for stratum in strata.values()
        if stratum.size >= need and stratum.lowest >= threshold
    }
    return ExportPlan(
        kind_cutoff=cutoff,
        forced_eval=forced,
        threshold=threshold,
        record_count=sum(stratum.size for stratum in strata.values()),
        held_out=hold,
    )


@dataclass
class _Stratum:
    size: int = 0
    lowest: int = POSITION_SPACE  # the lowest split position among its records
    lowest_id: str = ""


def _strata_pass(
    keys: KeyPass, options: SelectionOptions, cutoff: dict[str, int]
) -> tuple[dict[str, int], dict[tuple[str, str], _Stratum]]:
    """Signed-off records per kind, and per (kind, document) stratum its size and lowest split
    position, keeping only records under their kind's balance cutoff."""
    counts: Counter[str] = Counter()
    strata: dict[tuple[str, str], _Stratum] = {}
    for draft_id_, kind, path in keys():
        if kind in cutoff and position(options.seed, "balance", draft_id_) >= cutoff[kind]:
            continue
        counts[kind] += 1
        stratum = strata.setdefault((kind, path), _Stratum())
        stratum.size += 1
        pos = position(options.seed, "split", draft_id_)
        if pos < stratum.lowest:
            stratum.lowest, stratum.lowest_id = pos, draft_id_
    return dict(counts), strata


def _balance_cutoffs(
    keys: KeyPass, options: SelectionOptions, binding: dict[str, int]
) -> dict[str, int]:
    """Per capped kind, the balance position under which exactly `cap` records fall.

    A max-heap of the `cap` lowest positions: memory is bounded by the cap, not the ledger.
    """
    heaps: dict[str, list[int]] = {k: [] for k in binding}
    for draft_id_, kind, _ in keys():
        cap = binding.get(kind)
        if not cap:
            continue
        heap = heaps[kind]
        pos = -position(options.seed, "balance", draft_id_)
        if len(heap) < cap:
            heapq.heappush(heap, pos)
        elif pos > heap[0]:
            heapq.heapreplace(heap, pos)
    return {k: (-heap[0] + 1 if heap else 0) for k, heap in heaps.items()}
