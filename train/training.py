"""The training job behind `train/run.py`: settings -> data -> validation report -> splits -> windows -> a
`MultiTaskTrainer` whose `train()` is the whole run -> a Hub-ready output folder.

`train()` builds the trainer and calls it: the Trainer's training loop, then the phases the trainer owns
(`phases.PHASES`: save the trained model, refit, calibrate, evaluate, curves, card; one method each on
`MultiTaskTrainer`), inside one MLflow run, then the push. Each phase updates the folder (atomic writes,
`train/run_folder.py`) and rewrites its `run_manifest.json`, so a phase that fails leaves a loadable model and
`--resume_phases true` runs what is left without training again (`trainer.finish_phases()`)."""

from __future__ import annotations

import logging
import os
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from transformers import AutoConfig, EarlyStoppingCallback, TrainerCallback, TrainingArguments, set_seed

from ..data.collator import MultiTaskCollator
from ..data.labels import config_kwargs_from_data
from ..data.loaders import load_all_splits
from ..data.splits import use_or_split
from ..data.validation import log_report
from ..modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from .checkpoints import resolve_resume
from .distill import CACHE_DIR_NAME, check_distill_settings, parse_teachers, prepare_teachers
from .finetune import load_for_finetuning
from .phases import (  # noqa: F401 - PhaseFailed, PHASES and the file names are this module's public names too
    CALIBRATION_NAME,
    CURVES_NAME,
    PHASES,
    REFIT_NAME,
    REPORT_NAME,
    TEACHER_OUTPUTS_NAME,
    TRAINING_STATE_NAME,
    PhaseFailed,
    RunRecord,
    distillation_summary,
)
from .refit import check_qa_refit_c
from .run_folder import MixedRunFolderError, RunFolderWriter, check_run_folder, new_run_id, output_dir_lock
from .run_settings import RUN_SETTINGS_NAME, differing_settings, read_run_settings, run_settings, settings_digest
from .settings import ProjectArguments, resolve_encoder, source_options
from .sources import check_model_folder, load_tokenizer
from .tasks import TASK_SPECS, task_spec
from .trainer import MultiTaskTrainer

logger = logging.getLogger(__name__)

ATTENTION_DROPOUT_NAMES = ("attention_probs_dropout_prob", "attention_dropout")  # BERT-like, DistilBERT/DeBERTa
SOURCE_SETTINGS = {task: spec.data_setting for task, spec in TASK_SPECS.items()}  # the task registry's


def resolve_sources(project: ProjectArguments, output_dir: Path) -> dict[str, str]:
    """Data source per task: the named files, or the bundled synthetic data where `synthetic` is set."""
    sources: dict[str, str] = {}
    for task in project.tasks:
        value = getattr(project, SOURCE_SETTINGS[task])
        if value:
            looks_local = value.endswith((".json", ".jsonl", ".csv", ".tsv", ".parquet")) or "/" in value and Path(value).parent.exists()
            if looks_local and not Path(value).is_file():
                raise FileNotFoundError(f"{SOURCE_SETTINGS[task]}: data file {value} not found")
            sources[task] = value
    missing = [task for task in project.tasks if task not in sources]
    if missing and project.synthetic:
        from ..data.synthetic import ensure_generated

        n = project.synthetic_size
        files = ensure_generated(
            output_dir / "synthetic_data", seed=project.synthetic_seed, n_ner=n, n_cases=n, n_qa=n,
            n_qa_heldout=max(50, n // 5),
        )
        for task in missing:
            sources[task] = str(files[SOURCE_SETTINGS[task]])  # the generated files are keyed by data setting
        if "qa" in missing and not project.qa_eval_file:
            project.qa_eval_file = str(files["qa_heldout_file"])
        missing = []
    if missing:
        names = ", ".join(f"--{SOURCE_SETTINGS[t]}" for t in missing)
        raise ValueError(f"no data for tasks {missing}: give {names} or --synthetic true")
    return sources


def describe_eval_data(project: ProjectArguments, sources: dict[str, str], output_dir: Path) -> dict[str, dict]:
    """What each task's validation scores were measured on, for the model card: the bundled synthetic data, a file
    (by name, never its folder) or a Hub dataset id."""
    from ..data.loaders import _HUB_ID

    synthetic_dir = (output_dir / "synthetic_data").resolve()

    def describe(source: str, part: str) -> dict[str, str]:
        path = Path(source)
        if path.exists() and synthetic_dir in path.resolve().parents:
            held_out = ", held-out paraphrase templates" if path.name.startswith("qa_heldout") else ""
            return {"type": "helpline-fusion-synthetic", "split": "heldout" if held_out else part,
                    "name": f"bundled synthetic data (seed {project.synthetic_seed}{held_out})", "seed": project.synthetic_seed}
        if not path.exists() and _HUB_ID.match(source):
            return {"type": source, "name": source, "split": part, "hub": True}
        return {"type": "local-file", "name": path.name, "split": part}

    described = {task: describe(source, "validation") for task, source in sources.items()}
    for task in described:
        setting = task_spec(task).eval_setting
        if setting and getattr(project, setting):
            described[task] = describe(getattr(project, setting), "validation")
    return described


def build_model(project: ProjectArguments, label_kwargs: dict[str, Any]) -> AttentionFusionModel:
    model_kwargs = {**project.config_kwargs(), **label_kwargs}  # unset ones: the config's, or the parent's
    if project.init_from:
        model = load_for_finetuning(project.init_from, revision=project.init_from_revision, **model_kwargs)
    else:
        encoder_kwargs = {}
        if project.encoder_attention_dropout is not None:
            encoder_config = AutoConfig.from_pretrained(resolve_encoder(project.encoder))
            names = [n for n in ATTENTION_DROPOUT_NAMES if hasattr(encoder_config, n)]
            if not names:
                raise ValueError(
                    f"encoder_attention_dropout: the {encoder_config.model_type} config has none of "
                    f"{list(ATTENTION_DROPOUT_NAMES)}"
                )
            encoder_kwargs = {name: project.encoder_attention_dropout for name in names}
        model = AttentionFusionModel.from_encoder_pretrained(
            resolve_encoder(project.encoder), encoder_kwargs=encoder_kwargs, **model_kwargs
        )
    # The card's base_model: what this model was trained from (a fine-tuned model's parent, else the encoder),
    # named only when it is a Hub id, never a local path.
    start = project.init_from or project.encoder
    model.config.base_model_name = project.encoder_name if not project.init_from and project.encoder_name else (
        start if not Path(start).exists() and ":" not in start else None
    )
    if project.freeze_encoder:
        model.freeze_encoder()
    if project.freeze_embeddings:
        model.freeze_embeddings()
    if project.freeze_encoder_layers:
        model.freeze_encoder_layers(project.freeze_encoder_layers)
    return model


class RunInfoCallback(TrainerCallback):
    """Logs to the active MLflow run what the Trainer's callback does not: the data validation report
    (counts and reasons only, never text), the task schema sizes and the parameter count."""

    def __init__(self, report: dict, project: ProjectArguments) -> None:
        self.report = report
        self.project = project
        self.run_id: str | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        if "mlflow" not in (args.report_to or []) or not state.is_world_process_zero:
            return
        import mlflow

        if mlflow.active_run() is None:
            return
        self.run_id = mlflow.active_run().info.run_id
        model, config = kwargs["model"], kwargs["model"].config
        mlflow.log_dict(self.report, REPORT_NAME)
        params = {
            "schema_ner_tags": len(config.ner_labels),
            **{f"schema_cls_{head}_classes": len(labels) for head, labels in config.case_heads.items()},
            **{f"schema_qa_{head}_sub_metrics": len(names) for head, names in config.qa_heads.items()},
        }
        for entry in self.report["files"].values():
            params.update({f"data_{entry['task']}_{k}": entry[k] for k in ("read", "kept", "repaired", "rejected")})
        distillation = distillation_summary(self.project)
        if distillation:
            params.update({f"distill_teacher_{task}": name for task, name in distillation["teachers"].items()})
            params.update(distill_alpha=distillation["alpha"], distill_temperature=distillation["temperature"])
        mlflow.log_params(params)
        mlflow.set_tags({
            "parameter_count": sum(p.numel() for p in model.parameters()),
            "sampling_strategy": self.project.sampling_strategy,
            "tasks": ",".join(config.tasks),
            "encoder": config.base_model_name or config.encoder_config.model_type,
        })


def prepare_data(project: ProjectArguments, training_args: TrainingArguments, tokenizer, base_config):
    output_dir = Path(training_args.output_dir)
    sources = resolve_sources(project, output_dir)
    options = source_options(project)  # each task's Hub config, revision, split and column mapping
    given, report = load_all_splits(
        ner=sources.get("ner"), cases=sources.get("cls"), qa=sources.get("qa"),
        config=base_config, labels_from_data=project.labels_from_data, realign_spans=project.realign_spans,
        options=options,
    )
    loaded = {task: parts["train"] for task, parts in given.items()}
    held_out: dict[str, Any] = {}  # task -> the held-out validation set its `eval_setting` names (qa_eval_file)
    for task in loaded:
        spec = task_spec(task)
        if spec.eval_setting and getattr(project, spec.eval_setting):
            held_out[task], held_out_report = spec.loader(
                getattr(project, spec.eval_setting), config=base_config, labels_from_data=project.labels_from_data,
                columns=options[task]["columns"],
            )  # fmt: skip
            report.add(held_out_report)
    eval_data = describe_eval_data(project, sources, output_dir)  # the report is logged once, by write_report
    label_kwargs = (
        config_kwargs_from_data(ner=loaded.get("ner"), cases=loaded.get("cls"), qa=loaded.get("qa"), base=base_config)
        if project.labels_from_data
        else {}
    )
    splits: dict[str, dict[str, Any]] = {}
    for task, dataset in loaded.items():
        # Calibration reports on a test split of the case and quality data, taken from the training side (the
        # validation split is the one it would be without; data/splits.py); none for a held-out QA file.
        with_test = project.calibrate and task_spec(task).calibrated and task not in held_out
        # A validation/test split the data already has (a Hub dataset's) is used, not re-split (data/splits.py).
        parts = use_or_split(
            given[task], validation_size=project.validation_size, seed=training_args.seed,
            test_size=project.test_fraction if with_test else 0.0,
        )  # fmt: skip
        train_ds, val_ds = parts["train"], parts["validation"]
        if task in held_out:
            train_ds = dataset  # the held-out template set is the validation set; keep every training record
            val_ds = held_out[task]
        if project.max_train_examples and len(train_ds) > project.max_train_examples:
            train_ds = train_ds.shuffle(seed=training_args.seed).select(range(project.max_train_examples))
        splits[task] = {"train": train_ds, "validation": val_ds, **({"test": parts["test"]} if "test" in parts else {})}
    return splits, report, label_kwargs, eval_data


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX). Without it PyTorch emulates bf16 and an
    autocast training step is about 20x slower than fp32 (measured on an AVX2-only AMD EPYC: 75 s vs 3.4 s)."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_bf16(training_args: TrainingArguments) -> None:
    """`bf16: true` on a CPU without native bf16 trains in fp32 instead, with a warning saying why."""
    import torch

    on_cpu = training_args.use_cpu or not torch.cuda.is_available()
    if training_args.bf16 and on_cpu and not cpu_has_native_bf16():
        logger.warning(
            "bf16: this CPU has no native bfloat16 (AVX-512 BF16 or AMX), where bf16 autocast runs about 20x slower "
            "than fp32; training and evaluating in fp32 instead"
        )
        training_args.bf16 = False
        if getattr(training_args, "mixed_precision", None) == "bf16":  # derived from bf16 when the args were built
            training_args.mixed_precision = "no"


def train(project: ProjectArguments, training_args: TrainingArguments) -> dict[str, Any]:
    """Run the job: the trainer trains, then runs the phases `PHASES` names (`MultiTaskTrainer.train`), each
    leaving the output folder loadable and its `run_manifest.json` saying what is done. A later phase that fails
    raises `PhaseFailed` after the trained model is saved; `--resume_phases true` with the same settings runs the
    phases left (`MultiTaskTrainer.finish_phases`)."""
    settings = run_settings(project, training_args)  # as given, before bf16 is resolved and data paths filled in
    hide_hub_token(training_args)
    resolve_bf16(training_args)
    # The model we start from exists or can be had (a mistyped folder or an unreachable Hub id fails here, in one
    # line), before anything is written.
    source = check_model_folder(project.init_from) if project.init_from else resolve_encoder(project.encoder)
    output_dir = Path(training_args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with output_dir_lock(output_dir) if training_args.process_index == 0 else nullcontext():  # one training here
        if project.resume_phases:
            trainer = trainer_for_remaining_phases(project, training_args, settings)
            trainer.finish_phases()
        else:
            resume = check_before_data(project, training_args, settings)
            trainer = trainer_for_new_run(project, training_args, settings, source)
            trainer.train(resume_from_checkpoint=resume)  # train, save, refit, calibrate, evaluate, curves, card, push
    run = trainer.run
    return {"metrics": run.metrics, "output_dir": str(output_dir), "trainer": trainer, "eval_data": run.eval_data}


def hide_hub_token(training_args: TrainingArguments) -> None:
    """A `--hub_token` given in the settings moves to this process's `HF_TOKEN` (where the Hub client and the push
    read it) and leaves the arguments, so that the Trainer's `training_args.bin` pickles no secret."""
    if training_args.hub_token:
        os.environ["HF_TOKEN"] = training_args.hub_token
        training_args.hub_token = None


def check_before_data(project, training_args, settings: dict) -> str | None:
    """What can be refused before any data work: the checkpoint to resume from (never a half-written one, never
    one that other settings trained), the distillation settings and the refit epochs. Returns the checkpoint."""
    resume = resolve_resume(training_args.resume_from_checkpoint, Path(training_args.output_dir), expected=settings)
    project.teachers = parse_teachers(project.teachers)
    check_distill_settings(project.teachers, project.tasks, project.distill_alpha, project.distill_temperature)
    if project.refit_heads_epochs < 0:
        raise ValueError(f"refit_heads_epochs: expected 0 or more epochs, got {project.refit_heads_epochs}")
    if project.qa_refit_c is not None:
        check_qa_refit_c(project.qa_refit_c)
    return resume


def trainer_for_new_run(project, training_args, settings: dict, source: str) -> MultiTaskTrainer:
    """Data, model and windows of a new run, and the trainer that trains it and runs its phases."""
    set_seed(training_args.seed)  # before the heads are initialised: a run is reproducible from its seed
    revision = project.init_from_revision if project.init_from else None
    # transformers' classes, no downloaded code; saved with the model without loading state (local_files_only...)
    tokenizer = load_tokenizer(source, revision=revision)
    base_config = (
        AttentionFusionConfig.from_pretrained(project.init_from, revision=revision)
        if project.init_from else AttentionFusionConfig()
    )  # fmt: skip
    run = new_run_record(training_args, settings)
    data = prepare_job_data(project, training_args, tokenizer, base_config, run)
    model = build_model(project, data["label_kwargs"])
    if project.qa_refit_c is not None and "qa" in project.tasks and model.config.qa_pooling != "turns":
        raise ValueError(f"qa_refit_c: the logistic refit fits turn-pooled quality heads; this model's qa_pooling is "
                         f"{model.config.qa_pooling!r} (set qa_pooling: turns, or leave qa_refit_c unset)")
    tokenized = tokenize_splits(project, training_args, data["splits"], tokenizer, model.config)
    if "cls" in tokenized["train"]:
        model.config.case_class_priors = class_priors(tokenized["train"]["cls"], model.config)
    if project.balance_priority and "cls" in tokenized["train"]:
        apply_balanced_priority(model.config, tokenized["train"]["cls"])
        logger.info("priority loss class weights (inverse frequency, undone in the decisions): %s",
                    model.config.case_class_weights.get("priority"))  # fmt: skip
    align_special_tokens(model.config, tokenizer)
    collator = MultiTaskCollator(tokenizer, model.config)
    if project.teachers:
        # Soft targets once per training window, cached with the tokenised data (train/distill.py).
        with training_args.main_process_first(desc="teacher outputs"):
            tokenized["train"], teacher_stats = prepare_teachers(
                project.teachers, tokenized["train"], tokenizer, model.config, collator,
                batch_size=training_args.per_device_eval_batch_size, cache_dir=run.output_dir / CACHE_DIR_NAME,
                device=training_args.device,
            )  # fmt: skip
        run.teacher_outputs = {"teachers": teacher_stats}  # written with the trained model (save_trained)
    return build_trainer(project, training_args, model, tokenizer, collator, tokenized, run)


def new_run_record(training_args, settings: dict) -> RunRecord:
    folder = RunFolderWriter(
        Path(training_args.output_dir), new_run_id(), settings_digest(settings),
        active=training_args.process_index == 0,
    )  # fmt: skip
    return RunRecord(folder=folder, settings=settings)


def trainer_for_remaining_phases(project, training_args, settings: dict) -> MultiTaskTrainer:
    """`--resume_phases true`: the model this output folder saved after training, with the run's own data and
    settings (refused when they differ), in a trainer whose `finish_phases` runs what the manifest lists as
    pending."""
    output_dir = Path(training_args.output_dir)
    try:
        manifest = check_run_folder(output_dir, allow_unfinished=True)
    except MixedRunFolderError as error:
        raise ValueError(f"resume_phases: {error}") from None
    if manifest["settings_digest"] != settings_digest(settings):
        recorded = read_run_settings(output_dir / RUN_SETTINGS_NAME)
        differing = differing_settings(recorded, settings)
        listed = "; ".join(f"{key}: {theirs!r} there, {mine!r} here" for key, theirs, mine in differing[:8])
        raise ValueError(
            f"resume_phases: {output_dir / RUN_SETTINGS_NAME} records other settings than these "
            f"({listed or 'the settings digest differs'}); give the settings that run was trained with"
        )
    folder = RunFolderWriter(
        output_dir, manifest["run_id"], manifest["settings_digest"], active=training_args.process_index == 0,
        done=manifest["phases_done"], written=manifest["files"],
    )  # fmt: skip
    folder.plan(manifest["phases_done"] + manifest.get("phases_pending", []))
    if not folder.pending:
        logger.info("resume_phases: %s is complete (phases %s); nothing to run", output_dir, folder.done)
    project.teachers = parse_teachers(project.teachers)
    set_seed(training_args.seed)
    model = AttentionFusionModel.from_pretrained(output_dir)  # the installed classes: no code from the folder
    tokenizer = load_tokenizer(str(output_dir))
    run = RunRecord(folder=folder, settings=settings, write_report=False)
    data = prepare_job_data(project, training_args, tokenizer, model.config, run)
    tokenized = tokenize_splits(project, training_args, data["splits"], tokenizer, model.config)
    collator = MultiTaskCollator(tokenizer, model.config)
    trainer = build_trainer(project, training_args, model, tokenizer, collator, tokenized, run)
    trainer.restore_state()
    logger.info("resume_phases: %s holds phases %s; running %s", output_dir, folder.done, folder.pending)
    return trainer


def prepare_job_data(project, training_args, tokenizer, base_config, run: RunRecord) -> dict:
    """Load, check and split the run's data; what the card says about it goes into `run`."""
    with training_args.main_process_first(desc="loading and tokenising data"):
        splits, report, label_kwargs, eval_data = prepare_data(project, training_args, tokenizer, base_config)
    if run.write_report and run.folder.active:
        log_report(report)
    # The report is written into the folder with the trained model (`save_trained`), not before training: a run
    # that fails or is killed while training leaves a previous run in the same folder whole.
    run.report, run.eval_data = report, eval_data
    run.split_sizes = {task: {name: len(ds) for name, ds in parts.items()} for task, parts in splits.items()}
    return {"splits": splits, "label_kwargs": label_kwargs}


def tokenize_splits(project, training_args, splits, tokenizer, config) -> dict[str, dict[str, Any]]:
    tokenized: dict[str, dict[str, Any]] = {"train": {}, "validation": {}}
    with training_args.main_process_first(desc="tokenising"):
        for task, parts in splits.items():
            spec = task_spec(task)
            own = spec.train_window_settings  # (length setting, stride setting) of the task's training windows
            for name, dataset in parts.items():
                length, stride = config.window_length, config.window_stride
                own_windows = bool(own) and name == "train" and bool(getattr(project, own[0]))
                if own_windows:
                    length = getattr(project, own[0])
                    stride = getattr(project, own[1])
                    stride = length // 4 if stride is None else stride
                try:
                    tokenized.setdefault(name, {})[task] = spec.tokenise(
                        dataset, tokenizer, config, max_length=length, stride=stride
                    )
                except ValueError as error:
                    if not own_windows:
                        raise
                    raise ValueError(f"{own[0]} / {own[1]} ({length} / {stride}): {error}") from error
    return tokenized


def align_special_tokens(config, tokenizer) -> None:
    """The Trainer aligns the config's special tokens with the tokenizer's, warning that it did; they are the
    tokenizer's by design, so set them here (nothing for a user to act on)."""
    text_config = config.get_text_config()
    for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
        if getattr(tokenizer, name, None) is not None:
            setattr(text_config, name, getattr(tokenizer, name))


def build_trainer(project, training_args, model, tokenizer, collator, tokenized, run: RunRecord) -> MultiTaskTrainer:
    training_args.remove_unused_columns = False
    if training_args.push_to_hub:
        # Checkpoint pushes would leave untagged, partial models on main; the complete folder is published at
        # the end instead (the Trainer still creates the repo up front, so a bad token fails before training).
        training_args.hub_strategy = "end"
        if training_args.hub_private_repo is None:  # private unless `--hub_private_repo false` (publish.py)
            training_args.hub_private_repo = True
    callbacks: list[TrainerCallback] = [RunInfoCallback(run.report.to_dict(), project)]
    if project.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=project.early_stopping_patience))
    run.test_datasets = tokenized.get("test") or {}
    return MultiTaskTrainer(
        model=model,
        args=training_args,
        train_datasets=tokenized["train"],
        eval_datasets=tokenized["validation"],
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=callbacks,
        sampling_strategy=project.sampling_strategy,
        sampling_temperature=project.sampling_temperature,
        head_learning_rate=project.head_learning_rate,
        layer_learning_rate_decay=project.layer_learning_rate_decay,
        qa_anchor_weight=project.qa_anchor_weight,
        distill_alpha=project.distill_alpha,
        distill_temperature=project.distill_temperature,
        run=run,
        recipe=project,
    )


def apply_balanced_priority(config, windows) -> None:
    """`balance_priority`: inverse-frequency priority class weights in the loss, so the rare critical calls count,
    and `case_prior_correction` in the decisions, which undoes the tilt the weights give the scores (the weights
    help the encoder learn the rare class; the decisions keep the data's own priors). Without the correction the
    argmax leaned to the rare classes: 0.415 by 3-fold estimate, against 0.631 for the majority answer."""
    config.case_class_weights = {**config.case_class_weights, **balanced_class_weights(windows, config, ["priority"])}
    config.case_prior_correction = True


def class_priors(windows, config, smoothing: float = 0.5) -> dict[str, list[float]]:
    """Per case head, its class frequencies over the training records (not windows), each count plus `smoothing`
    so a class absent from training keeps a little mass: the `case_class_priors` calibration mixes the scores with
    (`case_prior_mix`)."""
    import numpy as np

    _, first = np.unique(np.asarray(windows["example_id"]), return_index=True)
    priors: dict[str, list[float]] = {}
    for head, labels_of_head in config.case_heads.items():
        if f"cls_{head}" not in windows.column_names:
            continue
        labels = np.asarray(windows[f"cls_{head}"])[first]
        counts = np.bincount(labels[labels >= 0], minlength=len(labels_of_head)).astype(float) + smoothing
        priors[head] = [round(float(v), 6) for v in counts / counts.sum()]
    return priors


def balanced_class_weights(windows, config, heads: list[str]) -> dict[str, list[float]]:
    """Inverse-frequency class weights (`n / (classes x n_class)`, scikit-learn's "balanced") per case head, counted
    over training records (not windows: a long record must not count twice); a class absent from the training
    data gets weight 1."""
    import numpy as np

    example_ids = np.asarray(windows["example_id"])
    _, first = np.unique(example_ids, return_index=True)
    weights: dict[str, list[float]] = {}
    for head in heads:
        if head not in config.case_heads or f"cls_{head}" not in windows.column_names:
            continue
        labels = np.asarray(windows[f"cls_{head}"])[first]
        labels = labels[labels >= 0]
        size = len(config.case_heads[head])
        counts = np.bincount(labels, minlength=size).astype(float)
        present = counts > 0
        values = np.ones(size)
        values[present] = len(labels) / (present.sum() * counts[present])
        weights[head] = [round(float(v), 4) for v in values]
    return weights
