"""Where each file of an export sits, so that a loader pointed at the folder reads only data.

Data files live under ``data/`` named ``{split}-00000-of-00001.{ext}``: the sharded name the
Hub uses, which ``datasets.load_dataset`` (3.x and later) tries before any other pattern and
which carries the split name through unchanged. So ``load_dataset(folder)``, a Hub repo the
folder was pushed to, and ``load_from_disk(folder / "dataset")`` all name the splits
``train`` and ``validation``. The manifest, the trainer recipes (``dataset_info.json`` for
LLaMA-Factory, ``axolotl.yaml``) and the ``hf`` format's ``dataset/`` copy sit beside
``data/``, where no loader looks for data.

Layout 1 (manifest version 1) wrote ``train.jsonl``/``eval.jsonl`` at the top of the folder;
the audit still reads it, from the file list in its manifest.
"""

from __future__ import annotations

DATA_DIR = "data"
LAYOUT_VERSION = 2


def data_file(split: str, ext: str) -> str:
    """The relative path of one split's data file."""
    return f"{DATA_DIR}/{split}-00000-of-00001.{ext}"


def data_ext(fmt: str) -> str:
    return "parquet" if fmt == "hf" else "jsonl"


def legacy_data_file(split: str, ext: str) -> str:
    """Where layout 1 put a split's data file."""
    return f"{split}.{ext}"
