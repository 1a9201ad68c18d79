"""Terminal escapes in the docs: nothing the review app draws may send a control character to
the reviewer's terminal, and a draft whose stored text holds one is marked on its card.

One trial builds a fresh ledger whose document (its file name too), chunk, draft (question,
answer, evidence, findings) and, on every other trial, reviewer name hold a random mix drawn
from ``random.Random(f"{seed}:{trial}")`` of the sequences a hostile doc can carry: OSC 0
window titles ending in BEL or ST, ``CSI 2J`` screen clears, cursor moves and colours, OSC 8
links, 8-bit C1 CSI, backspace, carriage return, DEL and bidirectional overrides. It opens the
review app at 120x40 or 80x24 under Textual's test driver, takes the screen as the terminal
would get it (``export_screenshot``: every cell the compositor drew) with the card shown, with
the editor open, with the reject form open, and after rejecting with a hostile note and going
back to the decided draft (the note shows on its card).

- undetected: a control character (C0 but newline and tab, DEL, C1, bidi override) in any
  captured screen, or a card without its control-character mark.
- lost: the reject decision missing from the ledger, or its note not stored as the form showed
  it (control characters made visible: a reviewer signs what they see).
- crashed: an exception from the app or the trial, or a settle that never comes.
"""

from __future__ import annotations

import asyncio
import random
import re
import traceback
from pathlib import Path

from textual.widgets import Input, Static

from ledger import DraftIn, DraftKind, Ledger, Verdict
from ledger.text import visible
from tests.reliability.outcome import Outcome
from tests.support.builders import add_document, add_drafts
from tests.support.review import make_app, settle, wait_for_screen
from tui.modals import EditScreen, RejectScreen
from tui.render import CONTROLS_MARK

CATEGORY = "terminal escapes"
SUITE_TRIALS = 4
BENCH_TRIALS = 40
SIZES = ((120, 40), (80, 24))

# What a terminal would act on rather than show.
TERMINAL_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _sequences(rng: random.Random) -> list[str]:
    title = rng.choice(["PWNED", "rm -rf", "Draftgate"])
    return [
        f"\x1b]0;{title}\x07",
        f"\x1b]2;{title}\x1b\\",
        "\x1b[2J",
        "\x1b[H",
        f"\x1b[{rng.randint(1, 40)};{rng.randint(1, 120)}H",
        f"\x1b[{rng.choice([1, 7, 8, 31, 41])}m",
        "\x1b[0m",
        "\x1b]8;;https://example.invalid/x\x1b\\a link\x1b]8;;\x1b\\",
        "\x9b2J",
        "\x9d0;C1 title\x9c",
        "\x08\x08\x08",
        "\r",
        "\x7f",
        "\u202e",
        "\x1bc",
    ]


def hostile(rng: random.Random, words: int) -> str:
    vocab = ["invoice", "team", "export", "shift", "billing", "open", "the", "report"]
    out = []
    for _ in range(words):
        out.append(rng.choice(vocab))
        if rng.random() < 0.4:
            out.append(rng.choice(_sequences(rng)))
    out.append(rng.choice(_sequences(rng)))
    return " ".join(out)


def _leaks(screen: str) -> list[str]:
    return sorted({f"U+{ord(c):04X}" for c in TERMINAL_CONTROLS.findall(screen)})


async def _trial(path: Path, rng: random.Random, trial: int, outcome: Outcome) -> None:
    chunk_body = hostile(rng, 12)
    quote = chunk_body.split(" ", 3)[-1][:40].strip() or chunk_body
    with Ledger.open(path) as ledger:
        chunk_ids = add_document(
            ledger,
            path=f"docs/{hostile(rng, 1)}.md",
            sections=[f"## Billing {hostile(rng, 2)}\n\n{chunk_body}"],
        )
        add_drafts(
            ledger,
            chunk_ids[0],
            [
                DraftIn(
                    kind=DraftKind.QA,
                    question=hostile(rng, 6) + "?",
                    answer=hostile(rng, 10),
                    evidence=[quote],
                    meta={"findings": [{"check": "markup", "detail": hostile(rng, 2)}]},
                )
            ],
        )
    reviewer = "ann" + (hostile(rng, 1) if trial % 2 else "")
    note = hostile(rng, 4)
    size = SIZES[trial % len(SIZES)]
    app = make_app(path, reviewer)
    screens: dict[str, str] = {}
    async with app.run_test(size=size) as pilot:
        await settle(pilot, app)
        screens["card"] = app.export_screenshot()
        card = str(app.query_one_screen().query_one("#card", Static).render())
        if CONTROLS_MARK not in card:
            outcome.miss(f"trial {trial}: the card does not mark the draft's control characters")
        await pilot.press("e")
        await wait_for_screen(pilot, app, EditScreen)
        screens["editor"] = app.export_screenshot()
        await pilot.press("escape")
        await settle(pilot, app)
        await pilot.press("r")
        dialog = await wait_for_screen(pilot, app, RejectScreen)
        await pilot.press("1")
        dialog.query_one("#note", Input).value = note
        screens["reject form"] = app.export_screenshot()
        await pilot.press("enter")
        await settle(pilot, app)
        await pilot.press("p")
        await settle(pilot, app)
        screens["decided card"] = app.export_screenshot()
    for name, screen in screens.items():
        leaks = _leaks(screen)
        if leaks:
            outcome.miss(f"trial {trial} {size}: {name} sent {', '.join(leaks)} to the terminal")
    with Ledger.open(path) as ledger:
        rejects = [d for d in ledger.iter_decisions() if d.verdict is Verdict.REJECT]
    # A note is stored as the reviewer saw it in the form: controls made visible.
    if len(rejects) != 1 or rejects[0].note != visible(note).strip():
        outcome.lose(f"trial {trial}: the reject with its note as shown is not in the ledger")


def run(trials: int, workdir: Path, seed: int) -> Outcome:
    outcome = Outcome(CATEGORY)
    for trial in range(trials):
        outcome.trials += 1
        rng = random.Random(f"{seed}:{trial}")
        path = workdir / f"trial-{trial}" / "ledger.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            asyncio.run(_trial(path, rng, trial, outcome))
        except Exception:  # noqa: BLE001 - a crash is counted, not raised
            outcome.crash(f"trial {trial}: {traceback.format_exc(limit=3)}")
    return outcome
