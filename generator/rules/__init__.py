"""The offline rules drafter: grounded drafts of every kind with no model and no network.

With no endpoint configured, ``draftgate generate`` falls back to these rules. Each rule reads
the ledger's current chunks (and the scope file) and writes drafts through the same
``Ledger.record_call`` path as the LLM runner, one call per (chunk, kind) job, so provenance,
idempotent reruns and the review queue work the same way. One module per rule family
(``negative``, ``wrong_ui_name``, ``false_premise``, ``qa``, ``clarify``), a text toolkit
(``text``), the corpus they all read (``corpus``) and the run loop (``run``).

Every evidence quote is an exact substring of the chunk it is attached to, and every draft's
``meta`` says which drafter and rule made it. Same docs and scope in, same drafts out.
"""

from generator.rules.plan import RULES_DRAFTER, RulesReport
from generator.rules.run import ALL_KINDS, RULE_VERSIONS, run_rules_drafter

__all__ = ["ALL_KINDS", "RULES_DRAFTER", "RULE_VERSIONS", "RulesReport", "run_rules_drafter"]
