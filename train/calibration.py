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

Those figures on validation are in-sample: the values were fitted to meet their targets there. The report's
`held_out` part says what they are worth on calls they were not fitted on, per task (`"evaluated_on"`):

- `"test"`: a test split kept out of training and fitting (`data/splits.py`, `test_fraction`), decided with the
  stored values: critical recall and precision, false alarms per 100 calls, the flagged share and the error rate
  inside and outside it, ECE before and after the temperatures;
- `"validation (cross-fitted)"`, where the data was too small for a test split: the same figures from 5 folds
  of validation, each decided by temperatures and thresholds fitted on the other folds.

Every score and decision is made by the payload's own functions, the ones `predict` runs: `apply_temperature`,
`decide_cls` (given the critical threshold being tried), `decide_qa`, and `review_reasons` / `decision_confidences`
(given the review thresholds being tried). This module fits numbers; it states no decision rule of its own, so
the values it fits are the ones `predict` applies by construction. Only counts and scores are reported, never
text.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..modeling_attention_fusion.inference_attention_fusion import (
    aggregate_qa_head,
    apply_temperature,
    case_logit_offset,
    case_prior,
    critical_index,
    decide_cls,
    decide_qa,
    decision_confidences,
    mean_cls_probs,
    qa_window_scope_of,
    review_reasons,
)
from .evaluation import _group, run_task
from .tasks import TASK_SPECS

logger = logging.getLogger(__name__)

CALIBRATED = tuple(task for task, spec in TASK_SPECS.items() if spec.calibrated)  # the task registry's

IGNORE = -100


# --------------------------------------------------------------------------- temperature
def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, binary: bool = False, offset: list[float] | None = None
) -> float:
    """The temperature minimising the NLL of `labels` (`-100` ignored) under `logits / T` (plus a case head's prior
    correction `offset`, as `apply_temperature` adds it), `T` in [0.05, 20].

    `logits`: `(n, classes)` with integer `labels` `(n,)`, or with `binary=True` `(n, k)` sub-metric logits and
    0/1 `labels` `(n, k)`. Returns 1.0 when there is nothing to fit. The NLL is convex in `1 / T`, so a golden-section
    search over `1 / T` finds its minimum (in numpy: a few milliseconds for thousands of windows).

    Example:
        >>> logits = np.array([[4.0, 0.0], [4.0, 0.0], [0.0, 4.0], [0.0, 4.0]])  # over-confident, 3 of 4 right
        >>> fit_temperature(logits, np.array([0, 1, 1, 1])) > 1
        True
    """
    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels)
    mask = labels != IGNORE
    if not mask.any():
        return 1.0
    x = logits[mask]  # binary: (m,) applicable sub-metrics; else (m, classes) labelled records
    if binary:
        y = labels[mask].astype(np.float64)

        def nll(beta: float) -> float:
            return float(np.mean(np.logaddexp(0.0, beta * x) - y * beta * x))
    else:
        shift = np.zeros(x.shape[1]) if offset is None else np.asarray(offset, dtype=np.float64)
        index = labels[mask].astype(int)

        def nll(beta: float) -> float:
            z = beta * x + shift
            picked = z[np.arange(len(z)), index]
            top = z.max(axis=1)
            return float(np.mean(top + np.log(np.exp(z - top[:, None]).sum(axis=1)) - picked))

    low, high = 1 / 20.0, 1 / 0.05
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = nll(a), nll(b)
    for _ in range(80):  # the bracket shrinks by 0.618 per step: 20 x 0.618^80 < 1e-15
        if fa <= fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = nll(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = nll(b)
    value = 2.0 / (low + high)
    return min(max(value, 0.05), 20.0) if math.isfinite(value) else 1.0


def fit_prior_mix(probs: np.ndarray, labels: np.ndarray, priors: list[float]) -> float:
    """The share `a` in [0, 1] maximising the likelihood of `labels` (`-100` ignored) under
    `a x probs + (1 - a) x priors` (`probs`: `(n, classes)`, after the temperature). The NLL is convex in `a`
    (minus the log of a linear function), so a golden-section search finds its minimum. 1 when nothing to fit.

    Example:
        >>> noise = np.array([[0.9, 0.1], [0.1, 0.9], [0.9, 0.1], [0.1, 0.9]])  # sure, and right half the time
        >>> fit_prior_mix(noise, np.array([0, 0, 0, 1]), [0.75, 0.25]) < 0.5
        True
    """
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    mask = labels != IGNORE
    if not mask.any():
        return 1.0
    picked = probs[mask][np.arange(int(mask.sum())), labels[mask].astype(int)]
    prior = np.asarray(priors, dtype=np.float64)[labels[mask].astype(int)]

    def nll(share: float) -> float:
        return float(-np.mean(np.log(np.maximum(share * picked + (1.0 - share) * prior, 1e-12))))

    low, high = 0.0, 1.0
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if nll(a) <= nll(b):
            high = b
        else:
            low = a
    share = (low + high) / 2
    return 1.0 if nll(1.0) <= nll(share) else share


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


# --------------------------------------------------------------------------- per-record views
@dataclass
class Fitted:
    """The values calibration fits and writes into the config; the decision functions take them as arguments."""

    temperatures: dict[str, dict[str, float]] = field(default_factory=dict)
    critical_threshold: float = 0.5
    review_thresholds: dict[str, float] = field(default_factory=dict)
    prior_mix: dict[str, float] = field(default_factory=dict)


def _records(
    rows: list[dict], temperatures: dict[str, float], binary: bool, config: Any = None, mix: dict | None = None
) -> list[dict]:
    """Per record (in `example_id` order): its `id`, `gold` per head, the windows' content `sizes` and the
    per-window probabilities per head after `temperatures` (`windows`: head -> `(n_windows, classes)`), scored by the
    payload's `apply_temperature` as `run_windows` scores them (with `config`'s prior correction and prior mix of the
    case heads, the mix `mix` where given; without a config, neither: the raw scores)."""
    records = []
    for example_id, windows in _group(rows).items():
        probs = {
            head: apply_temperature(
                torch.as_tensor(np.stack([w["logits"][head] for w in windows]), dtype=torch.float32),
                temperatures.get(head, 1.0), binary=binary,
                offset=case_logit_offset(config, head) if config is not None and not binary else None,
                prior=case_prior(config, head, (mix or {}).get(head)) if config is not None and not binary else None,
            ).numpy()
            for head in windows[0]["logits"]
        }  # fmt: skip
        sizes = [w.get("size", 1) for w in windows]
        records.append({"id": example_id, "gold": windows[0]["gold"], "windows": probs, "sizes": sizes})
    return records


def _cls_records(
    rows: list[dict], temperatures: dict[str, float], config: Any = None, mix: dict | None = None
) -> list[dict]:
    """Case records, each with `mean`: per head the confidence-weighted mean `predict` decides on
    (`mean_cls_probs`); scored as `predict` scores them given the `config` (its prior correction, and the prior mix
    `mix` or the config's), raw without."""
    records = _records(rows, temperatures, binary=False, config=config, mix=mix)
    for record in records:
        record["mean"] = {
            head: mean_cls_probs(record["sizes"], torch.from_numpy(p)).numpy() for head, p in record["windows"].items()
        }
    return records


def _qa_records(rows: list[dict], temperatures: dict[str, float], config: Any) -> list[dict]:
    """Quality records, each with `mean`: per head the weighted mean of the sub-metric probabilities over the
    head's windows (`aggregate_qa_head` with `config`'s `qa_window_scope`: the scores `decide_qa` compares with the
    sub-metric thresholds)."""
    records = _records(rows, temperatures, binary=True)
    for record in records:
        record["mean"] = {
            head: aggregate_qa_head(record["sizes"], torch.from_numpy(p), qa_window_scope_of(config, head)).numpy()
            for head, p in record["windows"].items()
        }
    return records


def _scoped_rows(rows: list[dict], scope: str) -> list[dict]:
    """The windows a quality head with `qa_window_scope` `scope` is decided on: each record's first or last (all)."""
    if scope == "all":
        return rows
    return [windows[0 if scope == "first" else -1] for windows in _group(rows).values()]


def _case(record: dict, config: Any, critical_threshold: float, heads: tuple[str, ...] | None = None) -> dict:
    """The record's case decisions by `decide_cls` at `critical_threshold` (all heads, or `heads`)."""
    probs = {head: torch.from_numpy(p) for head, p in record["windows"].items() if heads is None or head in heads}
    sizes = record.get("sizes") or [1] * len(next(iter(probs.values())))
    return decide_cls(probs, sizes, config, critical_threshold=critical_threshold)


def _quality(record: dict, config: Any) -> dict:
    """The record's quality decisions by `decide_qa`."""
    return decide_qa({head: torch.from_numpy(p) for head, p in record["windows"].items()}, record["sizes"], config)


def _priority_decisions(
    records: list[dict], config: Any, critical_threshold: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The records' priority label ids and critical alerts, decided by `decide_cls` at `critical_threshold`
    (default: `config.critical_threshold`)."""
    threshold = config.critical_threshold if critical_threshold is None else critical_threshold
    decided = [_case(r, config, threshold, ("priority",))["priority"] for r in records]
    labels = list(config.case_heads["priority"])
    return (np.array([labels.index(d["label"]) for d in decided], dtype=int),
            np.array([bool(d.get("critical_alert", d["label"] == config.critical_priority)) for d in decided]))  # fmt: skip


# --------------------------------------------------------------------------- thresholds
def _critical_id(config: Any) -> int | None:
    return critical_index(config.case_heads, config.critical_priority)


def critical_figures(
    pred: np.ndarray, gold: np.ndarray, critical_id: int, alert: np.ndarray | None = None
) -> dict[str, float]:
    """What the critical alerts are worth against `gold` priorities (`-100`: unlabelled, left out): recall and
    precision of the alert, the false alarms (calls alerted that are not critical), also per 100 calls, and the
    accuracy of the priority labels `pred`. `alert`: the calls' `critical_alert`s; without it, a call is alerted
    when its label is critical.

    Example:
        >>> critical_figures(np.array([0, 0, 1, 0]), np.array([0, 1, 1, 2]), critical_id=0)["false_alarms_per_100_calls"]
        50.0
        >>> critical_figures(np.array([1, 1, 1, 2]), np.array([0, 1, 1, 2]), 0, alert=np.array([1, 1, 0, 0]))["critical_recall"]
        1.0
    """
    pred, gold = np.asarray(pred), np.asarray(gold)
    labelled = gold != IGNORE
    flagged = (pred == critical_id) if alert is None else np.asarray(alert, dtype=bool)
    pred, gold, flagged = pred[labelled], gold[labelled], flagged[labelled]
    critical = gold == critical_id
    false_alarms = int((flagged & ~critical).sum())
    return {
        "critical_recall": float(flagged[critical].mean()) if critical.any() else 0.0,
        "critical_precision": float(critical[flagged].mean()) if flagged.any() else 0.0,
        "priority_accuracy": float((pred == gold).mean()) if len(gold) else 0.0,
        "critical_calls": int(critical.sum()),
        "records": int(len(gold)),
        "decided_critical": int(flagged.sum()),
        "false_alarms": false_alarms,
        "false_alarms_per_100_calls": round(100.0 * false_alarms / len(gold), 4) if len(gold) else 0.0,
    }


def choose_critical_threshold(
    records: list[dict], config: Any, critical_id: int, target: float, ceiling: float = 0.5
) -> dict[str, float]:
    """A threshold <= `ceiling` whose safety-first decisions reach `target` critical recall: the highest critical
    call's peak that does, lowered halfway to the next lower peak of any call. The margin changes no decision on
    these calls, but a threshold equal to a call's peak would lose that call to rounding (the stored value has 6
    decimals) or to the last-bit differences of a reloaded model, and calls not seen here fall in the gap too.
    Each candidate is tried through `decide_cls(..., critical_threshold=candidate)`."""
    gold = np.array([r["gold"]["priority"] for r in records])
    critical = gold == critical_id
    peaks = np.array([float(r["windows"]["priority"][:, critical_id].max()) for r in records])

    def figures(threshold: float) -> dict[str, float]:
        labels, alerts = _priority_decisions(records, config, threshold)
        return critical_figures(labels, gold, critical_id, alert=alerts)

    chosen = ceiling
    candidates = sorted({ceiling, *[p for p in peaks[critical] if p < ceiling]}, reverse=True)
    for threshold in candidates:  # from the highest down: the first that reaches the target
        chosen = threshold
        if figures(threshold)["critical_recall"] >= target:
            break
    if chosen < ceiling:
        below = peaks[peaks < chosen]
        chosen = (chosen + (float(below.max()) if below.size else 0.0)) / 2
    chosen = math.floor(chosen * 1e6) / 1e6  # stored with 6 decimals, never rounded up past a peak
    return {"critical_threshold": chosen, **figures(chosen)}


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
    cls_records: list[dict], qa_records: list[dict], config: Any, share: float, critical_threshold: float | None = None
) -> dict[str, float]:
    """One threshold per decision group (`case.<head>`, `quality.<head>`) such that `share` of the case records
    (and of the quality records) is flagged. A group's confidence is what `predict`'s review rule compares
    (`decision_confidences`: the decided score of a case head, by `decide_cls` at `critical_threshold`, default
    `config.critical_threshold`; the least `max(p, 1 - p)` of a quality head's sub-metrics)."""
    threshold = config.critical_threshold if critical_threshold is None else critical_threshold
    thresholds: dict[str, float] = {}
    for records, decide in ((cls_records, lambda r: (_case(r, config, threshold), None)),
                            (qa_records, lambda r: (None, _quality(r, config)))):  # fmt: skip
        if records:
            groups = [decision_confidences(*decide(r)) for r in records]
            confidences = {group: np.array([min(c for _, c in g[group]) for g in groups]) for group in groups[0]}
            thresholds.update(_share_thresholds(confidences, share)[0])
    # Stored with 6 decimals, rounded down so the record a threshold sits on stays unflagged as fitted; a group with
    # nothing to flag (-inf) gets 0, below every confidence.
    return {group: math.floor(value * 1e6) / 1e6 if math.isfinite(value) else 0.0 for group, value in thresholds.items()}


def _flag_report(flagged: np.ndarray, wrong: np.ndarray) -> dict[str, float]:
    """Share flagged, and the share of records with any wrong decision inside and outside the flagged set."""
    return {
        "records": int(len(flagged)),
        "flagged_share": round(float(flagged.mean()), 4) if len(flagged) else 0.0,
        "error_rate_flagged": round(float(wrong[flagged].mean()), 4) if flagged.any() else 0.0,
        "error_rate_not_flagged": round(float(wrong[~flagged].mean()), 4) if (~flagged).any() else 0.0,
        "error_rate_all": round(float(wrong.mean()), 4) if len(wrong) else 0.0,
    }


# --------------------------------------------------------------------------- what the fitted values are worth
def _cls_outcomes(records: list[dict], config: Any, fitted: Fitted) -> list[dict]:
    """Per case record: gold and decided label ids per head, and whether `predict`'s review rule flags it, both
    under the `fitted` values."""
    outcomes = []
    for record in records:
        case = _case(record, config, fitted.critical_threshold)
        pred = {head: list(config.case_heads[head]).index(d["label"]) for head, d in case.items()}
        flagged = bool(review_reasons(case, None, config, fitted.review_thresholds))
        alert = bool(case.get("priority", {}).get("critical_alert", False))
        outcomes.append({"gold": record["gold"], "pred": pred, "flagged": flagged, "alert": alert})
    return outcomes


def _qa_outcomes(records: list[dict], config: Any, fitted: Fitted) -> list[dict]:
    """Per quality record: whether any applicable sub-metric is decided wrongly, and whether it is flagged."""
    outcomes = []
    for record in records:
        quality = _quality(record, config)
        wrong = False
        for head, decisions in quality.items():
            gold = np.asarray(record["gold"][head])
            met = np.array([d["met"] for d in decisions.values()])
            wrong |= bool(((met != (gold > 0.5)) & (gold != IGNORE)).any())
        outcomes.append({"wrong": wrong, "flagged": bool(review_reasons(None, quality, config, fitted.review_thresholds))})
    return outcomes


def _cls_summary(outcomes: list[dict], critical_id: int | None) -> dict[str, Any]:
    heads = list(outcomes[0]["pred"])
    flagged = np.array([o["flagged"] for o in outcomes])
    wrong = {
        head: np.array([o["gold"][head] != IGNORE and o["pred"][head] != o["gold"][head] for o in outcomes])
        for head in heads
    }
    summary: dict[str, Any] = {"records": len(outcomes)}
    if critical_id is not None and "priority" in heads:
        pred = np.array([o["pred"]["priority"] for o in outcomes])
        gold = np.array([o["gold"]["priority"] for o in outcomes])
        summary["critical"] = critical_figures(pred, gold, critical_id, alert=np.array([o["alert"] for o in outcomes]))
    summary["review"] = _flag_report(flagged, np.any(np.stack(list(wrong.values())), axis=0))
    # "Any head wrong" is nearly always true while a head with many classes is weak: per head says more.
    summary["review_per_head"] = {head: _flag_report(flagged, wrong[head]) for head in heads}
    return summary


def _qa_summary(outcomes: list[dict]) -> dict[str, Any]:
    flagged = np.array([o["flagged"] for o in outcomes])
    return {"records": len(outcomes), "review": _flag_report(flagged, np.array([o["wrong"] for o in outcomes]))}


def _cls_confidences(records: list[dict]) -> dict[str, tuple[list, list]]:
    """Per case head, over labelled records: the top probability of the weighted mean, and whether its class is
    the gold one."""
    pairs: dict[str, tuple[list, list]] = {}
    for head in records[0]["mean"] if records else []:
        confidence, correct = pairs.setdefault(head, ([], []))
        for r in records:
            if r["gold"][head] != IGNORE:
                confidence.append(float(r["mean"][head].max()))
                correct.append(int(r["mean"][head].argmax()) == r["gold"][head])
    return pairs


def _qa_confidences(records: list[dict], config: Any) -> dict[str, tuple[list, list]]:
    """Per quality head, over applicable sub-metrics: `max(p, 1 - p)`, and whether `decide_qa`'s met is right."""
    pairs: dict[str, tuple[list, list]] = {}
    for r in records:
        for head, decisions in _quality(r, config).items():
            confidence, correct = pairs.setdefault(head, ([], []))
            gold = np.asarray(r["gold"][head])
            for decision, value in zip(decisions.values(), gold):
                if value != IGNORE:
                    confidence.append(max(decision["score"], 1 - decision["score"]))
                    correct.append(bool(decision["met"]) == (value > 0.5))
    return pairs


def _ece(pairs: dict[str, tuple[list, list]]) -> dict[str, float]:
    return {
        head: expected_calibration_error(np.array(confidence), np.array(correct))
        for head, (confidence, correct) in pairs.items()
        if confidence
    }


def _ece_cls(records: list[dict]) -> dict[str, float]:
    return _ece(_cls_confidences(records))


def _ece_qa(records: list[dict], config: Any) -> dict[str, float]:
    return _ece(_qa_confidences(records, config))


def _merge(into: dict[str, tuple[list, list]], pairs: dict[str, tuple[list, list]]) -> None:
    for head, (confidence, correct) in pairs.items():
        into.setdefault(head, ([], []))[0].extend(confidence)
        into[head][1].extend(correct)


def cross_fitted_critical(
    records: list[dict], config: Any, critical_id: int, target: float, folds: int = 5
) -> dict[str, float]:
    """What the critical threshold finds on calls it was not fitted on: split the records into `folds` (critical
    calls dealt round-robin, so every fold has some), fit the threshold on the other folds, decide the held-out
    fold with it, and score the out-of-fold decisions together. The threshold stored in the config is fitted on
    every record; this is the honest estimate of its recall (the in-sample one meets the target by construction).
    The temperatures stay those fitted on every record (see `calibrate`'s `held_out` for a cross-fit of all).
    """
    gold = np.array([r["gold"]["priority"] for r in records])
    folds = min(folds, int((gold == critical_id).sum()))
    if folds < 2:
        return {}
    fold_of = _folds(gold == critical_id, folds)
    pred = np.zeros(len(records), dtype=int)
    alert = np.zeros(len(records), dtype=bool)
    for fold in range(folds):
        inside = [r for r, f in zip(records, fold_of) if f != fold]
        threshold = choose_critical_threshold(inside, config, critical_id, target)["critical_threshold"]
        held = np.flatnonzero(fold_of == fold)
        pred[held], alert[held] = _priority_decisions([records[i] for i in held], config, threshold)
    figures = critical_figures(pred, gold, critical_id, alert=alert)
    return {
        "crossfit_critical_recall": figures["critical_recall"],
        "crossfit_critical_precision": figures["critical_precision"],
        "crossfit_false_alarms_per_100_calls": figures["false_alarms_per_100_calls"],
        "crossfit_folds": folds,
    }


def _folds(critical: np.ndarray, folds: int) -> np.ndarray:
    """Fold of each record: critical calls and the others each dealt round-robin, so every fold has both."""
    fold_of = np.empty(len(critical), dtype=int)
    for group in (np.flatnonzero(critical), np.flatnonzero(~critical)):
        fold_of[group] = np.arange(len(group)) % folds
    return fold_of


# --------------------------------------------------------------------------- fitting, and the whole pass
def fit(
    cls_rows: list[dict], qa_rows: list[dict], config: Any, critical_recall_target: float, review_share: float
) -> tuple[Fitted, dict[str, float] | None]:
    """Fit every calibrated value on the rows of one split: the temperatures, the critical threshold and the review
    thresholds (`Fitted`; the critical threshold stays `config`'s without case rows), and the in-sample report of
    the critical threshold (or None)."""
    temperatures: dict[str, dict[str, float]] = {}
    for task, rows in (("cls", cls_rows), ("qa", qa_rows)):
        if rows:
            temperatures[task] = {}
            binary = TASK_SPECS[task].multi_label  # independent sub-metrics: one sigmoid each
            for head in rows[0]["logits"]:
                # The windows the head is decided on (a quality head's `qa_window_scope`; a case head's: all).
                head_rows = _scoped_rows(rows, qa_window_scope_of(config, head) if binary else "all")
                logits = np.stack([row["logits"][head] for row in head_rows])
                labels = np.stack([row["gold"][head] for row in head_rows])
                offset = None if binary else case_logit_offset(config, head)  # scored as predict scores them
                temperatures[task][head] = round(fit_temperature(logits, labels, binary=binary, offset=offset), 4)
    fitted = Fitted(temperatures, float(config.critical_threshold), prior_mix=_fit_prior_mix(cls_rows, config, temperatures))
    cls_records = _cls_records(cls_rows, temperatures.get("cls", {}), config, fitted.prior_mix) if cls_rows else []
    qa_records = _qa_records(qa_rows, temperatures.get("qa", {}), config) if qa_rows else []
    critical_id = _critical_id(config)
    critical = None
    if cls_records and critical_id is not None:
        critical = choose_critical_threshold(cls_records, config, critical_id, critical_recall_target)
        fitted.critical_threshold = critical["critical_threshold"]
    fitted.review_thresholds = choose_review_thresholds(
        cls_records, qa_records, config, review_share, fitted.critical_threshold
    )
    return fitted, critical


def _fit_prior_mix(cls_rows: list[dict], config: Any, temperatures: dict[str, dict[str, float]]) -> dict[str, float]:
    """Per case head with training class frequencies (`config.case_class_priors`), the share of the model in its
    scores (`fit_prior_mix` over the windows, after the head's temperature and prior correction)."""
    mix: dict[str, float] = {}
    for head in (cls_rows[0]["logits"] if cls_rows else {}):
        priors = (getattr(config, "case_class_priors", None) or {}).get(head)
        if not priors:
            continue
        logits = torch.as_tensor(np.stack([row["logits"][head] for row in cls_rows]), dtype=torch.float32)
        probs = apply_temperature(logits, temperatures.get("cls", {}).get(head, 1.0), offset=case_logit_offset(config, head))
        labels = np.stack([row["gold"][head] for row in cls_rows])
        mix[head] = round(fit_prior_mix(probs.numpy(), labels, priors), 4)
    return mix


def _held_out_case(
    val_rows: list[dict], test_rows: list[dict], config: Any, fitted: Fitted, target: float, share: float
) -> dict:
    """The case figures of the fitted values on records they were not fitted on: the test split's, or where there is
    none, the validation's cross-fitted (each fold decided by values fitted on the other folds)."""
    critical_id = _critical_id(config)
    if test_rows:
        after = _cls_records(test_rows, fitted.temperatures.get("cls", {}), config, fitted.prior_mix)
        summary = _cls_summary(_cls_outcomes(after, config, fitted), critical_id)
        ece = {"before": _ece_cls(_cls_records(test_rows, {})), "after": _ece_cls(after)}
        return {"evaluated_on": "test", **summary, "ece": ece}
    by_id = _group(val_rows)
    gold = np.array([windows[0]["gold"].get("priority", IGNORE) for windows in by_id.values()])
    critical = gold == critical_id if critical_id is not None else np.zeros(len(gold), dtype=bool)
    folds = min(5, int(critical.sum())) if critical.sum() >= 2 else min(5, len(gold))
    if folds < 2:
        return {"evaluated_on": "none (fewer than 2 validation records)"}
    fold_of = dict(zip(by_id, _folds(critical, folds)))
    outcomes: list[dict] = []
    after: dict[str, tuple[list, list]] = {}
    for fold in range(folds):
        inside = [row for row in val_rows if fold_of[row["example_id"]] != fold]
        outside = [row for row in val_rows if fold_of[row["example_id"]] == fold]
        if not outside:  # few records, few critical ones: dealt round-robin, a fold can stay empty
            continue
        fold_fitted, _ = fit(inside, [], config, target, share)
        records = _cls_records(outside, fold_fitted.temperatures.get("cls", {}), config, fold_fitted.prior_mix)
        outcomes += _cls_outcomes(records, config, fold_fitted)
        _merge(after, _cls_confidences(records))
    ece = {"before": _ece_cls(_cls_records(val_rows, {})), "after": _ece(after)}
    folds = len(set(fold_of.values()))  # the folds that held records
    return {"evaluated_on": "validation (cross-fitted)", "folds": folds, **_cls_summary(outcomes, critical_id),
            "ece": ece}  # fmt: skip


def _held_out_quality(
    val_rows: list[dict], test_rows: list[dict], config: Any, fitted: Fitted, target: float, share: float
) -> dict:
    """As `_held_out_case`, for the quality heads."""
    if test_rows:
        after = _qa_records(test_rows, fitted.temperatures.get("qa", {}), config)
        ece = {"before": _ece_qa(_qa_records(test_rows, {}, config), config), "after": _ece_qa(after, config)}
        return {"evaluated_on": "test", **_qa_summary(_qa_outcomes(after, config, fitted)), "ece": ece}
    ids = list(_group(val_rows))
    folds = min(5, len(ids))
    if folds < 2:
        return {"evaluated_on": "none (fewer than 2 validation records)"}
    fold_of = {example_id: index % folds for index, example_id in enumerate(ids)}
    outcomes: list[dict] = []
    after: dict[str, tuple[list, list]] = {}
    for fold in range(folds):
        inside = [row for row in val_rows if fold_of[row["example_id"]] != fold]
        outside = [row for row in val_rows if fold_of[row["example_id"]] == fold]
        fold_fitted, _ = fit([], inside, config, target, share)
        # The case groups' thresholds are the whole fit's; only the quality ones come from this fold's fit.
        fold_fitted.review_thresholds = {**fitted.review_thresholds, **fold_fitted.review_thresholds}
        records = _qa_records(outside, fold_fitted.temperatures.get("qa", {}), config)
        outcomes += _qa_outcomes(records, config, fold_fitted)
        _merge(after, _qa_confidences(records, config))
    ece = {"before": _ece_qa(_qa_records(val_rows, {}, config), config), "after": _ece(after)}
    return {"evaluated_on": "validation (cross-fitted)", "folds": folds, **_qa_summary(outcomes), "ece": ece}


def _rows(model, datasets: dict | None, collator, task: str, batch_size: int, bf16: bool) -> list[dict]:
    dataset = (datasets or {}).get(task)
    if dataset is None or task not in model.config.tasks or not len(dataset):
        return []
    return run_task(model, dataset, collator, task, batch_size=batch_size, bf16=bf16)


def _in_sample(cls_rows: list[dict], qa_rows: list[dict], config: Any, fitted: Fitted) -> dict[str, Any]:
    """The report's in-sample part: ECE before and after the temperatures, and what the review flag is worth on the
    validation records the values were fitted on."""
    report: dict[str, Any] = {}
    cls_after = _cls_records(cls_rows, fitted.temperatures.get("cls", {}), config, fitted.prior_mix) if cls_rows else []
    qa_after = _qa_records(qa_rows, fitted.temperatures.get("qa", {}), config) if qa_rows else []
    if cls_rows:
        report["ece_case"] = {"before": _ece_cls(_cls_records(cls_rows, {})), "after": _ece_cls(cls_after)}
    if qa_rows:
        report["ece_quality"] = {"before": _ece_qa(_qa_records(qa_rows, {}, config), config), "after": _ece_qa(qa_after, config)}
    review: dict[str, Any] = {}
    if cls_after:
        in_sample = _cls_summary(_cls_outcomes(cls_after, config, fitted), None)
        review["case"], review["case_per_head"] = in_sample["review"], in_sample["review_per_head"]
    if qa_after:
        review["quality"] = _qa_summary(_qa_outcomes(qa_after, config, fitted))["review"]
    return {**report, "review": review, "cls_after": cls_after}


def calibrate(
    model,
    eval_datasets: dict,
    collator,
    critical_recall_target: float = 0.9,
    review_share: float = 0.2,
    batch_size: int = 32,
    bf16: bool = False,
    test_datasets: dict | None = None,
) -> dict[str, Any]:
    """Fit temperatures, the critical threshold and the review thresholds on the tokenised validation windows
    (`{"cls": ..., "qa": ...}`); they are written into `model.config`. Returns the report (numbers only).

    The report's top-level figures are in-sample (the validation records the values were fitted on); `held_out`
    gives, per task, the figures on records they were not fitted on: the `test_datasets` split where there is one
    (`"evaluated_on": "test"`), else the validation's cross-fitted ones (`"validation (cross-fitted)"`, 5 folds,
    every value refit on four and applied to the fifth).

    Example:
        >>> report = calibrate(model, {"cls": val_windows}, collator, test_datasets={"cls": test_windows})  # doctest: +SKIP
        >>> report["held_out"]["case"]["critical"]["critical_recall"]  # doctest: +SKIP
        0.85
    """
    config = model.config
    rows = {task: _rows(model, eval_datasets, collator, task, batch_size, bf16) for task in CALIBRATED}
    test = {task: _rows(model, test_datasets, collator, task, batch_size, bf16) for task in CALIBRATED}
    # The case and quality records are scored by their own decision rules (the payload's decide_cls, decide_qa).
    (cls_rows, qa_rows), (test_cls, test_qa) = (rows["cls"], rows["qa"]), (test["cls"], test["qa"])
    fitted, critical = fit(cls_rows, qa_rows, config, critical_recall_target, review_share)

    in_sample = _in_sample(cls_rows, qa_rows, config, fitted)
    cls_after = in_sample.pop("cls_after")
    report: dict[str, Any] = {"fitted_on": "validation", "temperatures": fitted.temperatures,
                              "prior_mix": fitted.prior_mix}  # fmt: skip
    report.update({key: value for key, value in in_sample.items() if key != "review"})
    if critical is not None:
        critical["target_recall"] = critical_recall_target
        critical.update(cross_fitted_critical(cls_after, config, _critical_id(config), critical_recall_target))
        report["critical"] = critical
    report["review"] = {"target_share": review_share, **in_sample["review"]}
    report["review_thresholds"] = fitted.review_thresholds
    held_out: dict[str, Any] = {}
    if cls_rows:
        held_out["case"] = _held_out_case(cls_rows, test_cls, config, fitted, critical_recall_target, review_share)
    if qa_rows:
        held_out["quality"] = _held_out_quality(qa_rows, test_qa, config, fitted, critical_recall_target, review_share)
    report["held_out"] = held_out
    report["evaluated_on"] = {task: part["evaluated_on"] for task, part in held_out.items()}  # which stands in
    config.temperatures = fitted.temperatures
    config.case_prior_mix = fitted.prior_mix
    config.critical_threshold = fitted.critical_threshold
    config.review_thresholds = fitted.review_thresholds
    logger.info("calibration fitted on the validation split; held-out figures on %s: %s", report["evaluated_on"], report)
    return report


def calibration_metrics(report: dict[str, Any], held_out: bool = True) -> dict[str, float]:
    """Flat numbers of a calibration report, for MLflow and the model card: `calib_*` in-sample (fitted on these
    records), and with `held_out` the `calib_heldout_{case,quality}_*` figures of `report["held_out"]`."""
    flat: dict[str, float] = {}
    for kind in ("ece_case", "ece_quality"):
        for when in ("before", "after"):
            values = report.get(kind, {}).get(when, {})
            if values:
                flat[f"calib_{kind}_{when}"] = round(float(np.mean(list(values.values()))), 6)
    for key, value in report.get("critical", {}).items():
        flat[f"calib_{key}"] = float(value)
    for head, value in report.get("prior_mix", {}).items():
        flat[f"calib_prior_mix_{head}"] = float(value)
    for kind, values in report.get("review", {}).items():
        if kind == "case_per_head":
            for head, numbers in values.items():
                flat.update({f"calib_review_case_{head}_{k}": float(v) for k, v in numbers.items()
                             if k.startswith("error_rate")})  # fmt: skip
        elif isinstance(values, dict):
            flat.update({f"calib_review_{kind}_{k}": float(v) for k, v in values.items()})
    for task, part in (report.get("held_out", {}) if held_out else {}).items():
        prefix = f"calib_heldout_{task}_"
        if "records" in part:
            flat[prefix + "records"] = float(part["records"])
        flat.update({prefix + k: float(v) for k, v in part.get("critical", {}).items()})
        flat.update({prefix + f"review_{k}": float(v) for k, v in part.get("review", {}).items()})
        for when, values in part.get("ece", {}).items():
            if values:
                flat[prefix + f"ece_{when}"] = round(float(np.mean(list(values.values()))), 6)
    return flat


__all__ = [
    "calibrate",
    "calibration_metrics",
    "choose_critical_threshold",
    "choose_review_thresholds",
    "critical_figures",
    "cross_fitted_critical",
    "expected_calibration_error",
    "fit",
    "fit_prior_mix",
    "fit_temperature",
]
