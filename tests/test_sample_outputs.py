"""The sample product's exports and audit reports stay the same: data files byte for byte,
manifests but for export id and time, reports but for timestamps and ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.sample_outputs import (
    AUDIT_FORMATS,
    EXPORT_FORMATS,
    GOLDEN,
    SAMPLE_LEDGER,
    observed,
)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> dict:
    assert SAMPLE_LEDGER.is_file()
    return observed(Path(tmp_path_factory.mktemp("sample")))


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_export_data_files_are_byte_identical(rebuilt: dict, golden: dict, fmt: str) -> None:
    assert golden["data_sha256"][fmt], "the golden file lists no data files"
    assert rebuilt["data_sha256"][fmt] == golden["data_sha256"][fmt]


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_manifest_is_the_same_but_for_id_and_time(rebuilt: dict, golden: dict, fmt: str) -> None:
    assert golden["manifests"][fmt]["record_count"] > 0
    assert rebuilt["manifests"][fmt] == golden["manifests"][fmt]


@pytest.mark.parametrize("fmt", AUDIT_FORMATS)
def test_audit_report_is_the_same_but_for_times_and_ids(
    rebuilt: dict, golden: dict, fmt: str
) -> None:
    assert rebuilt["reports"][fmt] == golden["reports"][fmt]
