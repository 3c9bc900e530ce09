"""The task registry: each task described once, so that code iterates over tasks instead of branching on them.

The payload (`modeling_attention_fusion/labels_attention_fusion.py`) holds what the model needs, `TaskInfo`: the id,
the result key, the model output and head attribute, the config field naming the heads, the label and
distillation columns. A [`TaskSpec`] is that entry with the training side added here: the data setting and its
loader, the tokeniser, the loss, the record-level fold and metrics of evaluation, the distillation loss, and
whether the head refit and the calibration apply to it. The payload never imports this module (it loads with
torch and transformers only).

A helpline that trains two tasks lists them (`tasks: [ner, cls]`): every loop below runs over the model's tasks
and looks each up here. A fourth task is one `TaskInfo` in the payload and one `TaskSpec` here.

Example:
    >>> from helpline_fusion.train.tasks import TASK_SPECS, task_spec
    >>> task_spec("cls").data_setting, task_spec("cls").result_key
    ('cases_file', 'case')
    >>> [spec.id for spec in TASK_SPECS.values() if spec.refit]
    ['cls', 'qa']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from ..data.loaders import load_cases, load_ner, load_qa
from ..data.tokenization import tokenize_cases, tokenize_ner, tokenize_qa
from ..modeling_attention_fusion.labels_attention_fusion import TASK_INFO, TaskInfo
from ..modeling_attention_fusion.modeling_attention_fusion import cls_loss, ner_loss, qa_loss
from . import metrics as M
from .distill import cls_kd_loss, ner_kd_loss, qa_kd_loss
from .evaluation import fold_cls, fold_ner, fold_qa


@dataclass(frozen=True, kw_only=True)
class TaskSpec(TaskInfo):
    """A task as training, evaluation and distillation see it: its payload `TaskInfo` and the data side.

    Args:
        data_setting: the training setting naming its data (`ner_file`, `cases_file`, `qa_file`).
        loader: `data.loaders` reader of that data: `(source, **options) -> (Dataset, FileReport)`.
        tokenise: `data.tokenization` windowing of the loaded records: `(dataset, tokenizer, config, **kw)`.
        loss: the hard loss, `(logits, labels, class_weights) -> Tensor` (`class_weights`: the config's
            `case_class_weights`, read by the tasks that weigh classes).
        fold: evaluation's per-record fold of `run_task` rows: `(rows, config) -> (gold, predicted)`.
        metrics: `(gold, predicted, config) -> {metric: value}` (the flat keys of `train/metrics.py`).
        distill_loss: the soft loss, `(student_logits, teacher_logits, labels, temperature) -> Tensor`.
        refit: its heads are re-fitted on frozen encoder states after training (`train/refit.py`).
        calibrated: calibration fits a temperature per head and reports its ECE (`train/calibration.py`).
        eval_setting: the setting naming a held-out validation file that replaces the split-off one
            (`qa_eval_file`), or `None`.
        train_window_settings: the settings of its own training window length and stride
            (`ner_train_window_length`, `ner_train_window_stride`), or `None`: the model's windows.
    """

    data_setting: str
    loader: Callable[..., Any] = field(repr=False)
    tokenise: Callable[..., Any] = field(repr=False)
    loss: Callable[..., Any] = field(repr=False)
    fold: Callable[..., Any] = field(repr=False)
    metrics: Callable[..., dict[str, float]] = field(repr=False)
    distill_loss: Callable[..., Any] = field(repr=False)
    refit: bool = False
    calibrated: bool = False
    eval_setting: str | None = None
    train_window_settings: tuple[str, str] | None = None

    @classmethod
    def extend(cls, info: TaskInfo, **data_side: Any) -> TaskSpec:
        """The payload's `info` with the training side added."""
        return cls(**{f.name: getattr(info, f.name) for f in fields(TaskInfo)}, **data_side)


# ----------------------------------------------------------------------------- adapters to one signature per role
def _ner_loss(logits: Any, labels: Any, class_weights: Any = None) -> Any:
    return ner_loss(logits, labels)


def _qa_loss(logits: Any, labels: Any, class_weights: Any = None) -> Any:
    return qa_loss(logits, labels)


def _cls_kd_loss(student: Any, teacher: Any, labels: Any, temperature: float) -> Any:
    return cls_kd_loss(student, teacher, temperature)  # every window: the teacher has an opinion without a label


def _ner_metrics(gold: Any, pred: Any, config: Any) -> dict[str, float]:
    return M.ner_metrics(gold, pred, config.ner_entity_types)


def _cls_metrics(gold: Any, pred: Any, config: Any) -> dict[str, float]:
    priorities = config.case_heads.get("priority", [])
    critical_id = priorities.index(config.critical_priority) if config.critical_priority in priorities else None
    return M.cls_metrics(gold, pred, critical_id)


def _qa_metrics(gold: Any, pred: Any, config: Any) -> dict[str, float]:
    return M.qa_metrics(gold, pred)


def _fold_ner(rows: list[dict], config: Any) -> Any:
    return fold_ner(rows, config.ner_labels)


# ----------------------------------------------------------------------------- the registry
TASK_SPECS: dict[str, TaskSpec] = {
    "ner": TaskSpec.extend(
        TASK_INFO["ner"], data_setting="ner_file", loader=load_ner, tokenise=tokenize_ner, loss=_ner_loss,
        fold=_fold_ner, metrics=_ner_metrics, distill_loss=ner_kd_loss,
        train_window_settings=("ner_train_window_length", "ner_train_window_stride"),
    ),
    "cls": TaskSpec.extend(
        TASK_INFO["cls"], data_setting="cases_file", loader=load_cases, tokenise=tokenize_cases, loss=cls_loss,
        fold=fold_cls, metrics=_cls_metrics, distill_loss=_cls_kd_loss, refit=True, calibrated=True,
    ),
    "qa": TaskSpec.extend(
        TASK_INFO["qa"], data_setting="qa_file", loader=load_qa, tokenise=tokenize_qa, loss=_qa_loss,
        fold=fold_qa, metrics=_qa_metrics, distill_loss=qa_kd_loss, refit=True, calibrated=True,
        eval_setting="qa_eval_file",
    ),
}  # fmt: skip


def task_spec(task: str) -> TaskSpec:
    """The registry entry of `task`; an unknown id is refused naming the valid ones."""
    try:
        return TASK_SPECS[task]
    except KeyError:
        raise ValueError(f"task: unknown task {task!r}; valid: {list(TASK_SPECS)}") from None


__all__ = ["TASK_SPECS", "TaskSpec", "task_spec"]
