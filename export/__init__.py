"""The door out: signed-off drafts as training data, with a manifest, recorded in the ledger.

``export(ledger, ExportOptions(...))`` selects the signed-off records (``export.selection``),
writes them in one format (``export.records``, ``export.writers``) beside a manifest
(``export.manifest``), and records the export in the ledger (``export.recording``).
"""

from export.errors import ExportError, ExportRefused
from export.manifest import MANIFEST_NAME, file_hash
from export.preference import DEFAULT_MIN_EDIT_DISTANCE, PREFERENCE_FORMATS
from export.recording import recorded_exports
from export.records import EXPORT_FORMATS, SPLITS
from export.run import ExportOptions, ExportResult, export
from export.selection import Balance, parse_balance
from export.writers import HF_DATASET_DIR

__all__ = [
    "DEFAULT_MIN_EDIT_DISTANCE",
    "EXPORT_FORMATS",
    "HF_DATASET_DIR",
    "MANIFEST_NAME",
    "PREFERENCE_FORMATS",
    "SPLITS",
    "Balance",
    "ExportError",
    "ExportOptions",
    "ExportRefused",
    "ExportResult",
    "export",
    "file_hash",
    "parse_balance",
    "recorded_exports",
]
