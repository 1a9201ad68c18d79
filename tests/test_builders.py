from ledger import DraftStatus, Ledger
from tests.support.builders import add_document, add_drafts


def test_builders_make_pending_drafts(ledger: Ledger) -> None:
    chunk_ids = add_document(ledger)
    draft_ids = add_drafts(ledger, chunk_ids[0], count=2)
    assert len(chunk_ids) == 2
    assert len(draft_ids) == 2
    assert all(ledger.draft_status(d) is DraftStatus.PENDING for d in draft_ids)
