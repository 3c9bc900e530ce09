"""Metrics with flat keys shared by the trainer and `helpline-fusion evaluate`.

- NER: seqeval entity-level micro F1 on BIO tags (`ner_f1`, plus `ner_f1_<TYPE>`), not token-level F1
  that `O` tokens inflate. seqeval is called directly (`evaluate.load("seqeval")` needs the Hub).
- Case heads: `cls_<head>_accuracy`, `cls_<head>_macro_f1` (macro over the classes present in gold or
  predictions), and `cls_priority_critical_recall` (recall of the critical priority).
- Quality heads: `qa_<head>_f1`, micro F1 over the head's sub-metrics with not-applicable ones masked.
- `composite` = mean of `ner_f1`, the mean case-head accuracy and the mean quality F1, over the tasks
  that were evaluated; it drives checkpoint selection and early stopping.
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


def case_metrics(
    gold: dict[str, np.ndarray], predicted: dict[str, np.ndarray], critical_id: int | None = None
) -> dict:
    """Per-head accuracy and macro F1; examples whose gold label is `-100` are left out of that head."""
    metrics: dict[str, float] = {}
    for head, head_gold in gold.items():
        keep = head_gold != IGNORE
        if not keep.any():
            continue
        g, p = head_gold[keep], predicted[head][keep]
        metrics[f"cls_{head}_accuracy"] = float(np.mean(g == p))
        metrics[f"cls_{head}_macro_f1"] = macro_f1(g, p)
        if head == "priority" and critical_id is not None:
            critical = g == critical_id
            metrics["cls_priority_critical_recall"] = float(np.mean(p[critical] == critical_id)) if critical.any() else 0.0
    return metrics


def quality_metrics(gold: dict[str, np.ndarray], predicted: dict[str, np.ndarray]) -> dict:
    """Per-head micro F1 over sub-metrics; gold `-100` (not applicable) is masked out."""
    metrics: dict[str, float] = {}
    for head, head_gold in gold.items():
        mask = head_gold != IGNORE
        if not mask.any():
            continue
        g = head_gold[mask] > 0.5
        p = predicted[head][mask] > 0.5
        tp, fp, fn = np.sum(g & p), np.sum(~g & p), np.sum(g & ~p)
        metrics[f"qa_{head}_f1"] = float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else 1.0
        metrics[f"qa_{head}_accuracy"] = float(np.mean(g == p))
    return metrics


def composite(metrics: dict[str, float]) -> float:
    """Mean over evaluated tasks of: NER F1, mean case-head accuracy, mean quality-head F1."""
    parts = []
    if "ner_f1" in metrics:
        parts.append(metrics["ner_f1"])
    accuracies = [v for k, v in metrics.items() if k.startswith("cls_") and k.endswith("_accuracy")]
    if accuracies:
        parts.append(float(np.mean(accuracies)))
    f1s = [v for k, v in metrics.items() if k.startswith("qa_") and k.endswith("_f1")]
    if f1s:
        parts.append(float(np.mean(f1s)))
    return float(np.mean(parts)) if parts else 0.0
