"""Trainer recipes written beside every export's data: a LLaMA-Factory ``dataset_info.json``
and an axolotl ``datasets:`` block, each mapping every column the trainer needs.

What each trainer needs (checked against the trainers themselves by ``make compat-trainers``):

- LLaMA-Factory keeps an Alpaca system prompt only when instruction, input, output and system
  are all mapped; chat files need ``formatting: sharegpt`` with the role and content tags of
  the file (``from``/``value`` and human/gpt for ShareGPT, ``role``/``content`` and
  user/assistant for OpenAI-style ``messages``), plus the system tag so a leading system turn
  becomes the system prompt.
- axolotl reads chat files with ``type: chat_template``, ``field_messages`` and a role/content
  mapping (its ``sharegpt`` type is refused), and Alpaca files with ``alpaca_w_system``, which
  needs a ``system`` key on every line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from export.records import EVAL_SPLIT

LLAMA_FACTORY_INFO = "dataset_info.json"
AXOLOTL_CONFIG = "axolotl.yaml"
RECIPE_FILES = (LLAMA_FACTORY_INFO, AXOLOTL_CONFIG)
# The name the dataset goes by in dataset_info.json (its validation split: "<name>_validation").
DATASET_NAME = "draftgate"

# Per format: the field holding the turns, its role and content keys, and the role names.
_CHAT_SHAPES: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "openai": ("messages", "role", "content", {"user": "user", "assistant": "assistant"}),
    "hf": ("messages", "role", "content", {"user": "user", "assistant": "assistant"}),
    "sharegpt": ("conversations", "from", "value", {"user": "human", "assistant": "gpt"}),
}


def llama_factory_entry(fmt: str, file_name: str) -> dict[str, Any]:
    """One ``dataset_info.json`` entry reading ``file_name`` (relative to the export folder,
    which is LLaMA-Factory's ``dataset_dir``)."""
    if fmt == "alpaca":
        return {
            "file_name": file_name,
            "formatting": "alpaca",
            "columns": {
                "prompt": "instruction",
                "query": "input",
                "response": "output",
                "system": "system",
            },
        }
    field, role_key, content_key, roles = _CHAT_SHAPES[fmt]
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": field},
        "tags": {
            "role_tag": role_key,
            "content_tag": content_key,
            "user_tag": roles["user"],
            "assistant_tag": roles["assistant"],
            "system_tag": "system",
        },
    }


def llama_factory_info(fmt: str, data_files: dict[str, str]) -> dict[str, Any]:
    """``draftgate`` for the train split and ``draftgate_validation`` for the held-back one
    (LLaMA-Factory's ``dataset`` and ``eval_dataset``)."""
    info: dict[str, Any] = {}
    for split, path in data_files.items():
        name = DATASET_NAME if split == "train" else f"{DATASET_NAME}_{split}"
        info[name] = llama_factory_entry(fmt, path)
    return info


def axolotl_dataset(fmt: str, path: Path, split_in_file: str = "train") -> dict[str, Any]:
    """One entry of axolotl's ``datasets:`` (or ``test_datasets:``) list for one data file.
    A single local file loads as one split named ``train``, whatever split it holds."""
    entry: dict[str, Any] = {
        "path": str(path),
        "ds_type": "parquet" if fmt == "hf" else "json",
        "split": split_in_file,
    }
    if fmt == "alpaca":
        entry["type"] = "alpaca_w_system"
        return entry
    field, role_key, content_key, roles = _CHAT_SHAPES[fmt]
    entry["type"] = "chat_template"
    entry["field_messages"] = field
    entry["message_property_mappings"] = {"role": role_key, "content": content_key}
    entry["roles"] = {
        "system": ["system"],
        "user": [roles["user"]],
        "assistant": [roles["assistant"]],
    }
    return entry


def axolotl_yaml(fmt: str, folder: Path, data_files: dict[str, str]) -> str:
    """The ``datasets:``/``test_datasets:`` block for axolotl, paths absolute to ``folder``
    (where the export ends up); JSON-quoted scalars are valid YAML, so no YAML library."""
    lines = [
        f"# axolotl datasets for this Draftgate export (format {fmt}).",
        "# Paste into an axolotl config; the paths point at this export's folder.",
    ]
    for key, splits in (("datasets", ["train"]), ("test_datasets", [EVAL_SPLIT])):
        entries = [axolotl_dataset(fmt, folder / data_files[s]) for s in splits if s in data_files]
        if entries:
            lines.append(f"{key}:")
            for entry in entries:
                lines += _yaml_item(entry)
    return "\n".join(lines) + "\n"


def _yaml_item(entry: dict[str, Any]) -> list[str]:
    out = []
    for index, (key, value) in enumerate(entry.items()):
        lead = "  - " if index == 0 else "    "
        if isinstance(value, dict):
            out.append(f"{lead}{key}:")
            out += [f"      {k}: {json.dumps(v)}" for k, v in value.items()]
        else:
            out.append(f"{lead}{key}: {json.dumps(value)}")
    return out


# The supervised formats. The preference formats (dpo, openai-dpo, kto) are TRL's and
# OpenAI's own shapes, which neither recipe describes: they get none.
RECIPE_FORMATS = ("openai", "sharegpt", "alpaca", "hf")


def write_recipes(
    staging: Path, fmt: str, final_folder: Path, data_files: dict[str, str]
) -> list[str]:
    """Write both recipes into ``staging`` (for the supervised formats); returns their names."""
    if fmt not in RECIPE_FORMATS:
        return []
    info = llama_factory_info(fmt, data_files)
    (staging / LLAMA_FACTORY_INFO).write_text(
        json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (staging / AXOLOTL_CONFIG).write_text(
        axolotl_yaml(fmt, final_folder, data_files), encoding="utf-8"
    )
    return list(RECIPE_FILES)
