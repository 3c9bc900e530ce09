"""What a training run was given, recorded in its output folder (`run_settings.json`), and whether another run was
given the same: so a finished run can stand in for one a benchmark would otherwise train again
(`bench/bench_distill.py --reuse-from`), and is refused when it was trained otherwise.

The record holds the project settings and the `TrainingArguments` as `train` received them (before it resolves
bf16 or fills in the synthetic data's paths), with local paths: it stays beside the model and is not among the
files `helpline-fusion publish` uploads.

Folders written before the record existed still hold `training_args.bin` (the Trainer's pickle of its arguments,
as training left them) and `config.json` (which records the project settings that shape the model);
`settings_from_folder` reads those and says which project settings it could not recover. The pickle is read with
`torch.load(weights_only=True)`, allowing the few classes `TrainingArguments` consist of and nothing else.

A run's record also carries its run id and `settings_digest` (`write_run_settings`), and is copied into each of its
checkpoints, so that a resumed run can be refused a checkpoint that other settings trained.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

from .settings import CONFIG_SETTINGS, LOSS_WEIGHT_SETTINGS

RUN_SETTINGS_NAME = "run_settings.json"
FORMAT_VERSION = 1

# Settings that say where a run wrote or reported to, not what it trained: two runs differing only here are the same.
IGNORED_TRAINING = frozenset({
    "output_dir", "run_name", "report_to", "resume_from_checkpoint", "push_to_hub", "hub_model_id", "hub_strategy",
    "hub_token", "hub_private_repo", "hub_always_push", "hub_revision", "logging_dir", "disable_tqdm",
})  # fmt: skip
IGNORED_PROJECT = frozenset({
    "mlflow_tracking_uri", "mlflow_experiment", "mlflow_log_model", "mlflow_registered_model", "keep_checkpoints",
    "resume_phases",
})  # fmt: skip
# What `training_args.bin` of an older folder may hold (read with `weights_only=True`, these classes allowed, nothing
# else: a pickle naming any other global is refused unread).
TRAINING_ARGS_GLOBALS = (
    "transformers.training_args.TrainingArguments", "transformers.training_args.OptimizerNames",
    "transformers.trainer_utils.IntervalStrategy", "transformers.trainer_utils.SchedulerType",
    "transformers.trainer_utils.HubStrategy", "transformers.trainer_utils.SaveStrategy",
    "transformers.trainer_pt_utils.AcceleratorConfig", "accelerate.utils.dataclasses.DistributedType",
    "accelerate.state.PartialState",
)  # fmt: skip
# `train` sets these on its TrainingArguments before the Trainer saves them (`training_args.bin` of older folders).
SET_BY_TRAINING = frozenset({"remove_unused_columns", "hub_strategy"})
# Project settings the model's config.json records (setting -> config attribute): the model settings' one mapping.
IN_MODEL_CONFIG = {name: name for name in CONFIG_SETTINGS}
LOSS_WEIGHTS = LOSS_WEIGHT_SETTINGS


def run_settings(project: Any, training_args: Any) -> dict[str, Any]:
    """The record of a run's settings: `{"format": 1, "project": {...}, "training": {...}}` (JSON-ready).

    Example:
        >>> record = run_settings(*parse_settings(["run.yaml", "--output_dir", "out"]))  # doctest: +SKIP
        >>> record["training"]["learning_rate"]  # doctest: +SKIP
    """
    return json.loads(json.dumps({
        "format": FORMAT_VERSION,
        "project": dataclasses.asdict(project),
        "training": training_args.to_dict(),  # tokens masked by transformers (`<HUB_TOKEN>`)
        "data": data_digests(project),
    }, default=str))  # fmt: skip


DATA_SETTINGS = ("ner_file", "cases_file", "qa_file", "qa_eval_file")


def data_digests(project: Any) -> dict[str, str]:
    """sha256 of each local data file the settings name (`DATA_SETTINGS`): a run is its settings and its data, so
    a checkpoint or a saved folder trained before an annotation was fixed is not taken for this run's. Hub dataset
    ids and generated synthetic data (its generator version, seed and size are settings) are not hashed."""
    from .run_folder import file_sha256

    digests = {}
    for name in DATA_SETTINGS:
        value = getattr(project, name, None)
        if isinstance(value, str) and Path(value).is_file():
            digests[name] = file_sha256(value)
    return digests


def settings_digest(record: dict[str, Any]) -> str:
    """sha256 of what a run was trained with: the record's project settings and training arguments, less those
    that only say where it wrote or reported to (`IGNORED_PROJECT`, `IGNORED_TRAINING`). Two runs with one digest
    were given the same settings."""
    kept = {
        part: {key: value for key, value in record.get(part, {}).items() if key not in ignored}
        for part, ignored in (("project", IGNORED_PROJECT), ("training", IGNORED_TRAINING), ("data", frozenset()))
    }
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


def write_run_settings(folder: Path, record: dict[str, Any], run_id: str | None = None) -> Path:
    """`run_settings.json` in `folder`, atomically, with the run id and the settings digest when `run_id` is given."""
    from .run_folder import write_atomic

    if run_id is not None:
        record = {**record, "run_id": run_id, "settings_digest": settings_digest(record)}
    path = Path(folder) / RUN_SETTINGS_NAME
    write_atomic(path, json.dumps(record, indent=2, sort_keys=True))
    return path


def read_run_settings(path: Path) -> dict[str, Any]:
    """A `run_settings.json` record, or `ValueError` naming the file when it is not one."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(f"{path}: unreadable ({type(error).__name__}: {error})") from None
    if not isinstance(record, dict) or not isinstance(record.get("project"), dict):
        raise ValueError(f"{path}: not a run settings record (expected project and training settings)")
    return record


def load_training_args(path: Path) -> Any:
    """The `TrainingArguments` an older folder's `training_args.bin` holds, read with `torch.load(weights_only=True)`
    allowing only `TRAINING_ARGS_GLOBALS`: a pickle that names any other class or function is refused unread."""
    import torch

    try:
        named = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception as error:  # not a torch.save file at all
        raise ValueError(f"{path}: not a training arguments file ({type(error).__name__}: {error})") from None
    foreign = sorted(named - set(TRAINING_ARGS_GLOBALS))
    if foreign:
        raise ValueError(f"{path}: refused, it names {foreign}, which TrainingArguments never hold (not read)")
    allowed = []
    for name in sorted(named):
        module, _, attribute = name.rpartition(".")
        allowed.append(getattr(importlib.import_module(module), attribute))
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: unreadable ({type(error).__name__}: {error})") from None


def settings_from_folder(folder: Path, expected: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The settings a finished run in `folder` recorded, and the project settings it could not recover.

    `run_settings.json` when present (nothing unrecovered); else `training_args.bin` and `config.json`, where the
    project settings that `config.json` does not hold are returned as unrecovered. `expected` (a `run_settings`
    record) only serves to drop the keys of older transformers versions.

    Raises:
        ValueError: `folder` holds no finished run (no `eval_results.json`), or no record of its settings.
    """
    folder = Path(folder)
    if not (folder / "eval_results.json").is_file():
        raise ValueError(f"{folder}: no finished training run here (no eval_results.json)")
    recorded = folder / RUN_SETTINGS_NAME
    if recorded.is_file():
        return read_run_settings(recorded), []
    if not (folder / "training_args.bin").is_file() or not (folder / "config.json").is_file():
        raise ValueError(f"{folder}: no {RUN_SETTINGS_NAME} and no training_args.bin + config.json to read the "
                         "run's settings from")  # fmt: skip
    training = load_training_args(folder / "training_args.bin").to_dict()
    training = json.loads(json.dumps(training, default=str))
    model_config = json.loads((folder / "config.json").read_text())
    project: dict[str, Any] = {}
    for setting, attribute in IN_MODEL_CONFIG.items():
        if attribute in model_config:
            project[setting] = model_config[attribute]
    weights = model_config.get("task_loss_weights") or {}
    for setting, task in LOSS_WEIGHTS.items():
        if task in weights:
            project[setting] = weights[task]
    encoder = model_config.get("encoder_config") or {}
    dropout = [encoder[name] for name in ("attention_probs_dropout_prob", "attention_dropout") if name in encoder]
    if dropout and expected["project"].get("encoder_attention_dropout") is not None:  # unset: the encoder's own
        project["encoder_attention_dropout"] = dropout[0]
    if not expected["project"].get("init_from") and expected["project"].get("encoder_name"):
        project["encoder_name"] = model_config.get("base_model_name")  # what build_model records it as
    # Settings `train` leaves unset fall back to the config's default, which it then records: compare the default.
    unrecovered = sorted(set(expected["project"]) - set(project) - IGNORED_PROJECT)
    return {"format": 0, "project": project, "training": training}, unrecovered


def expected_as_trained(expected: dict[str, Any], folder_record: dict[str, Any]) -> dict[str, Any]:
    """`expected` as an older folder's record holds it: the TrainingArguments as `train` left them (bf16 resolved
    on this machine, `remove_unused_columns` off) and unset model settings as the model config's defaults."""
    if folder_record.get("format", 0) >= 1:
        return expected
    from ..modeling_attention_fusion import AttentionFusionConfig

    training = dict(expected["training"])
    if training.get("bf16") and (training.get("use_cpu") or not _cuda()):
        from .training import cpu_has_native_bf16

        training["bf16"] = training["bf16"] and cpu_has_native_bf16()
    defaults = AttentionFusionConfig()
    project = {
        key: getattr(defaults, IN_MODEL_CONFIG[key]) if value is None and key in IN_MODEL_CONFIG else value
        for key, value in expected["project"].items()
    }
    if isinstance(project.get("pooling"), str):  # the config holds it per sentence-level task
        project["pooling"] = AttentionFusionConfig(pooling=project["pooling"]).pooling
    return {**expected, "training": training, "project": project}


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def differing_settings(recorded: dict[str, Any], expected: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """`(setting, recorded value, expected value)` for every setting the two records give differently, sorted,
    leaving out `IGNORED_TRAINING` / `IGNORED_PROJECT` (and, for older folders, what `train` itself sets)."""
    expected = expected_as_trained(expected, recorded)
    ignored_training = IGNORED_TRAINING | (SET_BY_TRAINING if recorded.get("format", 0) < 1 else frozenset())
    differing = []
    for part, ignored in (("project", IGNORED_PROJECT), ("training", ignored_training), ("data", frozenset())):
        if part == "data" and part not in recorded:
            continue  # an older record, from before data was hashed
        mine, theirs = recorded.get(part, {}), expected.get(part, {})
        for key in sorted(set(mine) & set(theirs) - ignored):
            if mine[key] != theirs[key]:
                if part == "data":  # the start of each digest is enough to tell them apart
                    differing.append((f"{key} (sha256 of the file)", mine[key][:12], theirs[key][:12]))
                else:
                    differing.append((key, mine[key], theirs[key]))
        if recorded.get("format", 0) >= 1:  # a full record: a setting only one side has differs too
            for key in sorted((set(mine) ^ set(theirs)) - ignored):
                differing.append((key, mine.get(key, "<absent>"), theirs.get(key, "<absent>")))
    return differing
