"""The draft kinds the generator knows, in one table keyed by ``DraftKind``.

Every list of kinds in the generator and the CLI (the reply model a call validates against,
the subtypes a chunk is drafted for, the prompt template, the rules drafter's rule) is read
from here, so a new kind is one row.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.schemas import (
    AdversarialReply,
    ClarifyReply,
    NegativeReply,
    QAReply,
    ReplyModel,
)
from ledger.models import AdversarialSubtype, DraftKind


@dataclass(frozen=True)
class KindSpec:
    kind: DraftKind
    reply_model: ReplyModel
    # One job per subtype and chunk; ``None`` is the kind's only job when it has no subtypes.
    subtypes: tuple[str | None, ...]
    template_name: str  # the prompt template in the prompts folder
    rule_name: str  # the rules drafter's template name, recorded on its calls


def _spec(kind: DraftKind, reply_model: ReplyModel, subtypes: tuple[str | None, ...]) -> KindSpec:
    return KindSpec(kind, reply_model, subtypes, f"{kind.value}.j2", f"rules/{kind.value}")


KINDS: dict[DraftKind, KindSpec] = {
    DraftKind.QA: _spec(DraftKind.QA, QAReply, (None,)),
    DraftKind.NEGATIVE: _spec(DraftKind.NEGATIVE, NegativeReply, (None,)),
    DraftKind.ADVERSARIAL: _spec(
        DraftKind.ADVERSARIAL, AdversarialReply, tuple(s.value for s in AdversarialSubtype)
    ),
    DraftKind.CLARIFY: _spec(DraftKind.CLARIFY, ClarifyReply, (None,)),
}

KIND_NAMES: tuple[str, ...] = tuple(kind.value for kind in DraftKind)


def spec_of(kind: str | DraftKind) -> KindSpec:
    """The row of ``kind``; ValueError for a name that is not a draft kind."""
    return KINDS[DraftKind(kind)]
