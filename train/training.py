"""The training job behind `train/run.py`: data -> validation report -> splits -> windows -> MultiTaskTrainer -> a
Hub-ready output folder.

After `trainer.train()` the run goes through named phases (`PHASES`: train, refit, calibrate, evaluate, curves,
card; `RunPhases`, one method each). The first saves the trained model at once; each phase then updates the
folder (atomic writes, `train/run_folder.py`) and rewrites its `run_manifest.json`, so a phase that fails leaves a
loadable model and `--resume_phases true` runs what is left without training again."""

from __future__ import annotations

import json
import logging
import os
import shutil
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from transformers import AutoConfig, EarlyStoppingCallback, TrainerCallback, TrainingArguments, set_seed
from transformers.integrations import MLflowCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ..data.collator import MultiTaskCollator
from ..data.labels import config_kwargs_from_data
from ..data.loaders import load_all_splits, load_qa
from ..data.splits import use_or_split
from ..data.tokenization import tokenize_task
from ..data.validation import log_report
from ..modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from .calibration import calibrate, calibration_metrics
from .checkpoints import resolve_resume
from .curves import plot_training_curves
from .distill import CACHE_DIR_NAME, check_distill_settings, parse_teachers, prepare_teachers, public_name
from .finetune import load_for_finetuning
from .model_card import render_model_card
from .publish import push_with_trainer
from .refit import refit_pooled_heads
from .run_folder import (
    RUN_MANIFEST,
    MixedRunFolderError,
    RunFolderWriter,
    check_run_folder,
    new_run_id,
    output_dir_lock,
)
from .run_settings import (
    RUN_SETTINGS_NAME,
    differing_settings,
    read_run_settings,
    run_settings,
    settings_digest,
    write_run_settings,
)
from .settings import ProjectArguments, resolve_encoder, source_options
from .sources import check_model_folder, load_tokenizer
from .trainer import MultiTaskTrainer

logger = logging.getLogger(__name__)

REPORT_NAME = "data_validation_report.json"
CURVES_NAME = "training_curves.png"
CALIBRATION_NAME = "calibration.json"
REFIT_NAME = "refit_heads.json"
TEACHER_OUTPUTS_NAME = "teacher_outputs.json"
TRAINING_STATE_NAME = "training_state.json"  # the log history and MLflow run id, for the phases after training
# The phases of a run, in order; each ends with the output folder updated and its run_manifest.json rewritten.
PHASES = ("train", "refit", "calibrate", "evaluate", "curves", "card")
ATTENTION_DROPOUT_NAMES = ("attention_probs_dropout_prob", "attention_dropout")  # BERT-like, DistilBERT/DeBERTa
SOURCE_SETTINGS = {"ner": "ner_file", "cls": "cases_file", "qa": "qa_file"}


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
        synthetic = {"ner": files["ner_file"], "cls": files["cases_file"], "qa": files["qa_file"]}
        for task in missing:
            sources[task] = str(synthetic[task])
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
    if "qa" in described and project.qa_eval_file:
        described["qa"] = describe(project.qa_eval_file, "validation")
    return described


def build_model(project: ProjectArguments, label_kwargs: dict[str, Any]) -> AttentionFusionModel:
    model_kwargs = dict(
        tasks=project.tasks,
        pooling=project.pooling,
        classifier_dropout=project.classifier_dropout,
        task_loss_weights={"ner": project.loss_weight_ner, "cls": project.loss_weight_cls, "qa": project.loss_weight_qa},
        window_length=project.window_length,
        window_stride=project.window_stride,
        **label_kwargs,
    )
    for name in ("ner_head", "ner_label_all_subwords", "pool_layer_norm", "pool_layer_mix", "pool_per_head",
                 "qa_pooling", "speaker_pattern"):  # unset: the config's default, or the parent model's
        if getattr(project, name) is not None:
            model_kwargs[name] = getattr(project, name)
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
    return model


def apply_umask(folder: Path) -> None:
    """Give the weights under `folder` the mode any new file gets (0666 less the umask): safetensors writes them
    with 0600, so a model folder shared with a team or a serving account would not be readable."""
    umask = os.umask(0)
    os.umask(umask)
    for path in folder.rglob("*.safetensors"):
        path.chmod(0o666 & ~umask)


def remove_checkpoints(output_dir: Path) -> list[str]:
    """Remove the Trainer's `checkpoint-*` folders (the final model is saved beside them); returns their names."""
    removed = sorted(path.name for path in output_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if path.is_dir())
    for name in removed:
        shutil.rmtree(output_dir / name)
    return removed


class UmaskCallback(TrainerCallback):
    """Checkpoint weights get the user's umask too (see `apply_umask`)."""

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
            if folder.is_dir():
                apply_umask(folder)


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
    qa_eval = None
    if "qa" in loaded and project.qa_eval_file:
        qa_eval, qa_eval_report = load_qa(
            project.qa_eval_file, config=base_config, labels_from_data=project.labels_from_data,
            columns=options["qa"]["columns"],
        )  # fmt: skip
        report.add(qa_eval_report)
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
        with_test = project.calibrate and task in ("cls", "qa") and not (task == "qa" and qa_eval is not None)
        # A validation/test split the data already has (a Hub dataset's) is used, not re-split (data/splits.py).
        parts = use_or_split(
            given[task], validation_size=project.validation_size, seed=training_args.seed,
            test_size=project.test_fraction if with_test else 0.0,
        )  # fmt: skip
        train_ds, val_ds = parts["train"], parts["validation"]
        if task == "qa" and qa_eval is not None:
            train_ds = dataset  # the held-out template set is the validation set; keep every training record
            val_ds = qa_eval
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
    """Run the job: train, then the phases `PHASES` names, each leaving the output folder loadable and its
    `run_manifest.json` saying what is done (`train/run_folder.py`). A later phase that fails raises `PhaseFailed`
    after the trained model is saved; `--resume_phases true` with the same settings runs the phases left."""
    settings = run_settings(project, training_args)  # as given, before bf16 is resolved and data paths filled in
    hide_hub_token(training_args)
    resolve_bf16(training_args)
    # The model we start from exists or can be had (a mistyped folder or an unreachable Hub id fails here, in one
    # line), before anything is written.
    source = check_model_folder(project.init_from) if project.init_from else resolve_encoder(project.encoder)
    output_dir = Path(training_args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    main_process = training_args.process_index == 0
    with output_dir_lock(output_dir) if main_process else nullcontext():  # a second training here is refused
        if project.resume_phases:
            return _finish_phases(project, training_args, settings)
        return _train_and_finish(project, training_args, settings, source)


def hide_hub_token(training_args: TrainingArguments) -> None:
    """A `--hub_token` given in the settings moves to this process's `HF_TOKEN` (where the Hub client and the push
    read it) and leaves the arguments, so that the Trainer's `training_args.bin` pickles no secret."""
    if training_args.hub_token:
        os.environ["HF_TOKEN"] = training_args.hub_token
        training_args.hub_token = None


def _train_and_finish(project, training_args, settings: dict, source: str) -> dict[str, Any]:
    output_dir = Path(training_args.output_dir)
    # Before any work: never a half-written checkpoint, never one that other settings trained.
    resume = resolve_resume(training_args.resume_from_checkpoint, output_dir, expected=settings)
    project.teachers = parse_teachers(project.teachers)  # bad distillation settings fail before any data work
    check_distill_settings(project.teachers, project.tasks, project.distill_alpha, project.distill_temperature)
    if project.refit_heads_epochs < 0:
        raise ValueError(f"refit_heads_epochs: expected 0 or more epochs, got {project.refit_heads_epochs}")
    set_seed(training_args.seed)  # before the heads are initialised: a run is reproducible from its seed
    revision = project.init_from_revision if project.init_from else None
    # transformers' classes, no downloaded code; saved with the model without loading state (local_files_only...)
    tokenizer = load_tokenizer(source, revision=revision)
    base_config = (
        AttentionFusionConfig.from_pretrained(project.init_from, revision=revision)
        if project.init_from else AttentionFusionConfig()
    )  # fmt: skip
    folder = RunFolderWriter(
        output_dir, new_run_id(), settings_digest(settings), active=training_args.process_index == 0
    )
    data = prepare_job_data(project, training_args, tokenizer, base_config, folder)
    model = build_model(project, data["label_kwargs"])
    tokenized = tokenize_splits(project, training_args, data["splits"], tokenizer, model.config)
    if project.balance_priority and "cls" in tokenized["train"]:
        config = model.config
        weights = balanced_class_weights(tokenized["train"]["cls"], config, ["priority"])
        config.case_class_weights = {**config.case_class_weights, **weights}
        logger.info("priority loss class weights (inverse frequency): %s", config.case_class_weights.get("priority"))
    align_special_tokens(model.config, tokenizer)
    collator = MultiTaskCollator(tokenizer, model.config)
    if project.teachers:
        # Soft targets once per training window, cached with the tokenised data (train/distill.py).
        with training_args.main_process_first(desc="teacher outputs"):
            tokenized["train"], teacher_stats = prepare_teachers(
                project.teachers, tokenized["train"], tokenizer, model.config, collator,
                batch_size=training_args.per_device_eval_batch_size, cache_dir=output_dir / CACHE_DIR_NAME,
                device=training_args.device,
            )  # fmt: skip
        data["teacher_outputs"] = {"teachers": teacher_stats}  # written with the trained model (save_trained)
    run_info = RunInfoCallback(data["report"].to_dict(), project)
    trainer = build_trainer(project, training_args, model, tokenizer, collator, tokenized, run_info, folder, settings)
    folder.plan(planned_phases(project, tokenized))
    trainer.train(resume_from_checkpoint=resume)
    job = RunPhases(trainer, project, training_args, folder, settings, data, tokenized, run_info.run_id)
    job.run_phase("train", job.save_trained)
    return job.finish()


def _finish_phases(project, training_args, settings: dict) -> dict[str, Any]:
    """`--resume_phases true`: load the model this output folder saved after training and run the phases its
    manifest does not list as done, with the run's own settings (refused when they differ)."""
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
    state = json.loads((output_dir / TRAINING_STATE_NAME).read_text(encoding="utf-8"))
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
    data = prepare_job_data(project, training_args, tokenizer, model.config, folder, write_report=False)
    tokenized = tokenize_splits(project, training_args, data["splits"], tokenizer, model.config)
    collator = MultiTaskCollator(tokenizer, model.config)
    run_info = RunInfoCallback(data["report"].to_dict(), project)
    trainer = build_trainer(project, training_args, model, tokenizer, collator, tokenized, run_info, folder, settings)
    trainer.state.global_step, trainer.state.epoch = state.get("global_step", 0), state.get("epoch")
    trainer.state.log_history = state.get("log_history", [])
    # Its setup would log the (now calibrated) config as params again, which MLflow refuses for an existing run;
    # the evaluate phase logs its metrics into the reopened run itself.
    trainer.remove_callback(MLflowCallback)
    logger.info("resume_phases: %s holds phases %s; running %s", output_dir, folder.done, folder.pending)
    job = RunPhases(trainer, project, training_args, folder, settings, data, tokenized, state.get("mlflow_run_id"))
    job.restore(state)
    return job.finish()


def prepare_job_data(project, training_args, tokenizer, base_config, folder, write_report: bool = True) -> dict:
    with training_args.main_process_first(desc="loading and tokenising data"):
        splits, report, label_kwargs, eval_data = prepare_data(project, training_args, tokenizer, base_config)
    if write_report and folder.active:
        log_report(report)
    # The report is written into the folder with the trained model (`RunPhases.save_trained`), not before training:
    # a run that fails or is killed while training leaves a previous run in the same folder whole.
    return {"splits": splits, "report": report, "label_kwargs": label_kwargs, "eval_data": eval_data,
            "write_report": write_report}  # fmt: skip


def tokenize_splits(project, training_args, splits, tokenizer, config) -> dict[str, dict[str, Any]]:
    tokenized: dict[str, dict[str, Any]] = {"train": {}, "validation": {}}
    with training_args.main_process_first(desc="tokenising"):
        for task, parts in splits.items():
            for name, dataset in parts.items():
                length, stride = config.window_length, config.window_stride
                own_windows = task == "ner" and name == "train" and bool(project.ner_train_window_length)
                if own_windows:
                    length = project.ner_train_window_length
                    stride = project.ner_train_window_stride
                    stride = length // 4 if stride is None else stride
                try:
                    tokenized.setdefault(name, {})[task] = tokenize_task(
                        task, dataset, tokenizer, config, max_length=length, stride=stride
                    )
                except ValueError as error:
                    if not own_windows:
                        raise
                    raise ValueError(
                        f"ner_train_window_length / ner_train_window_stride ({length} / {stride}): {error}"
                    ) from error
    return tokenized


def align_special_tokens(config, tokenizer) -> None:
    """The Trainer aligns the config's special tokens with the tokenizer's, warning that it did; they are the
    tokenizer's by design, so set them here (nothing for a user to act on)."""
    text_config = config.get_text_config()
    for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
        if getattr(tokenizer, name, None) is not None:
            setattr(text_config, name, getattr(tokenizer, name))


def build_trainer(project, training_args, model, tokenizer, collator, tokenized, run_info, folder, settings):
    training_args.remove_unused_columns = False
    if training_args.push_to_hub:
        # Checkpoint pushes would leave untagged, partial models on main; the complete folder is published at
        # the end instead (the Trainer still creates the repo up front, so a bad token fails before training).
        training_args.hub_strategy = "end"
        if training_args.hub_private_repo is None:  # private unless `--hub_private_repo false` (publish.py)
            training_args.hub_private_repo = True
    callbacks: list[TrainerCallback] = [run_info, UmaskCallback(), RunSettingsCallback(settings, folder.run_id)]
    if project.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=project.early_stopping_patience))
    trainer = MultiTaskTrainer(
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
        distill_alpha=project.distill_alpha,
        distill_temperature=project.distill_temperature,
    )
    callbacks = trainer.callback_handler.callbacks
    for index, callback in enumerate(callbacks):
        if type(callback) is MLflowCallback:  # in its place: RunInfoCallback reads the run it opens at train begin
            callbacks[index] = TolerantMLflowCallback()
    return trainer


class TolerantMLflowCallback(MLflowCallback):
    """The Trainer's MLflow callback, except that a tracking server that stops answering while the model trains
    costs the run's MLflow record, not the training: the first failure is one warning and the callback logs
    nothing more (each call would otherwise retry for minutes); the model is saved when training ends, and the
    phases after it reopen the MLflow run (a failure there names the phase and how to finish it)."""

    failed = False

    def _tolerant(self, name: str, *args, **kwargs):
        if self.failed:
            return None
        try:
            return getattr(super(), name)(*args, **kwargs)
        except Exception as error:  # MLflow raises its own errors and the HTTP client's
            self.failed = True
            logger.warning(
                "MLflow logging failed (%s: %s); training goes on without it, and the trained model is still saved",
                type(error).__name__, str(error).splitlines()[0] if str(error) else "",
            )  # fmt: skip
            return None

    def on_train_begin(self, args, state, control, **kwargs):
        return self._tolerant("on_train_begin", args, state, control, **kwargs)

    def on_log(self, args, state, control, logs, model=None, **kwargs):
        return self._tolerant("on_log", args, state, control, logs, model=model, **kwargs)

    def on_save(self, args, state, control, **kwargs):
        return self._tolerant("on_save", args, state, control, **kwargs)

    def on_train_end(self, args, state, control, **kwargs):
        if self.failed and self._initialized:  # close the run locally, so that the phases can reopen it by id
            try:
                self._ml_flow.end_run()
            except Exception:  # the server still gone: the later phases say so, naming themselves
                pass
            return None
        return self._tolerant("on_train_end", args, state, control, **kwargs)


def planned_phases(project, tokenized) -> list[str]:
    """The phases this run will go through, in order (`PHASES`, less those its settings turn off)."""
    skipped = set()
    if not project.refit_heads_epochs:
        skipped.add("refit")
    if not (project.calibrate and {"cls", "qa"} & set(tokenized["validation"])):
        skipped.add("calibrate")
    return [phase for phase in PHASES if phase not in skipped]


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


def distillation_summary(project: ProjectArguments) -> dict[str, Any] | None:
    """What the model card says about distillation: teachers by Hub id or "local model" (never a path), settings."""
    if not project.teachers:
        return None
    return {
        "teachers": {task: public_name(source) for task, source in project.teachers.items()},
        "alpha": project.distill_alpha,
        "temperature": project.distill_temperature,
    }


class PhaseFailed(RuntimeError):
    """A phase of the run failed. `done` and `pending` are the manifest's; when `train` is done the trained model
    is saved and `--resume_phases true` (same settings) runs the pending phases without training again."""

    def __init__(self, phase: str, output_dir: Path, done: list[str], pending: list[str], error: BaseException):
        self.phase, self.output_dir, self.done, self.pending, self.error = phase, output_dir, done, pending, error
        super().__init__(self.message())

    def message(self, command: str = "helpline-fusion train <these settings> --resume_phases true") -> str:
        cause = f"{type(self.error).__name__}: {self.error}".splitlines()[0]
        if "train" not in self.done:
            return (
                f"phase 'train' failed while saving the trained model to {self.output_dir} ({cause}); no model was "
                f"saved there (nothing half-written is kept: {RUN_MANIFEST} does not list it); free space and train again"
            )
        return (
            f"phase '{self.phase}' failed ({cause}); the trained model is saved in {self.output_dir} (phases done: "
            f"{', '.join(self.done)}). Run the remaining phases ({', '.join(self.pending)}) without retraining: {command}"
        )


class RunSettingsCallback(TrainerCallback):
    """Every checkpoint carries the run's `run_settings.json` (run id, settings digest), so that resuming from it
    can be refused when this run's settings differ (`checkpoints.check_resume_settings`)."""

    def __init__(self, settings: dict, run_id: str) -> None:
        self.settings, self.run_id = settings, run_id

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
            if folder.is_dir():
                write_run_settings(folder, self.settings, self.run_id)


class RunPhases:
    """The phases after `trainer.train()`, each a method (`save_trained`, `refit`, `calibrate`, `evaluate`,
    `curves`, `card`) that leaves the output folder loadable and rewrites its manifest; `finish` runs those the
    manifest does not list as done, then removes checkpoints and pushes as asked."""

    def __init__(self, trainer, project, training_args, folder, settings, data, tokenized, mlflow_run_id=None):
        self.trainer, self.project, self.args, self.folder = trainer, project, training_args, folder
        self.settings, self.data, self.tokenized = settings, data, tokenized
        self.mlflow_run_id = mlflow_run_id
        # Whether the Trainer's MLflow callback logs the final evaluation (not when the run was resumed in phases).
        self.callback_logs_mlflow = any(isinstance(c, MLflowCallback) for c in trainer.callback_handler.callbacks)
        self.output_dir = Path(training_args.output_dir)
        self.metrics: dict[str, Any] = {}
        self.refit_report: dict | None = None
        self.calibration: dict | None = None

    @property
    def model(self):
        return self.trainer.accelerator.unwrap_model(self.trainer.model)

    def restore(self, state: dict) -> None:
        """What earlier phases of this run left in the folder (`--resume_phases`)."""
        self.metrics = state.get("metrics") or {}
        for name, attribute in ((REFIT_NAME, "refit_report"), (CALIBRATION_NAME, "calibration")):
            path = self.output_dir / name
            if path.is_file():
                record = json.loads(path.read_text(encoding="utf-8"))
                record.pop("run_id", None)
                setattr(self, attribute, record)

    def run_phase(self, phase: str, step) -> None:
        try:
            step()
            self.folder.phase_done(phase)
        except Exception as error:
            raise PhaseFailed(phase, self.output_dir, list(self.folder.done), self.folder.pending, error) from error

    def finish(self) -> dict[str, Any]:
        steps = {"refit": self.refit, "calibrate": self.calibrate_heads, "evaluate": self.evaluate,
                 "curves": self.curves, "card": self.card}  # fmt: skip
        for phase in list(self.folder.pending):
            self.run_phase(phase, steps[phase])
        if self.folder.active and not self.project.keep_checkpoints:  # they served best-model selection and resuming
            removed = remove_checkpoints(self.output_dir)
            if removed:
                logger.info("removed %s (keep_checkpoints: false)", ", ".join(removed))
        if self.args.push_to_hub:
            # One curated commit and a version tag at the end (`push_with_trainer`), no checkpoint pushes before.
            if self.folder.active:
                self.model.model_card = (self.output_dir / "README.md").read_text(encoding="utf-8")
            push_with_trainer(self.trainer, commit_message="helpline-fusion training run")
        eval_data = self.data["eval_data"]
        return {"metrics": self.metrics, "output_dir": str(self.output_dir), "trainer": self.trainer, "eval_data": eval_data}

    # ------------------------------------------------------------------ phases
    def save_model(self) -> None:
        # `_internal_call`: with --push_to_hub, save_model would push a half-made folder; the one push is at the end.
        self.folder.save_with(lambda staging: self.trainer.save_model(str(staging), _internal_call=True))
        if self.folder.active:
            apply_umask(self.output_dir)

    def write_state(self) -> None:
        state = self.trainer.state
        self.folder.write_json(TRAINING_STATE_NAME, {
            "global_step": state.global_step, "epoch": state.epoch, "log_history": state.log_history,
            "mlflow_run_id": self.mlflow_run_id, "metrics": self.metrics,
        })  # fmt: skip

    def save_trained(self) -> None:
        """The trained model, as soon as training returns: weights and remote code, config, tokenizer, label maps,
        the run's settings and its log history."""
        self.save_model()
        self.folder.write_json("label_maps.json", self.model.config.label_maps())
        if self.data.get("write_report"):
            self.folder.write_json(REPORT_NAME, self.data["report"].to_dict())
        if self.data.get("teacher_outputs"):
            self.folder.write_json(TEACHER_OUTPUTS_NAME, self.data["teacher_outputs"])
        if self.folder.active:
            write_run_settings(self.output_dir, self.settings, self.folder.run_id)
            self.folder.written.add(RUN_SETTINGS_NAME)
        self.write_state()
        self.folder.remove_stale()

    def refit(self) -> None:
        # The case and quality heads catch up with the final encoder (train/refit.py), before calibration fits
        # their temperatures and thresholds.
        args, model = self.args, self.model
        self.refit_report = refit_pooled_heads(
            model, self.tokenized["train"], self.trainer.data_collator,
            epochs=self.project.refit_heads_epochs, learning_rate=self.project.head_learning_rate or args.learning_rate,
            weight_decay=args.weight_decay, decay_parameter_names=self.trainer.get_decay_parameter_names(model),
            batch_size=args.per_device_train_batch_size,
            seed=args.seed, max_grad_norm=args.max_grad_norm, bf16=args.bf16,
        )  # fmt: skip
        self.save_model()
        self.folder.write_json(REFIT_NAME, self.refit_report)

    def calibrate_heads(self) -> None:
        # Temperatures, the critical threshold and the review thresholds, fitted on validation, stored in the config.
        self.calibration = calibrate(
            self.model, self.tokenized["validation"], self.trainer.data_collator,
            critical_recall_target=self.project.critical_recall_target, review_share=self.project.review_share,
            batch_size=self.args.per_device_eval_batch_size, bf16=self.args.bf16,
            test_datasets=self.tokenized.get("test"),
        )  # fmt: skip
        self.save_model()  # the config now holds them
        self.folder.write_json(CALIBRATION_NAME, self.calibration)

    def evaluate(self) -> None:
        """The final (best, when load_best_model_at_end) model's metrics, logged into the run's MLflow run (which
        the Trainer's callback closed when training ended), with the refit and calibration reports."""
        with self.mlflow_run() as mlflow:
            metrics = self.trainer.evaluate()
            if mlflow is not None:
                if not self.callback_logs_mlflow:
                    numeric = {key: value for key, value in metrics.items() if isinstance(value, (int, float))}
                    mlflow.log_metrics(numeric, step=self.trainer.state.global_step)
                if self.refit_report:
                    mlflow.log_dict(self.refit_report, REFIT_NAME)
                if self.calibration is not None:
                    mlflow.log_dict(self.calibration, CALIBRATION_NAME)
                    mlflow.log_metrics(calibration_metrics(self.calibration))
        if self.calibration is not None:  # eval_results.json stays validation-only; held-out figures: calibration.json
            metrics.update(calibration_metrics(self.calibration, held_out=False))
        self.metrics = metrics
        self.folder.write_json("eval_results.json", {
            key.removeprefix("eval_"): value for key, value in sorted(metrics.items()) if isinstance(value, (int, float))
        })  # fmt: skip
        self.write_state()

    def curves(self) -> None:
        self.folder.save_with(lambda staging: plot_training_curves(self.trainer.state.log_history, staging / CURVES_NAME))
        with self.mlflow_run() as mlflow:
            if mlflow is not None:
                mlflow.log_artifact(str(self.output_dir / CURVES_NAME))

    def card(self) -> None:
        project, args, model = self.project, self.args, self.model
        splits = self.data["splits"]
        card = render_model_card(
            model.config,
            self.metrics,
            repo_id=args.hub_model_id or f"org/{self.output_dir.name}",
            base_model=model.config.base_model_name,
            training_args=args,
            validation_report=self.data["report"].to_dict(),
            split_sizes={task: {name: len(ds) for name, ds in parts.items()} for task, parts in splits.items()},
            sampling_strategy=project.sampling_strategy,
            license=project.license,
            eval_data=self.data["eval_data"],
            distillation=distillation_summary(project),
            refit_heads_epochs=(self.refit_report or {}).get("epochs", 0),
            calibration=self.calibration,
        )
        self.folder.save_with(lambda staging: card.save(staging / "README.md"))
        model.model_card = str(card)  # what `model.push_to_hub(...)` publishes from this process

    @contextmanager
    def mlflow_run(self):
        """The run's MLflow run, reopened on the main process (None when the run reports to no MLflow)."""
        if (
            not self.mlflow_run_id
            or "mlflow" not in (self.args.report_to or [])  # e.g. `--resume_phases true --report_to none`
            or not self.trainer.is_world_process_zero()
        ):
            yield None
            return
        import mlflow

        active = mlflow.active_run()
        if active is not None and active.info.run_id == self.mlflow_run_id:  # still open (training could not close it)
            yield mlflow
            return
        with mlflow.start_run(run_id=self.mlflow_run_id):
            yield mlflow
