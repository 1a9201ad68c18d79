"""The scope file: what the product offers, what it explicitly does not, and its real UI names.

``product_docs/scope.toml`` (see the README for the format) is the ground truth that negatives
and wrong-UI-name adversarials are checked against.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from generator.userfiles import UserFileError, read_user_text

SCOPE_FILE = "scope.toml"


class ScopeError(Exception):
    """The scope file is missing, not TOML, or not of the expected shape: one line."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Product(_Model):
    name: str
    summary: str = ""
    # One line: what the product is for ("personal budgeting", "a git terminal UI"). Out-of-scope
    # drafts use it to tell a question the product answers from one it does not.
    domain: str = ""


class AbsentFeature(_Model):
    feature: str = Field(min_length=1)
    # Phrases that would show the feature IS offered if the docs contained them.
    search_terms: list[str] = Field(default_factory=list)
    # What the product offers instead (a true statement in the docs). Optional: without it a
    # negative is a plain, friendly no.
    instead: str = ""

    def all_terms(self) -> list[str]:
        terms = [self.feature, *self.search_terms]
        return list(dict.fromkeys(t.strip() for t in terms if t.strip()))


class Glossary(_Model):
    pages: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)
    buttons: list[str] = Field(default_factory=list)
    # Key bindings as the docs write them ("Ctrl+S", "space", "<c-r>").
    keys: list[str] = Field(default_factory=list)
    # Command-palette or CLI commands ("lazygit --version", "New request").
    commands: list[str] = Field(default_factory=list)
    # The real name of the page people land on first ("Overview", "Status panel"), if any.
    home: str = ""

    def names(self) -> list[str]:
        home = [self.home] if self.home else []
        return [*home, *self.pages, *self.paths, *self.buttons, *self.keys, *self.commands]


class Scope(_Model):
    product: Product
    offers: list[str] = Field(default_factory=list)
    does_not_offer: list[AbsentFeature] = Field(default_factory=list)
    glossary: Glossary = Field(default_factory=Glossary)


def scope_path_for(docs_dir: str | Path, explicit: str | None = None) -> Path:
    return Path(explicit) if explicit else Path(docs_dir) / SCOPE_FILE


def load_scope(path: str | Path) -> Scope:
    scope_file = Path(path)
    if not os.path.lexists(scope_file):
        raise ScopeError(f"scope file not found: {scope_file}")
    try:
        data = tomllib.loads(read_user_text(scope_file))
    except UserFileError as exc:
        raise ScopeError(f"scope file {scope_file}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScopeError(f"{scope_file}: not valid TOML: {exc}") from exc
    try:
        return Scope.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ScopeError(f"{scope_file}: {where}: {first['msg']}") from exc
