"""Post-training calibration on the validation split: the decisions a case worker sees, set from data.

After training, one pass over the validation windows fits, and stores in the model's config (so `predict` and
`helpline-fusion evaluate` use them):

- **a temperature per case and quality head** (`config.temperatures`): the scalar `T` that minimises the negative
  log-likelihood of the validation labels under `softmax(logits / T)` (`sigmoid` for quality sub-metrics; Guo
  et al., 2017). Argmax decisions do not change; scores become probabilities a threshold can be set on. The
  expected calibration error (ECE, 10 equal-width bins, over records) is reported before and after.
- **the critical threshold** (`config.critical_threshold`): the highest threshold (never above the 0.5 default)
  at which the safety-first rule (critical when any window's critical probability reaches it) finds at least
  `critical_recall_target` of the validation's critical calls; the precision that costs is reported, and so is
  a cross-fitted estimate (`crossfit_critical_recall`: each fold decided by a threshold fitted on the others),
  since the in-sample recall meets the target by construction.
- **the review thresholds** (`config.review_thresholds`): one per decision group (`case.<head>`,
  `quality.<head>`), each the same quantile of that group's validation confidences, that quantile chosen so that
  `review_share` of the calls is flagged (case records and quality records each); the error rate inside and
  outside the flagged set is reported, so a case worker knows what the flag is worth.

Only counts and scores are reported, never text.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import torch

from ..modeling_attention_fusion.inference_attention_fusion import (
    aggregate_cls_head,
    aggregate_qa_head,
    decide_cls,
)
from .evaluation import _group, run_task

logger = logging.getLogger(__name__)

IGNORE = -100


# --------------------------------------------------------------------------- temperature
def fit_temperature(logits: np.ndarray, labels: np.ndarray, binary: bool = False) -> float:
    """The temperature minimising the NLL of `labels` (`-100` ignored) under `logits / T`.

    `logits`: `(n, classes)` with integer `labels` `(n,)`, or with `binary=True` `(n, k)` sub-metric logits and
    0/1 `labels` `(n, k)`. Returns 1.0 when there is nothing to fit.

    Example:
        >>> logits = np.array([[4.0, 0.0], [4.0, 0.0], [0.0, 4.0], [0.0, 4.0]])  # over-confident, 3 of 4 right
        >>> fit_temperature(logits, np.array([0, 1, 1, 1])) > 1
        True
    """
    logits_t = torch.as_tensor(np.asarray(logits, dtype=np.float64))
    labels_t = torch.as_tensor(np.asarray(labels))
    mask = labels_t != IGNORE
    if not mask.any():
        return 1.0
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100, line_search_fn="strong_wolfe")

    def nll() -> torch.Tensor:
        optimizer.zero_grad()
        scaled = logits_t / log_t.exp()
        if binary:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                scaled[mask], labels_t[mask].to(torch.float64)
            )
        else:
            loss = torch.nn.functional.cross_entropy(scaled[mask], labels_t[mask].long())
        loss.backward()
        return loss

    optimizer.step(nll)
    value = float(log_t.detach().exp())
    return min(max(value, 0.05), 20.0) if math.isfinite(value) else 1.0


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE: the mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size.

    Example:
        >>> expected_calibration_error(np.array([0.9, 0.9, 0.6, 0.6]), np.array([1, 1, 1, 0]))
        0.1
    """
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    if confidence.size == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return round(float(error), 6)


def _softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    scaled = logits / temperature
    scaled = scaled - scaled.max(-1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(-1, keepdims=True)


def _sigmoid(logits: np.ndarray, temperature: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits / temperature))


# --------------------------------------------------------------------------- per-record views
def _cls_records(rows: list[dict], temperatures: dict[str, float]) -> list[dict]:
    """Per record: gold per head, per-window probabilities per head (after the temperatures), the windows' content
    sizes, and the confidence-weighted mean `predict` decides on."""
    records = []
    for windows in _group(rows).values():
        probs = {
            head: _softmax(np.stack([w["logits"][head] for w in windows]), temperatures.get(head, 1.0))
            for head in windows[0]["logits"]
        }
        sizes = [w.get("size", 1) for w in windows]
        mean = {
            head: aggregate_cls_head(sizes, torch.from_numpy(p), [""] * p.shape[1], 1)[1].numpy()
            for head, p in probs.items()
        }
        records.append({"gold": windows[0]["gold"], "windows": probs, "sizes": sizes, "mean": mean})
    return records


def _qa_records(rows: list[dict], temperatures: dict[str, float]) -> list[dict]:
    records = []
    for windows in _group(rows).values():
        sizes = [w.get("size", 1) for w in windows]
        probs = {
            head: _sigmoid(np.stack([w["logits"][head] for w in windows]), temperatures.get(head, 1.0))
            for head in windows[0]["logits"]
        }
        mean = {head: aggregate_qa_head(sizes, torch.from_numpy(p)).numpy() for head, p in probs.items()}
        records.append({"gold": windows[0]["gold"], "mean": mean})
    return records


class _AtThreshold:
    """The model's config with another critical threshold (to try thresholds without touching the config)."""

    def __init__(self, config: Any, threshold: float) -> None:
        self._config, self.critical_threshold = config, threshold

    def __getattr__(self, name: str) -> Any:
        return getattr(self._config, name)


def _cls_decisions(
    record: dict, config: Any, critical_id: int | None, threshold: float
) -> dict[str, tuple[int, float]]:
    """(label id, score) per head, decided by `decide_cls` (as `predict` decides) at critical `threshold`."""
    probs = {head: torch.from_numpy(p) for head, p in record["windows"].items()}
    sizes = record.get("sizes") or [1] * len(next(iter(probs.values())))
    decided = decide_cls(probs, sizes, _AtThreshold(config, threshold))
    return {head: (list(config.case_heads[head]).index(d["label"]), float(d["score"])) for head, d in decided.items()}


# --------------------------------------------------------------------------- thresholds
def choose_critical_threshold(
    records: list[dict], config: Any, critical_id: int, target: float, ceiling: float = 0.5
) -> dict[str, float]:
    """A threshold <= `ceiling` whose safety-first decisions reach `target` critical recall: the highest critical
    call's peak that does, lowered halfway to the next lower peak of any call. The margin changes no decision on
    these calls, but a threshold equal to a call's peak would lose that call to rounding (the stored value has 6
    decimals) or to the last-bit differences of a reloaded model, and calls not seen here fall in the gap too."""
    gold = np.array([r["gold"]["priority"] for r in records])
    labelled = gold != IGNORE
    critical = gold == critical_id
    peaks = np.array([float(r["windows"]["priority"][:, critical_id].max()) for r in records])

    def score(threshold: float) -> tuple[float, float, float]:
        pred = np.array([_cls_decisions(r, config, critical_id, threshold)["priority"][0] for r in records])
        flagged = pred == critical_id
        recall = float(flagged[critical].mean()) if critical.any() else 0.0
        precision = float(critical[flagged].mean()) if flagged.any() else 0.0
        accuracy = float((pred[labelled] == gold[labelled]).mean()) if labelled.any() else 0.0
        return recall, precision, accuracy

    chosen = ceiling
    candidates = sorted({ceiling, *[p for p in peaks[critical] if p < ceiling]}, reverse=True)
    for threshold in candidates:  # from the highest down: the first that reaches the target
        chosen = threshold
        if score(threshold)[0] >= target:
            break
    if chosen < ceiling:
        below = peaks[peaks < chosen]
        chosen = (chosen + (float(below.max()) if below.size else 0.0)) / 2
    chosen = math.floor(chosen * 1e6) / 1e6  # stored with 6 decimals, never rounded up past a peak
    recall, precision, accuracy = score(chosen)
    return {
        "critical_threshold": chosen, "critical_recall": recall, "critical_precision": precision,
        "priority_accuracy": accuracy, "critical_calls": int(critical.sum()), "records": int(labelled.sum()),
    }  # fmt: skip


def _share_thresholds(confidences: dict[str, np.ndarray], share: float) -> tuple[dict[str, float], float]:
    """Per group the same quantile `q` of its confidences, `q` chosen so that the share of records with any group
    below its threshold is as near `share` as the records allow."""
    matrix = np.stack(list(confidences.values()), axis=1)  # (records, groups)

    def thresholds_at(q: float) -> np.ndarray:
        return np.quantile(matrix, q, axis=0, method="higher") if q > 0 else np.full(matrix.shape[1], -np.inf)

    def flagged_share(q: float) -> float:
        return float((matrix < thresholds_at(q)).any(axis=1).mean())

    # The flagged share moves in steps (one record at a time): take the quantile whose share is nearest the target.
    grid = np.linspace(0.0, min(1.0, share * 1.5), 301)
    best = min(grid, key=lambda q: (abs(flagged_share(q) - share), q))
    values = thresholds_at(best)
    return {group: float(value) for group, value in zip(confidences, values)}, flagged_share(best)


def choose_review_thresholds(
    cls_records: list[dict], qa_records: list[dict], config: Any, critical_id: int | None, share: float
) -> tuple[dict[str, float], dict[str, Any]]:
    thresholds: dict[str, float] = {}
    report: dict[str, Any] = {"target_share": share}
    if cls_records:
        decisions = [_cls_decisions(r, config, critical_id, config.critical_threshold) for r in cls_records]
        heads = list(decisions[0])
        confidences = {f"case.{h}": np.array([d[h][1] for d in decisions]) for h in heads}
        found, flagged_share = _share_thresholds(confidences, share)
        thresholds.update(found)
        flagged = np.array([any(d[h][1] < found[f"case.{h}"] for h in heads) for d in decisions])
        wrong = np.array([
            any(r["gold"][h] != IGNORE and d[h][0] != r["gold"][h] for h in heads)
            for r, d in zip(cls_records, decisions)
        ])  # fmt: skip
        report["case"] = _flag_report(flagged, wrong)
        # "Any head wrong" is nearly always true while a head with many classes is weak: per head says more.
        report["case_per_head"] = {
            head: _flag_report(flagged, np.array([
                r["gold"][head] != IGNORE and d[head][0] != r["gold"][head] for r, d in zip(cls_records, decisions)
            ]))
            for head in heads
        }  # fmt: skip
    if qa_records:
        heads = list(qa_records[0]["mean"])
        confidences = {
            f"quality.{h}": np.array([np.maximum(r["mean"][h], 1 - r["mean"][h]).min() for r in qa_records])
            for h in heads
        }
        found, flagged_share = _share_thresholds(confidences, share)
        thresholds.update(found)
        flagged = np.array([any(confidences[f"quality.{h}"][i] < found[f"quality.{h}"] for h in heads)
                            for i in range(len(qa_records))])  # fmt: skip
        wrong = np.array([
            any(
                bool(((r["mean"][h] >= np.asarray(config.qa_thresholds[h])) != (r["gold"][h] > 0.5))[
                    r["gold"][h] != IGNORE
                ].any())
                for h in heads
            )
            for r in qa_records
        ])
        report["quality"] = _flag_report(flagged, wrong)
    return thresholds, report


def _flag_report(flagged: np.ndarray, wrong: np.ndarray) -> dict[str, float]:
    """Share flagged, and the share of records with any wrong decision inside and outside the flagged set."""
    return {
        "records": int(len(flagged)),
        "flagged_share": round(float(flagged.mean()), 4) if len(flagged) else 0.0,
        "error_rate_flagged": round(float(wrong[flagged].mean()), 4) if flagged.any() else 0.0,
        "error_rate_not_flagged": round(float(wrong[~flagged].mean()), 4) if (~flagged).any() else 0.0,
        "error_rate_all": round(float(wrong.mean()), 4) if len(wrong) else 0.0,
    }


# --------------------------------------------------------------------------- the whole pass
def _ece_cls(records: list[dict]) -> dict[str, float]:
    out = {}
    for head in records[0]["mean"]:
        keep = [r for r in records if r["gold"][head] != IGNORE]
        if keep:
            confidence = np.array([r["mean"][head].max() for r in keep])
            correct = np.array([int(r["mean"][head].argmax()) == r["gold"][head] for r in keep])
            out[head] = expected_calibration_error(confidence, correct)
    return out


def _ece_qa(records: list[dict], config: Any) -> dict[str, float]:
    out = {}
    for head in records[0]["mean"]:
        confidence, correct = [], []
        for r in records:
            mask = r["gold"][head] != IGNORE
            p = r["mean"][head][mask]
            confidence.extend(np.maximum(p, 1 - p))
            correct.extend((p >= np.asarray(config.qa_thresholds[head])[mask]) == (r["gold"][head][mask] > 0.5))
        if confidence:
            out[head] = expected_calibration_error(np.array(confidence), np.array(correct))
    return out


def cross_fitted_critical(
    records: list[dict], config: Any, critical_id: int, target: float, folds: int = 5
) -> dict[str, float]:
    """What the critical threshold finds on calls it was not fitted on: split the records into `folds` (critical
    calls dealt round-robin, so every fold has some), fit the threshold on the other folds, decide the held-out
    fold with it, and score the out-of-fold decisions together. The threshold stored in the config is fitted on
    every record; this is the honest estimate of its recall (the in-sample one meets the target by construction).
    """
    gold = np.array([r["gold"]["priority"] for r in records])
    critical = gold == critical_id
    folds = min(folds, int(critical.sum()))
    if folds < 2:
        return {}
    fold_of = np.empty(len(records), dtype=int)
    for group in (np.flatnonzero(critical), np.flatnonzero(~critical)):
        fold_of[group] = np.arange(len(group)) % folds
    flagged = np.zeros(len(records), dtype=bool)
    for fold in range(folds):
        inside = [r for r, f in zip(records, fold_of) if f != fold]
        threshold = choose_critical_threshold(inside, config, critical_id, target)["critical_threshold"]
        for index in np.flatnonzero(fold_of == fold):
            decision = _cls_decisions(records[index], config, critical_id, threshold)
            flagged[index] = decision["priority"][0] == critical_id
    return {
        "crossfit_critical_recall": float(flagged[critical].mean()),
        "crossfit_critical_precision": float(critical[flagged].mean()) if flagged.any() else 0.0,
        "crossfit_folds": folds,
    }


def calibrate(
    model,
    eval_datasets: dict,
    collator,
    critical_recall_target: float = 0.9,
    review_share: float = 0.2,
    batch_size: int = 32,
    bf16: bool = False,
) -> dict[str, Any]:
    """Fit temperatures, the critical threshold and the review thresholds on the tokenised validation windows
    (`{"cls": ..., "qa": ...}`); they are written into `model.config`. Returns the report (numbers only)."""
    config = model.config
    report: dict[str, Any] = {}
    cls_rows = qa_rows = []
    if eval_datasets.get("cls") is not None and "cls" in config.tasks and len(eval_datasets["cls"]):
        cls_rows = run_task(model, eval_datasets["cls"], collator, "cls", batch_size=batch_size, bf16=bf16)
    if eval_datasets.get("qa") is not None and "qa" in config.tasks and len(eval_datasets["qa"]):
        qa_rows = run_task(model, eval_datasets["qa"], collator, "qa", batch_size=batch_size, bf16=bf16)
    temperatures: dict[str, dict[str, float]] = {}
    if cls_rows:
        temperatures["cls"] = {}
        for head in cls_rows[0]["logits"]:
            logits = np.stack([row["logits"][head] for row in cls_rows])
            labels = np.array([row["gold"][head] for row in cls_rows])
            temperatures["cls"][head] = round(fit_temperature(logits, labels), 4)
    if qa_rows:
        temperatures["qa"] = {}
        for head in qa_rows[0]["logits"]:
            logits = np.stack([row["logits"][head] for row in qa_rows])
            labels = np.stack([row["gold"][head] for row in qa_rows])
            temperatures["qa"][head] = round(fit_temperature(logits, labels, binary=True), 4)
    report["temperatures"] = temperatures

    cls_before = _cls_records(cls_rows, {}) if cls_rows else []
    cls_after = _cls_records(cls_rows, temperatures.get("cls", {})) if cls_rows else []
    qa_before = _qa_records(qa_rows, {}) if qa_rows else []
    qa_after = _qa_records(qa_rows, temperatures.get("qa", {})) if qa_rows else []
    if cls_rows:
        report["ece_case"] = {"before": _ece_cls(cls_before), "after": _ece_cls(cls_after)}
    if qa_rows:
        report["ece_quality"] = {"before": _ece_qa(qa_before, config), "after": _ece_qa(qa_after, config)}
    config.temperatures = temperatures

    priorities = config.case_heads.get("priority", [])
    critical_id = priorities.index(config.critical_priority) if config.critical_priority in priorities else None
    if cls_after and critical_id is not None:
        critical = choose_critical_threshold(cls_after, config, critical_id, critical_recall_target)
        critical["target_recall"] = critical_recall_target
        critical.update(cross_fitted_critical(cls_after, config, critical_id, critical_recall_target))
        config.critical_threshold = critical["critical_threshold"]
        report["critical"] = critical
    thresholds, review = choose_review_thresholds(cls_after, qa_after, config, critical_id, review_share)
    config.review_thresholds = {group: round(value, 6) for group, value in thresholds.items()}
    report["review"] = review
    report["review_thresholds"] = config.review_thresholds
    logger.info("calibration on the validation split: %s", report)
    return report


def calibration_metrics(report: dict[str, Any]) -> dict[str, float]:
    """Flat numbers of a calibration report, for MLflow and the model card."""
    flat: dict[str, float] = {}
    for kind in ("ece_case", "ece_quality"):
        for when in ("before", "after"):
            values = report.get(kind, {}).get(when, {})
            if values:
                flat[f"calib_{kind}_{when}"] = round(float(np.mean(list(values.values()))), 6)
    for key, value in report.get("critical", {}).items():
        flat[f"calib_{key}"] = float(value)
    for kind, values in report.get("review", {}).items():
        if kind == "case_per_head":
            for head, numbers in values.items():
                flat.update({f"calib_review_case_{head}_{k}": float(v) for k, v in numbers.items()
                             if k.startswith("error_rate")})  # fmt: skip
        elif isinstance(values, dict):
            flat.update({f"calib_review_{kind}_{k}": float(v) for k, v in values.items()})
    return flat


__all__ = [
    "calibrate",
    "calibration_metrics",
    "choose_critical_threshold",
    "cross_fitted_critical",
    "choose_review_thresholds",
    "expected_calibration_error",
    "fit_temperature",
]
