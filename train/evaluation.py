"""Per-task evaluation of a fused (or single-task) model on tokenised, windowed validation sets.

Evaluation decides exactly as `predict()` does, by calling the functions that ship with the model
(`modeling_attention_fusion/inference_attention_fusion.py`): the windows run through `run_windows` (same batching,
padding and temperatures), and the windows of a record are folded back into one decision by the same rules:

- NER: each word is scored once, from the window where its first sub-word is most central (`pick_most_central`,
  by token position among the window's content tokens); the `word_ids` column of the tokenised data says which
  word a labelled token starts. Without that column every window is scored as its own sequence.
- Case heads: `decide_cls` (confidence x length weighted mean, safety-first priority, joint main and
  sub-category).
- Quality heads: `decide_qa` (the same weighted mean against each sub-metric's threshold).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import torch

from ..modeling_attention_fusion.inference_attention_fusion import (
    Window,
    decide_cls,
    decide_qa,
    pick_most_central,
    run_windows,
)
from ..modeling_attention_fusion.labels_attention_fusion import TASK_INFO
from . import metrics as M

IGNORE = -100


def dataset_windows(dataset, special_margins: tuple[int, int]) -> list[Window]:
    """The rows of a tokenised dataset as [`Window`]s (`sample` = the row's `example_id`), in dataset order.

    `special_margins`: how many special tokens the tokenizer puts before and after a single sequence (see
    `MultiTaskCollator.special_margins`); the rest of a window is its content.
    """
    lead, trail = special_margins
    word_column = dataset["word_ids"] if "word_ids" in dataset.column_names else None
    turn_column = dataset["turn_ids"] if "turn_ids" in dataset.column_names else None  # quality pooling over turns
    windows = []
    for index, (ids, example_id) in enumerate(zip(dataset["input_ids"], dataset["example_id"])):
        if word_column is not None:
            content = [p for p, word in enumerate(word_column[index]) if word is not None and word >= 0]
            word_ids = [int(word_column[index][p]) for p in content]
        else:
            content = list(range(lead, len(ids) - trail))
            word_ids = [None] * len(content)
        turn_ids = list(turn_column[index]) if turn_column is not None else None
        windows.append(Window(int(example_id), list(ids), content, [(0, 0)] * len(content), word_ids, turn_ids))
    return windows


def run_task(model, dataset, collator, task: str, batch_size: int = 32, bf16: bool = False) -> list[dict]:
    """Every window of `dataset` through `task`'s head with `run_windows` (as `predict` runs it): one dict per
    window, in dataset order, with `example_id`, `size` (content tokens) and for `ner` the content tokens'
    `pred`, `labels` and `word_ids`; for `cls`/`qa` the raw `logits`, the `probs` after the head's temperature and
    the `gold` labels, per head."""
    windows = dataset_windows(dataset, getattr(collator, "special_margins", (0, 0)))
    longest = max((len(window.input_ids) for window in windows), default=0)
    was_training = model.training
    model.eval()
    try:
        predictions = run_windows(
            model, windows, collator.pad_token_id, batch_size=batch_size, bf16=bf16,
            window_length=max(longest, int(getattr(model.config, "window_length", 0) or 0)), task=task,
        )  # fmt: skip
    finally:
        model.train(was_training)
    info = TASK_INFO[task]
    prefixes = tuple(i.label_prefix for i in TASK_INFO.values() if i.label_prefix)
    columns = {name: dataset[name] for name in dataset.column_names if name == "labels" or name.startswith(prefixes)}
    rows: list[dict] = []
    for index, (window, prediction) in enumerate(zip(windows, predictions)):
        row: dict[str, Any] = {"example_id": window.sample, "size": len(window.content)}
        if info.token_level:
            row["pred"] = getattr(prediction, task).argmax(-1).numpy()
            row["labels"] = np.asarray(columns["labels"][index])[window.content]
            row["word_ids"] = np.asarray(window.word_ids) if "word_ids" in dataset.column_names else None
        else:
            probs = getattr(prediction, task)  # {head: probabilities after the head's temperature}
            row["logits"] = {head: value.numpy() for head, value in getattr(prediction, info.logits).items()}
            row["probs"] = {head: value.numpy() for head, value in probs.items()}
            gold = [columns[info.label_prefix + head][index] for head in probs]
            # One class id per head, or one 0/1 (-100: not applicable) per sub-metric.
            row["gold"] = {
                head: np.asarray(value, dtype=float) if info.multi_label else int(value)
                for head, value in zip(probs, gold)
            }
        rows.append(row)
    return rows


def _group(rows: list[dict]) -> dict[int, list[dict]]:
    grouped: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        grouped[row["example_id"]].append(row)
    return dict(sorted(grouped.items()))


def fold_ner(rows: list[dict], tags: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """Word-level gold and predicted BIO sequences, one per record. Rows hold the windows' content tokens
    (`labels`, `pred`, `word_ids`); a word is read at its first labelled sub-word, from the window where that
    sub-word is most central (`pick_most_central`, the rule `predict` applies to tokens)."""
    gold_seqs, pred_seqs = [], []
    for windows in _group(rows).values():
        if windows[0]["word_ids"] is None:
            for w in windows:
                keep = w["labels"] != IGNORE  # without word ids, every labelled sub-word counts as a word
                gold_seqs.append([tags[t] for t in w["labels"][keep]])
                pred_seqs.append([tags[t] for t in w["pred"][keep]])
            continue
        candidates = []
        for w in windows:
            seen: set[int] = set()
            for position, (word, label) in enumerate(zip(w["word_ids"], w["labels"])):
                if word in seen:
                    continue  # a later sub-word
                seen.add(int(word))
                if label == IGNORE:
                    continue  # the word began in an earlier window, which scores it
                candidates.append((int(word), position, len(w["labels"]), (int(label), int(w["pred"][position]))))
        best = pick_most_central(candidates)
        words = sorted(best)
        gold_seqs.append([tags[best[word][0]] for word in words])
        pred_seqs.append([tags[best[word][1]] for word in words])
    return gold_seqs, pred_seqs


def fold_cls(rows: list[dict], config) -> tuple[dict, dict]:
    """Per record, gold and predicted label ids per case head; the prediction is `decide_cls` (as `predict`).
    `pred["critical_alert"]` (0/1 per record) holds the priority's critical alert where the model has one."""
    gold: dict[str, list[int]] = defaultdict(list)
    pred: dict[str, list[int]] = defaultdict(list)
    for windows in _group(rows).values():
        probs = {head: torch.as_tensor(np.stack([w["probs"][head] for w in windows])) for head in windows[0]["probs"]}
        decided = decide_cls(probs, [w.get("size", 1) for w in windows], config)
        for head, decision in decided.items():
            gold[head].append(windows[0]["gold"][head])
            pred[head].append(list(config.case_heads[head]).index(decision["label"]))
            if "critical_alert" in decision:  # beside the heads: the call's critical alert (not a head of gold)
                pred["critical_alert"].append(int(decision["critical_alert"]))
    return {h: np.asarray(v) for h, v in gold.items()}, {h: np.asarray(v) for h, v in pred.items()}


def fold_qa(rows: list[dict], config) -> tuple[dict, dict]:
    """Per record, gold and predicted 0/1 per quality sub-metric; the prediction is `decide_qa`."""
    gold: dict[str, list[np.ndarray]] = defaultdict(list)
    pred: dict[str, list[np.ndarray]] = defaultdict(list)
    for windows in _group(rows).values():
        probs = {head: torch.as_tensor(np.stack([w["probs"][head] for w in windows])) for head in windows[0]["probs"]}
        decided = decide_qa(probs, [w.get("size", 1) for w in windows], config)
        for head, decisions in decided.items():
            gold[head].append(windows[0]["gold"][head])
            pred[head].append(np.asarray([float(d["met"]) for d in decisions.values()]))
    return {h: np.stack(v) for h, v in gold.items()}, {h: np.stack(v) for h, v in pred.items()}


def record_decisions(
    model, datasets: dict, collator, batch_size: int = 32, bf16: bool = False, rows: dict | None = None
) -> dict[str, tuple[Any, Any]]:
    """`(gold, predicted)` per task, folded per record (records in `example_id` order): NER word-level BIO
    sequences, case label ids per head, quality 0/1 per head. `rows`: `run_task`'s rows per task, when the caller
    has them already (`train/report.py` plots from them); filled in for the tasks it lacks."""
    from .tasks import TASK_SPECS  # the registry imports this module for the folds

    config = model.config
    decisions: dict[str, tuple[Any, Any]] = {}
    rows = {} if rows is None else rows
    for task, dataset in datasets.items():
        if dataset is None or len(dataset) == 0 or task not in config.tasks:
            continue
        if task not in rows:
            rows[task] = run_task(model, dataset, collator, task, batch_size=batch_size, bf16=bf16)
        decisions[task] = TASK_SPECS[task].fold(rows[task], config)
    return decisions


def evaluate_tasks(
    model, datasets: dict, collator, batch_size: int = 32, bf16: bool = False, rows: dict | None = None
) -> dict[str, float]:
    """Metrics (flat keys, see `metrics`) of `model` on each task's tokenised validation set (`rows`: see
    `record_decisions`)."""
    from .tasks import TASK_SPECS  # the registry imports this module for the folds

    results: dict[str, float] = {}
    for task, (gold, pred) in record_decisions(model, datasets, collator, batch_size, bf16, rows).items():
        results.update(TASK_SPECS[task].metrics(gold, pred, model.config))
    results["composite"] = M.composite(results)
    return results
