"""Metrics with flat keys shared by the trainer and `helpline-fusion evaluate`.

- NER: seqeval entity-level micro F1 on BIO tags (`ner_f1`, plus `ner_f1_<TYPE>`), not token-level F1
  that `O` tokens inflate. seqeval is called directly (`evaluate.load("seqeval")` needs the Hub).
- Case heads: `cls_<head>_accuracy`, `cls_<head>_macro_f1` (macro over the classes present in gold or
  predictions), and `cls_priority_critical_recall` (recall of the critical priority).
  Beside each head its trivial baseline, `cls_<head>_majority_accuracy`: the accuracy of always answering the
  most frequent gold class (the best any constant answer can do); `cls_priority_critical_precision` too.
- Quality heads: `qa_<head>_f1`, micro F1 of "met" over the head's sub-metrics with not-applicable ones masked;
  `qa_<head>_accuracy`; `qa_<head>_macro_f1`, the mean of the F1 of "met" and of "not met" (answering "met"
  everywhere scores at most 0.5 on it); and the trivial baseline `qa_<head>_f1_all_met`, the F1 of answering
  "met" everywhere. `qa_macro_f1` is the mean over heads of `qa_<head>_macro_f1`.
- `composite` = mean of `ner_f1`, the mean case-head accuracy and `qa_macro_f1` (a quality figure no constant
  answer can inflate), over the tasks that were evaluated; it drives checkpoint selection and early stopping.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from seqeval.metrics import classification_report, f1_score
from seqeval.scheme import IOB2

IGNORE = -100


def ner_metrics(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], entity_types: Sequence[str]) -> dict:
    """Entity-level scores from aligned BIO tag sequences (one list per word-level sequence)."""
    if not gold:
        return {}
    metrics = {"ner_f1": float(f1_score(gold, predicted, average="micro", mode="strict", scheme=IOB2, zero_division=0))}
    report = classification_report(
        gold, predicted, mode="strict", scheme=IOB2, output_dict=True, zero_division=0
    )
    metrics["ner_precision"] = float(report["micro avg"]["precision"])
    metrics["ner_recall"] = float(report["micro avg"]["recall"])
    for entity_type in entity_types:
        if entity_type in report:
            metrics[f"ner_f1_{entity_type}"] = float(report[entity_type]["f1-score"])
            metrics[f"ner_support_{entity_type}"] = int(report[entity_type]["support"])
    return metrics


def macro_f1(gold: np.ndarray, predicted: np.ndarray) -> float:
    classes = np.union1d(gold, predicted)
    scores = []
    for label in classes:
        tp = np.sum((predicted == label) & (gold == label))
        fp = np.sum((predicted == label) & (gold != label))
        fn = np.sum((predicted != label) & (gold == label))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def cls_metrics(
    gold: dict[str, np.ndarray], predicted: dict[str, np.ndarray], critical_id: int | None = None
) -> dict:
    """Per-head accuracy and macro F1; examples whose gold label is `-100` are left out of that head. The critical
    recall and precision are those of `predicted["critical_alert"]` (0/1 per record, `decide_cls`'s alert) where
    given, else of the priority label being critical."""
    metrics: dict[str, float] = {}
    for head, head_gold in gold.items():
        keep = head_gold != IGNORE
        if not keep.any():
            continue
        g, p = head_gold[keep], predicted[head][keep]
        metrics[f"cls_{head}_accuracy"] = float(np.mean(g == p))
        metrics[f"cls_{head}_macro_f1"] = macro_f1(g, p)
        metrics[f"cls_{head}_majority_accuracy"] = float(np.bincount(g).max() / len(g))
        if head == "priority" and critical_id is not None:
            critical = g == critical_id
            alert = predicted.get("critical_alert")
            flagged = np.asarray(alert)[keep].astype(bool) if alert is not None else p == critical_id
            metrics["cls_priority_critical_recall"] = float(np.mean(flagged[critical])) if critical.any() else 0.0
            metrics["cls_priority_critical_precision"] = float(np.mean(critical[flagged])) if flagged.any() else 0.0
    return metrics


def qa_metrics(gold: dict[str, np.ndarray], predicted: dict[str, np.ndarray]) -> dict:
    """Per-head micro F1 over sub-metrics; gold `-100` (not applicable) is masked out."""
    metrics: dict[str, float] = {}
    for head, head_gold in gold.items():
        mask = head_gold != IGNORE
        if not mask.any():
            continue
        g = head_gold[mask] > 0.5
        p = predicted[head][mask] > 0.5
        met_f1, not_met_f1 = _binary_f1(g, p), _binary_f1(~g, ~p)
        metrics[f"qa_{head}_f1"] = met_f1
        metrics[f"qa_{head}_accuracy"] = float(np.mean(g == p))
        metrics[f"qa_{head}_macro_f1"] = (met_f1 + not_met_f1) / 2
        metrics[f"qa_{head}_f1_all_met"] = _binary_f1(g, np.ones_like(g))
    macro = [value for key, value in metrics.items() if key.endswith("_macro_f1")]
    if macro:
        metrics["qa_macro_f1"] = float(np.mean(macro))
    return metrics


def _binary_f1(gold: np.ndarray, predicted: np.ndarray) -> float:
    tp, fp, fn = np.sum(gold & predicted), np.sum(~gold & predicted), np.sum(gold & ~predicted)
    return float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else 1.0


def composite(metrics: dict[str, float]) -> float:
    """Mean over evaluated tasks of: NER F1, mean case-head accuracy, mean quality-head macro F1."""
    parts = []
    if "ner_f1" in metrics:
        parts.append(metrics["ner_f1"])
    accuracies = [
        v for k, v in metrics.items()
        if k.startswith("cls_") and k.endswith("_accuracy") and not k.endswith("_majority_accuracy")
    ]  # fmt: skip
    if accuracies:
        parts.append(float(np.mean(accuracies)))
    macro = [v for k, v in metrics.items() if k.startswith("qa_") and k.endswith("_macro_f1") and k != "qa_macro_f1"]
    if macro:
        parts.append(float(np.mean(macro)))
    return float(np.mean(parts)) if parts else 0.0
