"""Render the prompt for one drafting job from the Jinja2 templates in ``prompts/``.

A template's identity is the hash of its text (plus the system prompt and the shared chunk
partial it includes), so changing a prompt changes every job key that uses it and a rerun
drafts again with the new prompt; the file name is only for people.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from generator.checks import phrases_of_template
from generator.kinds import spec_of
from generator.scope import Scope
from generator.userfiles import UserFileError, read_user_text
from ledger.ids import text_hash

PROMPTS_ENV = "DRAFTGATE_PROMPTS"
SYSTEM_TEMPLATE = "system.j2"
CHUNK_PARTIAL = "_chunk.j2"
# What the product is and its real UI names: included by the system prompt, so every kind's
# call carries it, and it is the same for every call of a run (a shared prompt prefix).
PRODUCT_PARTIAL = "_product.j2"
PARTIALS = (SYSTEM_TEMPLATE, PRODUCT_PARTIAL, CHUNK_PARTIAL)

Message = dict[str, str]

# The markers that fence a chunk's text in ``_chunk.j2``. Doc text that contains one would open
# or close the fence early, so it is rendered with a zero-width space inside the marker.
FENCE_MARKERS = ("<<<DOC", "DOC>>>")
_ZERO_WIDTH_SPACE = "\u200b"


def default_prompts_dir() -> Path:
    configured = os.environ.get(PROMPTS_ENV)
    return Path(configured) if configured else Path(__file__).resolve().parents[1] / "prompts"


class PromptsError(Exception):
    """The prompts folder or one of its templates cannot be used: one line."""


@dataclass(frozen=True)
class RenderedPrompt:
    messages: list[Message]
    template_name: str
    template_hash: str
    # The templates' own wording (``PromptSet.prompt_phrases``): an answer repeating it is
    # prompt text, not docs text.
    prompt_phrases: tuple[str, ...] = ()


class PromptSet:
    """The templates of one prompts folder, loaded once."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or default_prompts_dir()
        # StrictUndefined: a misspelt variable is an error, not a silently empty prompt.
        # No autoescape: prompts are plain text, and doc text is inserted as a value, never
        # parsed as template syntax.
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.folder)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )

    def check(self, kinds: Iterable[str]) -> None:
        """Every template ``kinds`` need exists, is a readable regular file and parses; else
        PromptsError naming the file (and line). Run before any job is planned, so a bad
        template is one line at the start, not a traceback after the first call."""
        if not self.folder.is_dir():
            raise PromptsError(f"prompts folder {self.folder} does not exist or is not a folder")
        for name in (*PARTIALS, *(spec_of(k).template_name for k in kinds)):
            path = self.folder / name
            try:
                self.env.parse(read_user_text(path), name, str(path))
            except UserFileError as exc:
                raise PromptsError(f"prompt template {path}: {exc}") from exc
            except jinja2.TemplateSyntaxError as exc:
                raise PromptsError(
                    f"prompt template {path}: line {exc.lineno}: {exc.message}"
                ) from exc

    def source(self, name: str) -> str:
        return (self.folder / name).read_text(encoding="utf-8")

    @lru_cache(maxsize=16)  # noqa: B019 - one PromptSet per run; the cache dies with it
    def template_hash(self, kind: str) -> str:
        parts = self.templates_of(kind)
        return text_hash("\n\x00\n".join(f"{name}\n{self.source(name)}" for name in parts))

    def templates_of(self, kind: str) -> list[str]:
        """The template files a ``kind`` job's prompt is rendered from."""
        return [*PARTIALS, spec_of(kind).template_name]

    @lru_cache(maxsize=16)  # noqa: B019 - one PromptSet per run; the cache dies with it
    def prompt_phrases(self, kind: str) -> tuple[str, ...]:
        """The phrases of the templates a ``kind`` job is rendered from, without any value
        put into them: what an answer copied from the prompt rather than the docs repeats."""
        phrases = (phrases_of_template(self.source(n)) for n in self.templates_of(kind))
        return tuple(dict.fromkeys(p for group in phrases for p in group))

    def render(self, kind: str, variables: dict[str, Any]) -> RenderedPrompt:
        name = spec_of(kind).template_name
        # Every string value may come from the docs (chunk text, heading, file name, and
        # glossary names found in the docs), alone or in a list.
        variables = {key: _defused(value) for key, value in variables.items()}
        try:
            system = self.env.get_template(SYSTEM_TEMPLATE).render(**variables)
            user = self.env.get_template(name).render(**variables)
        except jinja2.TemplateError as exc:
            # An undefined variable (StrictUndefined), an include of a missing file: found
            # only when rendering, and just as much the template's fault as a syntax error.
            raise PromptsError(f"prompt template {self.folder / name}: {exc}") from exc
        return RenderedPrompt(
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            template_name=name,
            template_hash=self.template_hash(kind),
            prompt_phrases=self.prompt_phrases(kind),
        )


def scope_variables(scope: Scope) -> dict[str, Any]:
    """The template variables that describe the product, the same for every job of a run."""
    glossary = scope.glossary
    return {
        "product_name": scope.product.name,
        "product_summary": scope.product.summary,
        "product_domain": scope.product.domain,
        "offers": list(scope.offers),
        "absent_features": list(scope.does_not_offer),
        "glossary": glossary.names(),
        "glossary_home": glossary.home,
        "glossary_pages": list(glossary.pages),
        "glossary_paths": list(glossary.paths),
        "glossary_buttons": list(glossary.buttons),
        "glossary_keys": list(glossary.keys),
        "glossary_commands": list(glossary.commands),
    }


def _defused(value: Any) -> Any:
    if isinstance(value, str):
        return defuse_fence(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [defuse_fence(item) for item in value]
    return value


def defuse_fence(text: str) -> str:
    """``text`` with every ``<<<DOC`` and ``DOC>>>`` broken by a zero-width space
    (``<<<\u200bDOC``, ``DOC\u200b>>>``), so doc text cannot end the data fence early and have
    what follows read as instructions. The stored chunk text is unchanged; only the prompt
    differs, by characters a reader does not see."""
    opener, closer = FENCE_MARKERS
    text = text.replace(opener, opener[:3] + _ZERO_WIDTH_SPACE + opener[3:])
    return text.replace(closer, closer[:3] + _ZERO_WIDTH_SPACE + closer[3:])


def protect_from_templating(text: str) -> str:
    """Make ``text`` render to itself under Jinja2.

    instructor renders every message as a Jinja2 template whenever a validation ``context`` is
    passed. Doc text containing ``{{``/``{%`` would then be evaluated (or fail to parse), so the
    fenced data would not be data. Wrapping in a raw block, with every ``{%`` inside moved out
    into an expression, makes the rendering an identity.
    """
    escaped = text.replace("{%", "{% endraw %}{{ '{%' }}{% raw %}")
    return "{% raw %}" + escaped + "{% endraw %}"
