"""Training curves from a Trainer's `state.log_history`, as one PNG.

Two panels side by side: the per-task training losses (`loss_ner`, `loss_cls`, `loss_qa`, with the total
`loss` dashed) and the headline validation metrics (`ner_f1`, each `cls_<head>_accuracy`,
`cls_priority_critical_recall`, the mean quality F1 over heads, `composite`). Counts (`*_support_*`), timings
and the end-of-run summary are left out. `curve_series` does the selection and is pure, so it is tested
without drawing. Drawing goes through `matplotlib.figure.Figure` and the Agg canvas, never pyplot, so no
global backend state is touched and nothing needs a display.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

Series = dict[str, list[tuple[int, float]]]

QA_MACRO_LABEL = "quality macro-F1 (mean of heads)"
QA_MICRO_LABEL = "quality F1 (mean of heads)"

_LOSS_KEY = re.compile(r"^loss(_[A-Za-z0-9]+)?$")
_CLS_ACCURACY = re.compile(r"^eval_cls_(.+)_accuracy$")
_QA_MACRO = re.compile(r"^eval_qa_(.+)_macro_f1$")
_QA_F1 = re.compile(r"^eval_qa_(.+)_f1$")


def _number(value: Any) -> float | None:
    """A finite float, or None for anything else (strings, bools, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _last_per_step(entries: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Entries keyed by integer step, the last one winning for a repeated step, in step order."""
    by_step: dict[int, dict[str, Any]] = {}
    for entry in entries:
        by_step[int(entry["step"])] = entry
    return sorted(by_step.items())


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def curve_series(log_history: list[dict[str, Any]]) -> tuple[Series, Series]:
    """(loss series, validation series): name -> [(step, value)] in step order, one point per step.

    Loss names are the logged keys (`loss`, `loss_<task>`); validation names drop the `eval_` prefix, except
    the quality mean, named `QA_MACRO_LABEL` when `eval_qa_<head>_macro_f1` was logged and otherwise
    `QA_MICRO_LABEL` (mean of `eval_qa_<head>_f1`). Several evaluations at one step keep the last.
    """
    entries = [e for e in log_history or [] if "step" in e and "train_runtime" not in e]
    train = [e for e in entries if any(_LOSS_KEY.match(k) for k in e)]
    evals = [e for e in entries if any(k.startswith("eval_") for k in e)]

    losses: Series = {}
    for step, entry in _last_per_step(train):
        for key in sorted(k for k in entry if _LOSS_KEY.match(k)):
            value = _number(entry[key])
            if value is not None:
                losses.setdefault(key, []).append((step, value))
    # Total first, then tasks alphabetically.
    losses = {k: losses[k] for k in sorted(losses, key=lambda k: (k != "loss", k))}

    evals_by_step = _last_per_step(evals)
    cls_heads = sorted({
        m.group(1) for _, e in evals_by_step for k in e
        if (m := _CLS_ACCURACY.match(k)) and not m.group(1).endswith("_majority")  # baselines, not curves
    })  # fmt: skip
    use_macro = any(_QA_MACRO.match(k) for _, e in evals_by_step for k in e)

    names = ["ner_f1", *(f"cls_{h}_accuracy" for h in cls_heads), "cls_priority_critical_recall"]
    validation: Series = {}
    for step, entry in evals_by_step:
        points: dict[str, float | None] = {name: _number(entry.get(f"eval_{name}")) for name in names}
        if use_macro:
            qa = [_number(v) for k, v in entry.items() if _QA_MACRO.match(k)]
            points[QA_MACRO_LABEL] = _mean(qa)
        else:
            qa = [_number(v) for k, v in entry.items() if _QA_F1.match(k) and "_support_" not in k]
            points[QA_MICRO_LABEL] = _mean(qa)
        points["composite"] = _number(entry.get("eval_composite"))
        for name, value in points.items():
            if value is not None:
                validation.setdefault(name, []).append((step, value))
    order = [*names, QA_MACRO_LABEL, QA_MICRO_LABEL, "composite"]
    validation = {name: validation[name] for name in order if name in validation}
    return losses, validation


def _total_steps(log_history: list[dict[str, Any]]) -> int:
    steps = [int(e["step"]) for e in log_history or [] if isinstance(e.get("step"), (int, float))]
    return max(steps, default=0)


def plot_training_curves(log_history: list[dict[str, Any]], path: str | Path) -> Path:
    """Write the loss and validation panels for `log_history` to the PNG `path` (parents created); returns it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    losses, validation = curve_series(log_history)

    figure = Figure(figsize=(13, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, eval_axes = figure.subplots(1, 2)
    total_steps = _total_steps(log_history)
    figure.suptitle(f"{total_steps} steps")
    for axes in (loss_axes, eval_axes):
        # Both panels span the whole run, so a lone end-of-run evaluation sits where it happened.
        axes.set_xlim(0, max(total_steps, 1) * 1.03)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))

    _plot_losses(loss_axes, losses)
    _plot_validation(eval_axes, validation)

    figure.savefig(path, format="png")
    return path


def _plot_losses(loss_axes: Any, losses: Series) -> None:
    """The left panel: the total training loss (dashed, black) and each task's loss by step."""
    loss_axes.set_title("training loss")
    loss_axes.set_xlabel("step")
    if losses:
        for name, points in losses.items():
            steps, values = zip(*points)
            loss_axes.plot(
                steps,
                values,
                label=name,
                linestyle="--" if name == "loss" else "-",
                color="black" if name == "loss" else None,
                marker="o" if len(points) == 1 else None,
                linewidth=1.2,
            )
        loss_axes.legend(loc="upper right", fontsize="small")
        loss_axes.grid(alpha=0.3)
    else:
        loss_axes.text(0.5, 0.5, "no training loss logged", ha="center", va="center", transform=loss_axes.transAxes)


def _plot_validation(eval_axes: Any, validation: Series) -> None:
    """The right panel: each validation metric by step, the composite drawn thicker in black."""
    eval_axes.set_title("validation")
    eval_axes.set_xlabel("step")
    eval_axes.set_ylim(0, 1.02)
    if validation:
        for name, points in validation.items():
            steps, values = zip(*points)
            composite = name == "composite"
            eval_axes.plot(
                steps,
                values,
                label=name,
                marker="o",
                markersize=5 if composite else 4,
                linewidth=2.0 if composite else 1.2,
                color="black" if composite else None,
            )
        eval_axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
        eval_axes.grid(alpha=0.3)
    else:
        eval_axes.text(0.5, 0.5, "no evaluation yet", ha="center", va="center", transform=eval_axes.transAxes)
