"""What the phases of a training run share: their names (`PHASES`), the record of the run they write into
(`RunRecord`), the failure of one (`PhaseFailed`) and the MLflow callback that tolerates a lost server.

The phases themselves are methods of `MultiTaskTrainer` (`train/trainer.py`): after the Trainer's training loop,
`save_trained`, `refit_heads`, `calibrate_heads`, `evaluate_final`, `plot_curves` and `write_card`, in the order
`PHASES` names them. Each leaves the output folder loadable and rewrites its `run_manifest.json`
(`train/run_folder.py`), so a phase that fails keeps the trained model and `--resume_phases true` runs the rest.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainerCallback
from transformers.integrations import MLflowCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from .distill import public_name
from .run_folder import RUN_MANIFEST, RunFolderWriter
from .run_settings import write_run_settings

logger = logging.getLogger(__name__)

# The phases of a run, in order; each ends with the output folder updated and its run_manifest.json rewritten.
# `train` is the training loop and the save of its model; the method of each phase is `PHASE_METHODS[phase]`.
PHASES = ("train", "refit", "calibrate", "evaluate", "curves", "card")
PHASE_METHODS = {
    "train": "save_trained", "refit": "refit_heads", "calibrate": "calibrate_heads", "evaluate": "evaluate_final",
    "curves": "plot_curves", "card": "write_card",
}  # fmt: skip
REPORT_NAME = "data_validation_report.json"
CURVES_NAME = "training_curves.png"
CALIBRATION_NAME = "calibration.json"
REFIT_NAME = "refit_heads.json"
TEACHER_OUTPUTS_NAME = "teacher_outputs.json"
TRAINING_STATE_NAME = "training_state.json"  # the log history and MLflow run id, for the phases after training


@dataclass
class RunRecord:
    """The run the phases write: its output folder (`RunFolderWriter`), its settings record (`run_settings`), what
    the card says about its data, and what the phases found (metrics, refit and calibration reports).

    Args:
        folder: the output folder's writer (run id, manifest, planned phases).
        settings: the `run_settings` record written beside the model and into each checkpoint.
        report: the data `ValidationReport` (counts and reasons, never text); None: the card names none.
        split_sizes: records per task and split, for the card.
        eval_data: what each task's validation figures were measured on (`describe_eval_data`).
        test_datasets: tokenised test splits calibration reports on (`{"cls": ..., "qa": ...}`), may be empty.
        teacher_outputs: distillation teachers' statistics, written with the trained model.
        write_report: write the data report with the trained model (not when finishing a run's phases).
        mlflow_run_id: the MLflow run of the whole job, once opened (or the one a resumed run reopens).
    """

    folder: RunFolderWriter
    settings: dict[str, Any]
    report: Any = None
    split_sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    eval_data: dict[str, dict] | None = None
    test_datasets: dict[str, Any] = field(default_factory=dict)
    teacher_outputs: dict[str, Any] | None = None
    write_report: bool = True
    mlflow_run_id: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    refit_report: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None

    @property
    def output_dir(self) -> Path:
        return self.folder.path

    def save_settings(self) -> None:
        if self.folder.active:
            write_run_settings(self.output_dir, self.settings, self.folder.run_id)
            self.folder.written.add("run_settings.json")


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


def planned_phases(recipe: Any, eval_tasks: Any) -> list[str]:
    """The phases a run goes through, in order (`PHASES`, less those its recipe turns off): `refit` with
    `refit_heads_epochs` or `qa_refit_c`, `calibrate` with `calibrate` and a case or quality validation set."""
    skipped = set()
    if not (getattr(recipe, "refit_heads_epochs", 0) or getattr(recipe, "qa_refit_c", None)):
        skipped.add("refit")
    if not (getattr(recipe, "calibrate", False) and {"cls", "qa"} & set(eval_tasks)):
        skipped.add("calibrate")
    return [phase for phase in PHASES if phase not in skipped]


def distillation_summary(recipe: Any) -> dict[str, Any] | None:
    """What the model card says about distillation: teachers by Hub id or "local model" (never a path), settings."""
    if not getattr(recipe, "teachers", None):
        return None
    return {
        "teachers": {task: public_name(source) for task, source in recipe.teachers.items()},
        "alpha": recipe.distill_alpha,
        "temperature": recipe.distill_temperature,
    }


def apply_umask(folder: Path) -> None:
    """Give the weights under `folder` the mode any new file gets (0666 less the umask): safetensors writes them
    with 0600, so a model folder shared with a team or a serving account would not be readable."""
    umask = os.umask(0)
    os.umask(umask)
    for path in Path(folder).rglob("*.safetensors"):
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


class TolerantMLflowCallback(MLflowCallback):
    """The Trainer's MLflow callback, logging into the run's one MLflow run (`MultiTaskTrainer.tracking_run` opens
    it before training, so the callback neither opens nor closes it), except that a tracking server that stops
    answering while the model trains costs the run's MLflow record, not the training: the first failure is one
    warning and the callback logs nothing more (each call would otherwise retry for minutes)."""

    failed = False

    def attach_to_open_run(self) -> None:
        """Log into the open (reopened) run without logging its parameters again (`--resume_phases`: MLflow
        refuses a changed parameter of an existing run, and calibration changed the config)."""
        self._initialized = True
        self._async_log = False  # set by the skipped setup

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
        return self._tolerant("on_train_end", args, state, control, **kwargs)
