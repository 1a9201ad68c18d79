"""The offline rules drafter: grounded drafts of every kind with no model and no network.

With no endpoint configured, ``draftgate generate`` falls back to these rules. Each rule reads
the plain text of the ledger's current chunks (:mod:`generator.plain`) and the scope file; the
run keys its jobs and records its calls with the LLM runner's builder (:mod:`generator.calls`),
runs the same answer checks (:mod:`generator.checks`) and writes through
``Ledger.record_call``, one call per (chunk, kind) job, so provenance, idempotent reruns and
the review queue work the same way. One module per rule family
(``negative``, ``wrong_ui_name``, ``false_premise``, ``qa``, ``clarify``), a text toolkit
(``text``), the corpus they all read (``corpus``) and the run loop (``run``).

Every evidence quote is an exact substring of the chunk as stored (a quote of the plain text is
widened to the raw span it came from, :func:`generator.plain.raw_quote`), and every draft's
``meta`` says which drafter and rule made it. Same docs and scope in, same drafts out.
"""

from generator.rules.plan import RULES_DRAFTER, RulesReport
from generator.rules.run import ALL_KINDS, RULE_VERSIONS, run_rules_drafter

__all__ = ["ALL_KINDS", "RULES_DRAFTER", "RULE_VERSIONS", "RulesReport", "run_rules_drafter"]
