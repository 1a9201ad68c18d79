"""Load every export format with the trainers' real loaders, and print what works.

Run by ``make compat-trainers`` (not part of ``make test``: it needs its own environments):

    python compat/trainers.py --venv ds3=.compat/trainers-ds3 --venv ds4=.compat/trainers-ds4

The command, in the project's environment, builds a ledger through Draftgate's own CLI and API
(ingest and the offline rules drafter on ``product_docs/``; drafts approved, edited and
rejected by a named reviewer), exports it in every format with a system prompt (the preference
formats included), then runs this same file as ``probe`` inside each trainer environment. A
probe loads each export with:

- ``datasets`` ``load_dataset(folder)``: the splits must be exactly train/validation with the
  manifest's row counts (so the manifest and recipes were not read as data), and
  ``load_from_disk(folder/dataset)`` for ``hf``;
- TRL's data utilities (``maybe_convert_to_chatml``, ``is_conversational``,
  ``apply_chat_template``): each row must come out as a conversation, prompt/completion or text
  (``dpo`` and ``kto`` too; ``openai-dpo`` is OpenAI's shape, not TRL's);
- a two-step TRL ``SFTTrainer`` run on a tiny randomly initialised Llama built offline (a
  ``LlamaConfig`` and a word-level tokenizer trained here with ``tokenizers``; nothing is
  downloaded);
- a two-step ``DPOTrainer`` / ``KTOTrainer`` run on the ``dpo`` / ``kto`` export with the same
  tiny model;
- LLaMA-Factory's own dataset loader with the export's ``dataset_info.json`` (where installed):
  every row must keep the system prompt, then be tokenised with its ``default`` template.

The table (format x loader -> ok / fails: reason) is printed and written to
``compat/trainers-last-run.md``. Exit 0 when every cell is ok or n/a, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SFT_FORMATS = ("openai", "sharegpt", "alpaca", "hf")
# Preference formats: dpo and kto are TRL's own shapes (checked with its data utilities);
# openai-dpo is OpenAI's, so only the datasets loader applies to it.
TRL_PREFERENCE_FORMATS = ("dpo", "kto")
FORMATS = (*SFT_FORMATS, *TRL_PREFERENCE_FORMATS, "openai-dpo")
SYSTEM_PROMPT = "You answer questions about Tidepool for its users."
REPORT = ROOT / "compat" / "trainers-last-run.md"
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "WANDB_DISABLED": "true",
}


# ---- in the project's environment: build, export, run the probes ----------------------------


def build_exports(work: Path) -> dict[str, Path]:
    """A ledger made through Draftgate's CLI and API, exported in every format."""
    sys.path.insert(0, str(ROOT))
    from draftgate.cli import main
    from ledger import DecisionIn, Ledger, RejectReason, Verdict

    ledger_file = work / "ledger.sqlite"
    base = ["--ledger", str(ledger_file)]
    for argv in (["ingest", str(ROOT / "product_docs")], ["generate"]):
        code = main([argv[0], *base, *argv[1:]])
        if code != 0:
            raise SystemExit(f"draftgate {argv[0]} exited {code}")
    with Ledger.open(str(ledger_file)) as ledger:
        drafts = [row[0] for row in ledger.query("SELECT id FROM drafts ORDER BY id LIMIT 40")]
        if len(drafts) < 10:
            raise SystemExit(f"the rules drafter made only {len(drafts)} drafts")
        for index, draft_id in enumerate(drafts):
            if index % 4 == 0:
                # Edits are the preference pairs (chosen: the edit, rejected: the draft).
                decision = DecisionIn(
                    draft_id=draft_id,
                    reviewer="compat-reviewer",
                    verdict=Verdict.EDIT,
                    final_question=f"How do I export my data, case {index}?",
                    final_answer=f"Open Reports and choose Export; this is case {index}.",
                )
            elif index % 9 == 0:
                decision = DecisionIn(
                    draft_id=draft_id,
                    reviewer="compat-reviewer",
                    verdict=Verdict.REJECT,
                    reason=RejectReason.WRONG_FACTS,
                )
            else:
                decision = DecisionIn(
                    draft_id=draft_id, reviewer="compat-reviewer", verdict=Verdict.APPROVE
                )
            ledger.record_decision(decision)
    folders = {}
    for fmt in FORMATS:
        out = work / "exports" / fmt
        argv = ["export", *base, "--format", fmt, "--out", str(out)]
        argv += ["--system-prompt", SYSTEM_PROMPT, "--eval-fraction", "0.25"]
        code = main(argv)
        if code != 0:
            raise SystemExit(f"draftgate export --format {fmt} exited {code}")
        folders[fmt] = out
    return folders


def run_probe(name: str, venv: Path, folders: dict[str, Path], work: Path) -> dict[str, Any]:
    python = venv / "bin" / "python"
    if not python.exists():
        return {"error": f"{python} is missing (run make compat-trainers)"}
    out = work / f"probe-{name}.json"
    env = {**os.environ, **OFFLINE_ENV, "HF_HOME": str(work / f"hf-home-{name}")}
    env.pop("PYTHONPATH", None)  # the probe imports the trainers' packages, not Draftgate
    argv = [str(python), __file__, "probe", "--work", str(work / name), "--json", str(out)]
    for fmt, folder in folders.items():
        argv += ["--export", f"{fmt}={folder}"]
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800)
    if not out.exists():
        tail = (run.stderr or run.stdout).strip().splitlines()[-5:]
        return {"error": f"the probe exited {run.returncode}: {' | '.join(tail)}"}
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def render(results: dict[str, dict[str, Any]]) -> tuple[str, bool]:
    """The markdown table, and whether every cell is ok (or n/a)."""
    columns: list[tuple[str, str]] = []  # (environment, loader): one row each
    versions = []
    for env_name, result in results.items():
        if "error" in result:
            versions.append(f"- {env_name}: could not run: {result['error']}")
            continue
        versions.append(f"- {env_name}: {result['versions']}")
        for loader in result["loaders"]:
            columns.append((env_name, loader))
    lines = [
        "# Trainer compatibility: last run",
        "",
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} on {platform.machine()} by "
        "`make compat-trainers` (compat/trainers.py). Each export holds the same signed-off "
        "records with a system prompt.",
        "",
        "Environments:",
        *versions,
        "",
    ]
    all_ok = all("error" not in r for r in results.values())
    lines.append("| loader [environment] | " + " | ".join(FORMATS) + " |")
    lines.append("|---|" + "---|" * len(FORMATS))
    for env_name, loader in columns:
        cells = []
        for fmt in FORMATS:
            cell = results[env_name]["loaders"][loader].get(fmt, "n/a")
            all_ok = all_ok and (cell == "ok" or cell.startswith("n/a"))
            cells.append(cell.replace("|", "/").replace("\n", " "))
        lines.append(f"| {loader} [{env_name}] | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n", all_ok


def orchestrate(args: argparse.Namespace) -> int:
    venvs = dict(item.split("=", 1) for item in args.venv)
    with tempfile.TemporaryDirectory(prefix="draftgate-compat-") as tmp:
        work = Path(tmp)
        folders = build_exports(work)
        results = {name: run_probe(name, Path(path), folders, work) for name, path in venvs.items()}
    text, all_ok = render(results)
    print(text)
    REPORT.write_text(text, encoding="utf-8")
    print(f"written to {REPORT.relative_to(ROOT)}")
    return 0 if all_ok else 1


# ---- in a trainer environment: the probe ----------------------------------------------------


def _reason(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0][:160]
    return f"fails ({type(exc).__name__}: {text})"


def _manifest(folder: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return manifest


def _expected_rows(folder: Path) -> dict[str, int]:
    counts = _manifest(folder)["counts"]
    return {split: sum(by_kind.values()) for split, by_kind in counts.items() if by_kind}


def _check_splits(loaded: Any, folder: Path) -> None:
    got = {split: loaded[split].num_rows for split in loaded}
    expected = _expected_rows(folder)
    if got != expected:
        raise AssertionError(f"splits {got}, manifest says {expected}")


def build_tiny_model(work: Path, texts: list[str]) -> tuple[Any, Any, Path]:
    """A two-layer Llama with random weights and a word-level tokenizer trained on ``texts``,
    saved to ``work/tiny`` (LLaMA-Factory loads the tokenizer from there)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    specials = ["<pad>", "<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
    raw = Tokenizer(models.WordLevel(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=specials))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        additional_special_tokens=specials[4:],
    )
    tokenizer.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} </s>{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|> {% endif %}"
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = LlamaForCausalLM(config)
    folder = work / "tiny"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model, tokenizer, folder


def _texts_of(folders: dict[str, Path]) -> list[str]:
    from datasets import load_dataset

    texts = []
    for split in load_dataset(str(folders["openai"])).values():
        for row in split:
            texts += [m["content"] for m in row["messages"]]
    # The Alpaca prompt's own words.
    texts.append("Below is an instruction that describes a task. ### Instruction: ### Response:")
    return texts


def probe_datasets(folders: dict[str, Path]) -> dict[str, str]:
    from datasets import load_dataset

    cells = {}
    for fmt, folder in folders.items():
        try:
            loaded = load_dataset(str(folder))
            _check_splits(loaded, folder)
            cells[fmt] = "ok"
        except Exception as exc:  # noqa: BLE001 - every failure is a cell of the table
            cells[fmt] = _reason(exc)
    return cells


def probe_from_disk(folders: dict[str, Path]) -> dict[str, str]:
    from datasets import load_from_disk

    cells = {}
    for fmt, folder in folders.items():
        if fmt != "hf":
            cells[fmt] = "n/a"
            continue
        try:
            loaded = load_from_disk(str(folder / "dataset"))
            _check_splits(loaded, folder)
            first = loaded["train"][0]
            if first["messages"][0] != {"role": "system", "content": SYSTEM_PROMPT}:
                raise AssertionError(f"first message is {first['messages'][0]}")
            cells[fmt] = "ok"
        except Exception as exc:  # noqa: BLE001
            cells[fmt] = _reason(exc)
    return cells


def probe_trl_utils(folders: dict[str, Path], tokenizer: Any) -> dict[str, str]:
    from datasets import load_dataset
    from trl.data_utils import apply_chat_template, is_conversational, maybe_convert_to_chatml

    cells = {}
    for fmt, folder in folders.items():
        if fmt not in (*SFT_FORMATS, *TRL_PREFERENCE_FORMATS):
            cells[fmt] = "n/a"
            continue
        try:
            shapes = set()
            for row in load_dataset(str(folder))["train"]:
                example = maybe_convert_to_chatml(dict(row))
                if is_conversational(example):
                    rendered = apply_chat_template(example, tokenizer)
                    if SYSTEM_PROMPT not in "".join(map(str, rendered.values())):
                        raise AssertionError("the system prompt is not in the rendered text")
                    shapes.add("conversational")
                elif {"prompt", "completion"} <= set(example):
                    if SYSTEM_PROMPT not in example["prompt"]:
                        raise AssertionError("the system prompt is not in the prompt")
                    shapes.add("prompt-completion")
                elif "text" in example:
                    shapes.add("text")
                else:
                    raise AssertionError(f"no shape TRL trains on; columns {sorted(example)}")
            cells[fmt] = "ok" if len(shapes) == 1 else f"fails (mixed shapes {shapes})"
        except Exception as exc:  # noqa: BLE001
            cells[fmt] = _reason(exc)
    return cells


def probe_sft(folders: dict[str, Path], model: Any, tokenizer: Any, work: Path) -> dict[str, str]:
    import math

    from datasets import load_dataset
    from trl import SFTConfig, SFTTrainer

    cells = {}
    for fmt, folder in folders.items():
        if fmt not in SFT_FORMATS:
            cells[fmt] = "n/a"
            continue
        try:
            loaded = load_dataset(str(folder))
            config = SFTConfig(
                output_dir=str(work / f"sft-{fmt}"),
                max_steps=2,
                per_device_train_batch_size=2,
                per_device_eval_batch_size=2,
                learning_rate=1e-3,
                logging_steps=1,
                save_strategy="no",
                report_to=[],
                use_cpu=True,
                max_length=256,
                dataloader_num_workers=0,
            )
            trainer = SFTTrainer(
                model=model,
                args=config,
                train_dataset=loaded["train"],
                eval_dataset=loaded.get("validation"),
                processing_class=tokenizer,
            )
            trainer.train()
            losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
            if trainer.state.global_step != 2 or not losses or not all(map(math.isfinite, losses)):
                raise AssertionError(f"steps {trainer.state.global_step}, losses {losses}")
            metrics = trainer.evaluate()
            if not math.isfinite(metrics["eval_loss"]):
                raise AssertionError(f"eval loss {metrics['eval_loss']}")
            cells[fmt] = "ok"
        except Exception as exc:  # noqa: BLE001
            cells[fmt] = _reason(exc)
    return cells


def _preference_trainer(fmt: str) -> tuple[Any, Any]:
    """TRL's trainer and config for a preference format (KTO moved to ``trl.experimental``
    in later releases)."""
    import trl

    if fmt == "dpo":
        return trl.DPOTrainer, trl.DPOConfig
    if hasattr(trl, "KTOTrainer"):
        return trl.KTOTrainer, trl.KTOConfig
    from trl.experimental.kto import KTOConfig, KTOTrainer

    return KTOTrainer, KTOConfig


def probe_preference(
    folders: dict[str, Path], tiny: Path, tokenizer: Any, work: Path
) -> dict[str, str]:
    """A two-step DPOTrainer / KTOTrainer run on the dpo / kto export. The trainer loads the
    tiny model from its folder itself, as it does a model name, and its reference copy too."""
    import math

    from datasets import load_dataset

    cells = {}
    for fmt, folder in folders.items():
        if fmt not in TRL_PREFERENCE_FORMATS:
            cells[fmt] = "n/a"
            continue
        try:
            trainer_type, config_type = _preference_trainer(fmt)
            loaded = load_dataset(str(folder))
            config = config_type(
                output_dir=str(work / f"pref-{fmt}"),
                max_steps=2,
                per_device_train_batch_size=4,
                learning_rate=1e-3,
                logging_steps=1,
                save_strategy="no",
                report_to=[],
                use_cpu=True,
                max_length=256,
                dataloader_num_workers=0,
            )
            trainer = trainer_type(
                model=str(tiny),
                args=config,
                train_dataset=loaded["train"],
                processing_class=tokenizer,
            )
            trainer.train()
            losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
            if trainer.state.global_step != 2 or not losses or not all(map(math.isfinite, losses)):
                raise AssertionError(f"steps {trainer.state.global_step}, losses {losses}")
            cells[fmt] = "ok"
        except Exception as exc:  # noqa: BLE001
            cells[fmt] = _reason(exc)
    return cells


def _llama_factory_importable() -> bool:
    """LLaMA-Factory 0.9.5 imports torchaudio at module level for its audio plugin; no
    torchaudio build loads beside the torch on this machine, so an empty module stands in for
    it. Text datasets never reach that plugin."""
    import importlib.machinery
    import importlib.util
    import types

    if importlib.util.find_spec("llamafactory") is None:
        return False
    try:
        import torchaudio  # noqa: F401
    except (ImportError, OSError):
        stand_in = types.ModuleType("torchaudio")
        stand_in.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
        sys.modules["torchaudio"] = stand_in
    return True


def probe_llama_factory(folders: dict[str, Path], tiny: Path, work: Path) -> dict[str, str]:
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.data.loader import _get_merged_dataset, get_dataset
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    cells = {}
    for fmt, folder in folders.items():
        if fmt not in SFT_FORMATS:
            cells[fmt] = "n/a (no recipe for preference formats)"
            continue
        try:
            info = json.loads((folder / "dataset_info.json").read_text(encoding="utf-8"))
            model_args, data_args, training_args, _, _ = get_train_args(
                {
                    "model_name_or_path": str(tiny),
                    "stage": "sft",
                    "do_train": True,
                    "finetuning_type": "full",
                    "dataset_dir": str(folder),
                    "dataset": "draftgate",
                    "eval_dataset": "draftgate_validation" if len(info) > 1 else None,
                    "template": "default",
                    "cutoff_len": 256,
                    "output_dir": str(work / f"lf-{fmt}"),
                    "overwrite_cache": True,
                    "report_to": "none",
                    "use_cpu": True,
                }
            )
            aligned = _get_merged_dataset(
                data_args.dataset, model_args, data_args, training_args, "sft"
            )
            expected = _expected_rows(folder)["train"]
            if aligned is None or len(aligned) != expected:
                raise AssertionError(f"{0 if aligned is None else len(aligned)} rows of {expected}")
            kept = sum(row["_system"] == SYSTEM_PROMPT for row in aligned)
            if kept != expected:
                raise AssertionError(f"the system prompt kept on {kept} of {expected} rows")
            tokenizer = load_tokenizer(model_args)["tokenizer"]
            template = get_template_and_fix_tokenizer(tokenizer, data_args)
            module = get_dataset(template, model_args, data_args, training_args, "sft", tokenizer)
            rows = len(module["train_dataset"])
            if rows != expected:
                raise AssertionError(f"{rows} tokenised rows of {expected}")
            cells[fmt] = "ok"
        except Exception as exc:  # noqa: BLE001
            cells[fmt] = _reason(exc)
    return cells


def probe(args: argparse.Namespace) -> int:
    import importlib.metadata as md

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    folders = {k: Path(v) for k, v in (item.split("=", 1) for item in args.export)}
    names = ("datasets", "trl", "transformers", "torch", "llamafactory")
    versions = []
    for name in names:
        with contextlib.suppress(md.PackageNotFoundError):
            versions.append(f"{name} {md.version(name)}")
    ds = f"datasets {md.version('datasets')}"
    trl = f"TRL {md.version('trl')}"
    loaders: dict[str, dict[str, str]] = {}
    loaders[f"{ds} load_dataset"] = probe_datasets(folders)
    loaders[f"{ds} load_from_disk"] = probe_from_disk(folders)
    try:
        model, tokenizer, tiny = build_tiny_model(work, _texts_of(folders))
        loaders[f"{trl} data utils"] = probe_trl_utils(folders, tokenizer)
        loaders[f"{trl} SFTTrainer 2 steps"] = probe_sft(folders, model, tokenizer, work)
        loaders[f"{trl} DPOTrainer/KTOTrainer 2 steps"] = probe_preference(
            folders, tiny, tokenizer, work
        )
        if _llama_factory_importable():
            lf = f"LLaMA-Factory {md.version('llamafactory')} loader"
            loaders[lf] = probe_llama_factory(folders, tiny, work)
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        loaders["tiny model"] = dict.fromkeys(folders, _reason(exc))
    Path(args.json).write_text(
        json.dumps({"versions": ", ".join(versions), "loaders": loaders}), encoding="utf-8"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command")
    one = sub.add_parser("probe", help="(inside a trainer environment) load every export")
    one.add_argument("--work", required=True, help="scratch folder")
    one.add_argument("--json", required=True, help="where to write the results")
    one.add_argument("--export", action="append", default=[], help="FORMAT=FOLDER")
    parser.add_argument(
        "--venv", action="append", default=[], help="NAME=PATH of a trainer environment"
    )
    args = parser.parse_args()
    if args.command == "probe":
        return probe(args)
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
