"""An evaluation a person reads: the figures grouped by task, each beside its trivial baseline, and the plots.

`evaluate` scores a model on tokenised data once and keeps what the report and the plots need: the metrics of
`evaluation.evaluate_tasks` (the trainer's keys, the machine output), the per-record decisions and the windows'
scores. `format_report` prints, per task:

- **NER**: entity-level F1, precision and recall (seqeval, strict IOB2) beside the all-`O` answer, and seqeval's
  per-type table;
- **case**: accuracy and macro F1 per head beside the majority class's (`cls_<head>_majority_accuracy`);
- **call quality**: F1 of "met", accuracy and macro F1 per head beside answering "met" everywhere
  (`qa_<head>_f1_all_met`);
- **safety**: critical recall, precision and false alarms per 100 calls at the model's critical threshold, beside
  answering "critical" everywhere, and the calibration report's ECE when the model folder has one.

Every baseline is the constant answer scored by the same functions (`metrics.py`, `calibration.critical_figures`).

`write_plots` draws (matplotlib's Agg canvas, never pyplot): confusion matrices of priority and main category, a
reliability diagram per calibrated head (one PNG per task, a panel per head, with its ECE), and critical recall and
false alarms per 100 calls over the critical threshold with the model's threshold marked. Decisions go through the
payload's functions, as `predict` decides. Only label names, counts and scores appear: no transcript text.
"""

from __future__ import annotations

import importlib.metadata
import io
import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

IGNORE = -100
PLOT_PREFIX = "report_"
# File name -> what the plot shows (the card's alt text); written only where the data has the task.
PLOTS = {
    "report_confusion_priority.png": "confusion matrix of priority",
    "report_confusion_main_category.png": "confusion matrix of main category",
    "report_reliability_case.png": "reliability diagrams of the calibrated case heads",
    "report_reliability_quality.png": "reliability diagrams of the calibrated call-quality heads",
    "report_critical_threshold.png": "critical recall and false alarms per 100 calls over the critical threshold",
}
MATPLOTLIB_MISSING = "plots not written: matplotlib is not installed (pip install matplotlib)"


# --------------------------------------------------------------------------- versions
def code_version() -> str | None:
    """The git commit of the package's source checkout (`-dirty` when tracked files are modified), or None when it
    is not a git checkout (an installed wheel)."""
    source = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()  # fmt: skip
        status = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=5, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if status else commit or None


def software_versions() -> dict[str, str | None]:
    """Versions a trained model depends on: helpline-fusion, torch, transformers, mlflow, and the code's commit."""
    versions: dict[str, str | None] = {}
    for name in ("helpline-fusion", "torch", "transformers", "mlflow"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["code"] = code_version()
    return versions


# --------------------------------------------------------------------------- scoring
@dataclass
class Evaluation:
    """What one scoring pass leaves: `metrics` (flat trainer keys), `decisions` (`record_decisions`: gold and
    predicted per task, per record) and `rows` (`run_task`'s windows per task), with the model's `config` and
    its calibration report (`calibration.json`) when there is one."""

    config: Any
    metrics: dict[str, float]
    decisions: dict[str, tuple[Any, Any]]
    rows: dict[str, list[dict]]
    calibration: dict | None = None
    extra_rows: dict[str, list[dict]] = field(default_factory=dict)  # e.g. a test split's case rows, for the curve


def evaluate(
    model, datasets: dict, collator, batch_size: int = 32, bf16: bool = False, calibration: dict | None = None
) -> Evaluation:
    """Score `model` on tokenised `datasets` (`{task: windows}`) in one pass of the model per task.

    Example:
        >>> result = evaluate(model, {"cls": windows}, MultiTaskCollator(tokenizer, model.config))  # doctest: +SKIP
        >>> print(format_report(result))  # doctest: +SKIP
    """
    from .evaluation import evaluate_tasks, record_decisions

    rows: dict[str, list[dict]] = {}
    metrics = evaluate_tasks(model, datasets, collator, batch_size=batch_size, bf16=bf16, rows=rows)
    decisions = record_decisions(model, datasets, collator, batch_size=batch_size, bf16=bf16, rows=rows)
    return Evaluation(model.config, metrics, decisions, rows, calibration)


def _critical_id(config: Any) -> int | None:
    from .calibration import _critical_id as critical_id

    return critical_id(config)


def baselines(evaluation: Evaluation) -> dict[str, float]:
    """The metrics of the trivial answers, under the metrics' own keys: NER all `O`, each case head its majority
    class, each quality sub-metric "met", and `critical_*` of answering "critical" everywhere."""
    from . import metrics as M
    from .calibration import critical_figures

    config, out = evaluation.config, {}
    if "ner" in evaluation.decisions:
        gold, _ = evaluation.decisions["ner"]
        out.update(M.ner_metrics(gold, [["O"] * len(seq) for seq in gold], config.ner_entity_types))
    if "cls" in evaluation.decisions:
        gold, _ = evaluation.decisions["cls"]
        majority = {}
        for head, values in gold.items():
            labelled = values[values != IGNORE]
            majority[head] = np.full_like(values, np.bincount(labelled).argmax() if len(labelled) else 0)
        out.update(M.cls_metrics(gold, majority, _critical_id(config)))
        critical_id = _critical_id(config)
        if critical_id is not None and "priority" in gold:
            everywhere = np.full_like(gold["priority"], critical_id)
            out.update({f"critical_{k}": v for k, v in critical_figures(everywhere, gold["priority"], critical_id).items()})
    if "qa" in evaluation.decisions:
        gold, _ = evaluation.decisions["qa"]
        out.update(M.qa_metrics(gold, {head: np.ones_like(values) for head, values in gold.items()}))
    return out


def critical_summary(evaluation: Evaluation) -> dict[str, float] | None:
    """`calibration.critical_figures` of the model's priority decisions on these records (None without them)."""
    from .calibration import critical_figures

    critical_id = _critical_id(evaluation.config)
    if "cls" not in evaluation.decisions or critical_id is None or "priority" not in evaluation.decisions["cls"][0]:
        return None
    gold, pred = evaluation.decisions["cls"]
    return critical_figures(pred["priority"], gold["priority"], critical_id, alert=pred.get("critical_alert"))


# --------------------------------------------------------------------------- the printed report
def _row(cells: list[str], widths: list[int]) -> str:
    return "  " + "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return [_row(header, widths), *(_row(r, widths) for r in rows)]


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def format_report(evaluation: Evaluation, title: str = "helpline-fusion evaluation") -> str:
    """The grouped report: NER, case, call quality, safety; each figure beside its trivial baseline."""
    m, b, config = evaluation.metrics, baselines(evaluation), evaluation.config
    lines = [f"{title} (each figure beside its trivial baseline)"]
    if "ner" in evaluation.decisions:
        lines += ["", *_ner_section(evaluation, m, b)]
    if "cls" in evaluation.decisions:
        gold, _ = evaluation.decisions["cls"]
        records = len(next(iter(gold.values()))) if gold else 0
        lines += ["", f"Case classification: {records} records; baseline: always the head's majority class"]
        rows = [[head, _f(m.get(f"cls_{head}_accuracy")), _f(m.get(f"cls_{head}_majority_accuracy")),
                 _f(m.get(f"cls_{head}_macro_f1")), _f(b.get(f"cls_{head}_macro_f1"))]
                for head in config.case_heads if f"cls_{head}_accuracy" in m]  # fmt: skip
        lines += _table(["head", "accuracy", "baseline", "macro F1", "baseline"], rows)
    if "qa" in evaluation.decisions:
        gold, _ = evaluation.decisions["qa"]
        records = len(next(iter(gold.values()))) if gold else 0
        lines += ["", f"Call quality: {records} records; baseline: \"met\" everywhere (not-applicable masked)"]
        rows = [[head, _f(m.get(f"qa_{head}_f1")), _f(m.get(f"qa_{head}_f1_all_met")),
                 _f(m.get(f"qa_{head}_accuracy")), _f(b.get(f"qa_{head}_accuracy")),
                 _f(m.get(f"qa_{head}_macro_f1")), _f(b.get(f"qa_{head}_macro_f1"))]
                for head in config.qa_heads if f"qa_{head}_f1" in m]  # fmt: skip
        lines += _table(["head", "F1 (met)", "baseline", "accuracy", "baseline", "macro F1", "baseline"], rows)
        if "qa_macro_f1" in m:
            lines.append(f"  quality macro F1 {_f(m['qa_macro_f1'])}, baseline {_f(b.get('qa_macro_f1'))}")
    lines += _safety_section(evaluation, b)
    if "composite" in m:
        lines += ["", f"composite {_f(m['composite'])} (mean of NER F1, mean case accuracy, quality macro F1)"]
    return "\n".join(lines)


def _ner_section(evaluation: Evaluation, m: dict, b: dict) -> list[str]:
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    gold, pred = evaluation.decisions["ner"]
    lines = [f"NER: {len(gold)} records, entity level (seqeval, strict IOB2); baseline: all O"]
    rows = [[name, _f(m.get(f"ner_{key}")), _f(b.get(f"ner_{key}"))]
            for name, key in (("entity F1", "f1"), ("precision", "precision"), ("recall", "recall"))]  # fmt: skip
    lines += _table(["figure", "model", "baseline"], rows)
    if any(any(tag != "O" for tag in seq) for seq in [*gold, *pred]):
        table = classification_report(gold, pred, mode="strict", scheme=IOB2, digits=4, zero_division=0)
        lines += ["", "  per entity type (seqeval):", *("  " + line for line in table.rstrip().splitlines())]
    return lines


def _safety_section(evaluation: Evaluation, b: dict) -> list[str]:
    figures = critical_summary(evaluation)
    lines: list[str] = []
    config = evaluation.config
    if figures is not None:
        lines += ["", f"Safety: the critical alert (priority {config.critical_priority!r}) is raised when any window's "
                  f"critical probability reaches {config.critical_threshold:.4f}; baseline: alert everywhere"]  # fmt: skip
        calls = figures["critical_calls"]
        rows = [
            ["critical recall", f"{_f(figures['critical_recall'] if calls else None)} "
             f"({round(figures['critical_recall'] * calls)} of {calls} critical calls)",
             _f(b.get("critical_critical_recall") if calls else None)],
            ["critical precision", f"{_f(figures['critical_precision'])} (of {figures['decided_critical']} "
             "alerted)", _f(b.get("critical_critical_precision"))],
            ["false alarms per 100 calls", f"{figures['false_alarms_per_100_calls']:.1f} ({figures['false_alarms']} "
             f"of {figures['records']} calls)", f"{b.get('critical_false_alarms_per_100_calls', 0.0):.1f}"],
        ]  # fmt: skip
        lines += _table(["figure", "model", "baseline"], rows)
    ece = _calibration_ece(evaluation)
    if ece:
        lines += ["", "Calibration (expected calibration error, 10 bins; lower is better):"]
        lines += _table(["head", "these records", "calibration.json held out, before -> after"], ece)
    return lines


def _calibration_ece(evaluation: Evaluation) -> list[list[str]]:
    rows = []
    held = (evaluation.calibration or {}).get("held_out") or {}
    for part, diagrams in (("case", reliability(evaluation, "cls")), ("quality", reliability(evaluation, "qa"))):
        ece = (held.get(part) or {}).get("ece") or {}
        for head, diagram in diagrams.items():
            before, after = (ece.get("before") or {}).get(head), (ece.get("after") or {}).get(head)
            stored = f"{before:.4f} -> {after:.4f}" if before is not None and after is not None else "-"
            rows.append([f"{part}.{head}", f"{diagram['ece']:.4f}", stored])
    return rows


# --------------------------------------------------------------------------- plot data
def reliability(evaluation: Evaluation, task: str, bins: int = 10) -> dict[str, dict[str, Any]]:
    """Per calibrated head of `task` (one with a temperature in the config): the confidence bins (`edges`, mean
    `confidence`, `accuracy` and `count` per bin) and the ECE, of these records' decisions after the temperatures
    (confidences as calibration measures them: `_cls_confidences`, `_qa_confidences`)."""
    from . import calibration as C

    rows = evaluation.rows.get(task)
    temperatures = (getattr(evaluation.config, "temperatures", None) or {}).get(task) or {}
    if not rows or not temperatures:
        return {}
    from .tasks import task_spec

    if task_spec(task).multi_label:  # a confidence per sub-metric, as calibration measures it
        pairs = C._qa_confidences(C._qa_records(rows, temperatures, evaluation.config), evaluation.config)
    else:
        pairs = C._cls_confidences(C._cls_records(rows, temperatures, evaluation.config))
    edges = np.linspace(0.0, 1.0, bins + 1)
    out = {}
    for head, (confidence, correct) in pairs.items():
        if head not in temperatures or not confidence:
            continue
        confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
        which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
        count = np.bincount(which, minlength=bins)
        mean_confidence = np.bincount(which, confidence, minlength=bins) / np.maximum(count, 1)
        accuracy = np.bincount(which, correct, minlength=bins) / np.maximum(count, 1)
        out[head] = {"edges": edges, "confidence": mean_confidence, "accuracy": accuracy, "count": count,
                     "ece": C.expected_calibration_error(confidence, correct, bins)}  # fmt: skip
    return out


def threshold_curve(rows: list[dict], config: Any, steps: int = 20) -> dict[str, Any] | None:
    """Critical recall and false alarms per 100 calls of the critical alert at thresholds from 0 to 1 (and at the
    model's own `critical_threshold`), each decided by the payload's `decide_cls` given that threshold
    (`calibration._priority_decisions`). None without priority labels or a critical class."""
    from . import calibration as C

    critical_id = _critical_id(config)
    if not rows or critical_id is None or "priority" not in rows[0]["logits"]:
        return None
    records = [r for r in C._cls_records(rows, (config.temperatures or {}).get("cls", {}), config)
               if r["gold"]["priority"] != IGNORE]  # fmt: skip
    if not records:
        return None
    gold = np.array([r["gold"]["priority"] for r in records])
    chosen = float(config.critical_threshold)
    thresholds = sorted({*np.linspace(0.0, 1.0, steps + 1).round(6).tolist(), chosen})
    recall, alarms = [], []
    for threshold in thresholds:
        pred, alert = C._priority_decisions(records, config, threshold)
        figures = C.critical_figures(pred, gold, critical_id, alert=alert)
        recall.append(figures["critical_recall"])
        alarms.append(figures["false_alarms_per_100_calls"])
    index = thresholds.index(chosen)
    return {"thresholds": thresholds, "recall": recall, "false_alarms_per_100": alarms, "chosen": chosen,
            "chosen_recall": recall[index], "chosen_false_alarms": alarms[index],
            "critical_calls": int((gold == critical_id).sum()), "records": len(records)}  # fmt: skip


# --------------------------------------------------------------------------- drawing
def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")  # no title over a neighbour's axis
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: Path) -> Path:
    from .run_folder import write_atomic

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_atomic(path, buffer.getvalue())  # never a half-written plot in place of the previous one
    return path


def _confusion(gold: np.ndarray, pred: np.ndarray, labels: list[str], head: str, path: Path, where: str) -> Path:
    keep = gold != IGNORE
    gold, pred = gold[keep], pred[keep]
    shown = sorted(set(gold.tolist()) | set(pred.tolist()))  # classes that occur, in label order
    position = {label: index for index, label in enumerate(shown)}
    matrix = np.zeros((len(shown), len(shown)), dtype=int)
    for g, p in zip(gold, pred):
        matrix[position[g], position[p]] += 1
    size = max(4.0, 0.55 * len(shown) + 2.5)
    figure = _figure(size, size)
    axes = figure.add_subplot(1, 1, 1)
    axes.imshow(matrix, cmap="Blues")
    names = [str(labels[i]) for i in shown]
    axes.set_xticks(range(len(shown)), names, rotation=45, ha="right", fontsize=8)
    axes.set_yticks(range(len(shown)), names, fontsize=8)
    top = matrix.max() or 1
    for i in range(len(shown)):
        for j in range(len(shown)):
            if matrix[i, j]:
                axes.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                          color="white" if matrix[i, j] > top / 2 else "black")  # fmt: skip
    accuracy = float((gold == pred).mean()) if len(gold) else 0.0
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(f"{head}: {len(gold)} records, accuracy {accuracy:.3f}\n{where}", fontsize=10)
    return _save(figure, path)


def _reliability_plot(diagrams: dict[str, dict], task_title: str, path: Path, where: str) -> Path:
    columns = min(3, len(diagrams))
    rows = -(-len(diagrams) // columns)
    figure = _figure(3.4 * columns, 3.2 * rows)
    for index, (head, d) in enumerate(diagrams.items()):
        axes = figure.add_subplot(rows, columns, index + 1)
        width = np.diff(d["edges"])
        filled = d["count"] > 0
        axes.bar(d["edges"][:-1][filled], d["accuracy"][filled], width=width[filled], align="edge",
                 edgecolor="black", alpha=0.7, label="accuracy")  # fmt: skip
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        axes.plot(d["confidence"][filled], d["accuracy"][filled], "o", color="tab:red", markersize=3)
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.set_title(f"{head}: ECE {d['ece']:.3f} (n={int(d['count'].sum())})", fontsize=9)
        axes.set_xlabel("confidence", fontsize=8)
        axes.set_ylabel("accuracy", fontsize=8)
        if index == 0:
            axes.legend(fontsize=7, loc="upper left")
    figure.suptitle(f"{task_title} reliability after the temperatures; {where}", fontsize=10)
    return _save(figure, path)


def _threshold_plot(curves: dict[str, dict], path: Path) -> Path:
    figure = _figure(7.0, 4.2)
    recall_axes = figure.add_subplot(1, 1, 1)
    alarm_axes = recall_axes.twinx()
    styles = iter(["-", "--", ":"])
    chosen = None
    for name, curve in curves.items():
        style = next(styles, "-")
        recall_axes.plot(curve["thresholds"], curve["recall"], style, color="tab:blue",
                         label=f"critical recall, {name} ({curve['critical_calls']} critical of {curve['records']})")
        alarm_axes.plot(curve["thresholds"], curve["false_alarms_per_100"], style, color="tab:orange",
                        label=f"false alarms per 100 calls, {name}")  # fmt: skip
        recall_axes.plot([curve["chosen"]], [curve["chosen_recall"]], "o", color="tab:blue", markersize=8)
        alarm_axes.plot([curve["chosen"]], [curve["chosen_false_alarms"]], "o", color="tab:orange", markersize=8)
        chosen = curve["chosen"]
    if chosen is not None:
        recall_axes.axvline(chosen, color="black", linewidth=0.8)
        first = next(iter(curves.values()))
        recall_axes.annotate(
            f"model's threshold {chosen:.4f}\nrecall {first['chosen_recall']:.3f}, "
            f"{first['chosen_false_alarms']:.1f} false alarms / 100", xy=(chosen, first["chosen_recall"]),
            xytext=(10, -40), textcoords="offset points", fontsize=8, arrowprops={"arrowstyle": "->"},
        )  # fmt: skip
    recall_axes.set_xlim(0, 1)
    recall_axes.set_ylim(-0.02, 1.02)
    recall_axes.set_xlabel("critical threshold (a call is critical when any window's critical probability reaches it)",
                           fontsize=8)  # fmt: skip
    recall_axes.set_ylabel("critical recall", color="tab:blue")
    alarm_axes.set_ylabel("false alarms per 100 calls", color="tab:orange")
    handles = recall_axes.get_legend_handles_labels()[0] + alarm_axes.get_legend_handles_labels()[0]
    recall_axes.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="center right")
    recall_axes.set_title("Critical recall and false alarms over the threshold", fontsize=10)
    return _save(figure, path)


def write_plots(evaluation: Evaluation, folder: str | Path, where: str = "evaluated records") -> list[Path] | None:
    """Draw the report's plots into `folder` (`PLOTS` names, for the tasks the data has); returns their paths, or
    None when matplotlib is not installed. `where` names the data in the titles (e.g. "validation split")."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config, written = evaluation.config, []
    if "cls" in evaluation.decisions:
        gold, pred = evaluation.decisions["cls"]
        for head in ("priority", "main_category"):
            if head in gold and (gold[head] != IGNORE).any():
                written.append(_confusion(gold[head], pred[head], list(config.case_heads[head]), head,
                                          folder / f"{PLOT_PREFIX}confusion_{head}.png", where))  # fmt: skip
    for task, title, name in (("cls", "Case", "case"), ("qa", "Call-quality", "quality")):
        diagrams = reliability(evaluation, task)
        if diagrams:
            written.append(_reliability_plot(diagrams, title, folder / f"{PLOT_PREFIX}reliability_{name}.png", where))
    curves = {}
    for name, rows in {where: evaluation.rows.get("cls"), **evaluation.extra_rows}.items():
        curve = threshold_curve(rows or [], config)
        if curve is not None:
            curves[name] = curve
    if curves:
        written.append(_threshold_plot(curves, folder / f"{PLOT_PREFIX}critical_threshold.png"))
    return written


def log_to_mlflow(paths: list[Path], artifact_path: str = "report") -> bool:
    """Log `paths` into the active MLflow run, if there is one; returns whether it did."""
    try:
        import mlflow
    except ImportError:
        return False
    if mlflow.active_run() is None:
        return False
    for path in paths:
        mlflow.log_artifact(str(path), artifact_path)
    return True


# --------------------------------------------------------------------------- training and the card
def run_plots(
    model, tokenized: dict[str, dict], collator, folder: str | Path, batch_size: int = 32, bf16: bool = False
) -> list[str]:
    """Training's report plots of the validation split (the critical curve also of the test split, where there is
    one: the threshold was fitted on validation), written into `folder`; returns their file names ([] without
    matplotlib, with a warning)."""
    from .tasks import TASK_SPECS

    # The plotted tasks: the calibrated ones (reliability per head, the critical threshold curve).
    validation = {task: ds for task, ds in (tokenized.get("validation") or {}).items() if TASK_SPECS[task].calibrated}
    if not validation:
        return []
    evaluation = evaluate(model, validation, collator, batch_size=batch_size, bf16=bf16)
    test = (tokenized.get("test") or {}).get("cls")
    if test is not None and len(test) and "cls" in model.config.tasks:
        from .evaluation import run_task

        evaluation.extra_rows["test split"] = run_task(model, test, collator, "cls", batch_size=batch_size, bf16=bf16)
    paths = write_plots(evaluation, folder, where="validation split")
    if paths is None:
        logger.warning(MATPLOTLIB_MISSING)
        return []
    return [path.name for path in paths]


def card_plots(folder: str | Path) -> list[dict[str, str]]:
    """The report plots present in a model folder, for the card (`{"file", "title"}`, in `PLOTS` order)."""
    folder = Path(folder)
    return [{"file": name, "title": title} for name, title in PLOTS.items() if (folder / name).is_file()]


__all__ = [
    "PLOTS", "Evaluation", "baselines", "card_plots", "code_version", "critical_summary", "evaluate",
    "format_report", "log_to_mlflow", "reliability", "run_plots", "software_versions", "threshold_curve",
    "write_plots",
]  # fmt: skip
