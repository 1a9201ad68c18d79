"""The arrows stay one way: ledger/ imports no UI, LLM, rendering or dataset package; export/,
audit/ and review/ import no UI or LLM package; tui/ imports no LLM package."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys

import pytest

from tests.support.builders import REPO_ROOT

LLM_PACKAGES = ("openai", "instructor")
UI_PACKAGES = ("textual",)
# The store is read by every stage; what formats, renders or writes datasets lives in a stage.
STAGE_PACKAGES = ("rich", "pyarrow", "datasets")


def _modules(package: str) -> list[str]:
    folder = REPO_ROOT / package
    if not folder.is_dir():
        return []
    names = [package] if (folder / "__init__.py").exists() else []
    for info in pkgutil.walk_packages([str(folder)], prefix=f"{package}."):
        names.append(info.name)
    return sorted(names)


def _loaded_after_import(modules: list[str], watched: tuple[str, ...]) -> list[str]:
    """Import ``modules`` in a fresh interpreter; return which ``watched`` packages got loaded."""
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(p for p in {watched!r} if p in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return list(json.loads(result.stdout))


def test_ledger_imports_no_ui_or_llm_package() -> None:
    modules = _modules("ledger")
    assert {"ledger", "ledger.store", "ledger.verify", "ledger.migrations"} <= set(modules)
    assert _loaded_after_import(modules, LLM_PACKAGES + UI_PACKAGES + STAGE_PACKAGES) == []


@pytest.mark.parametrize("package", ["export", "audit"])
def test_export_and_audit_import_no_ui_or_llm_package(package: str) -> None:
    modules = _modules(package)
    assert f"{package}.model" in modules or f"{package}.selection" in modules
    assert _loaded_after_import(modules, LLM_PACKAGES + UI_PACKAGES) == []


def test_the_check_would_catch_an_import() -> None:
    # Guard against a vacuous pass: the same probe does see a package that is imported.
    assert _loaded_after_import(["json", "draftgate.cli", "rich"], ("rich",)) == ["rich"]


def test_tui_imports_no_llm_package() -> None:
    modules = _modules("tui")
    if not [m for m in modules if m != "tui"]:
        pytest.skip("tui/ has no modules yet")
    assert _loaded_after_import(modules, LLM_PACKAGES) == []


def _imported_names(package: str) -> set[str]:
    """The top-level names every module of ``package`` imports in its own source."""
    names: set[str] = set()
    for path in (REPO_ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


def test_generator_imports_no_ui_package_nor_the_cli() -> None:
    modules = _modules("generator")
    assert {"generator.pipeline", "generator.kinds", "generator.calls"} <= set(modules)
    # instructor itself loads rich, so only the generator's own imports can be held to it.
    assert {"instructor", "ledger"} <= _imported_names("generator")
    assert _imported_names("generator") & {"rich", "textual", "draftgate", "tui"} == set()
    assert _loaded_after_import(modules, ("textual", "draftgate", "tui")) == []


def test_cli_and_rules_drafter_load_no_llm_package() -> None:
    # A run without an endpoint, `--help` and every other command start without the LLM
    # libraries: the pipeline imports them only for a run that calls a model.
    modules = ["draftgate.cli", "generator.pipeline", "generator.settings", "generator.rules"]
    assert _loaded_after_import(modules, LLM_PACKAGES) == []


def test_review_imports_no_ui_or_llm_package() -> None:
    modules = _modules("review")
    assert {"review", "review.session", "review.worker", "review.events"} <= set(modules)
    forbidden = {"textual", "rich", "openai", "instructor", "tui", "draftgate", "generator"}
    assert "ledger" in _imported_names("review")
    assert _imported_names("review") & forbidden == set()
    assert _loaded_after_import(modules, LLM_PACKAGES + UI_PACKAGES + ("rich",)) == []
