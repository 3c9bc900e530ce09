"""Per-task evaluation of a fused (or single-task) model on tokenised, windowed validation sets.

Windows are folded back into records before scoring, so a long transcript counts once:
- NER: each word is scored once, from the window in which it sits farthest from a window edge (the
  `word_ids` column of the tokenised data says which word a labelled token starts); without that column
  every window is scored as its own sequence.
- Case heads: per record, the mean of the windows' class probabilities (argmax) after the head's calibration
  temperature; priority is safety-first, as at inference: critical when any window's critical probability
  reaches the threshold; main and sub-category are one joint decision, as at inference.
- Quality heads: per record, the mean of the windows' sub-metric probabilities.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import nullcontext

import numpy as np
import torch

from ..modeling_attention_fusion.inference_attention_fusion import joint_main_sub
from . import metrics as M

IGNORE = -100


def _batches(dataset, batch_size: int):
    # Length-sorted batches: little padding, same results (scores are folded per record afterwards).
    lengths = [len(ids) for ids in dataset["input_ids"]]
    order = np.argsort(lengths, kind="stable")
    for start in range(0, len(order), batch_size):
        indices = [int(i) for i in order[start : start + batch_size]]
        yield [dataset[i] for i in indices]


@torch.inference_mode()
def run_task(model, dataset, collator, task: str, batch_size: int = 32, bf16: bool = False) -> list[dict]:
    """Forward every window of `dataset` through `task`'s head; one dict of numpy outputs per window."""
    model.eval()
    device = next(model.parameters()).device
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
    rows: list[dict] = []
    for features in _batches(dataset, batch_size):
        batch = collator(features)
        with autocast:
            out = model(
                input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device), task=task
            )
        for i, feature in enumerate(features):
            row = {"example_id": int(feature["example_id"])}
            if task == "ner":
                length = len(feature["input_ids"])
                row["pred"] = out.ner_logits[i, :length].float().argmax(-1).cpu().numpy()
                row["labels"] = np.asarray(feature["labels"])
                row["word_ids"] = np.asarray(feature["word_ids"]) if "word_ids" in feature else None
            elif task == "cls":
                # Scores as `predict` gives them: logits divided by the head's calibration temperature.
                row["logits"] = {h: v[i].float().cpu().numpy() for h, v in out.cls_logits.items()}
                row["probs"] = {
                    h: torch.softmax(v[i].float() / model.config.head_temperature("cls", h), -1).cpu().numpy()
                    for h, v in out.cls_logits.items()
                }
                row["gold"] = {h: int(feature[f"cls_{h}"]) for h in out.cls_logits}
            else:
                row["logits"] = {h: v[i].float().cpu().numpy() for h, v in out.qa_logits.items()}
                row["probs"] = {
                    h: torch.sigmoid(v[i].float() / model.config.head_temperature("qa", h)).cpu().numpy()
                    for h, v in out.qa_logits.items()
                }
                row["gold"] = {h: np.asarray(feature[f"qa_{h}"], dtype=float) for h in out.qa_logits}
            rows.append(row)
    return rows


def _group(rows: list[dict]) -> dict[int, list[dict]]:
    grouped: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        grouped[row["example_id"]].append(row)
    return dict(sorted(grouped.items()))


def fold_ner(rows: list[dict], tags: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """Word-level gold and predicted BIO sequences, one per record."""
    gold_seqs, pred_seqs = [], []
    for windows in _group(rows).values():
        if windows[0]["word_ids"] is None:
            for w in windows:
                keep = w["labels"] != IGNORE  # without word ids, every labelled sub-word counts as a word
                gold_seqs.append([tags[t] for t in w["labels"][keep]])
                pred_seqs.append([tags[t] for t in w["pred"][keep]])
            continue
        best: dict[int, tuple[int, int, int]] = {}  # word -> (distance to edge, gold, predicted)
        for w in windows:
            positions = np.nonzero((w["labels"] != IGNORE) & (w["word_ids"] >= 0))[0]
            # A word is read from its first labelled sub-word (later ones are labelled too when every sub-word is).
            _, first = np.unique(w["word_ids"][positions], return_index=True)
            positions = positions[np.sort(first)]
            for rank, position in enumerate(positions):
                margin = min(rank, len(positions) - 1 - rank)
                word = int(w["word_ids"][position])
                if word not in best or margin > best[word][0]:
                    best[word] = (margin, int(w["labels"][position]), int(w["pred"][position]))
        words = sorted(best)
        gold_seqs.append([tags[best[word][1]] for word in words])
        pred_seqs.append([tags[best[word][2]] for word in words])
    return gold_seqs, pred_seqs


def fold_cls(
    rows: list[dict], critical_id: int | None, critical_threshold: float, config=None
) -> tuple[dict, dict]:
    """Per record: the mean of the windows' probabilities per head; priority safety-first; with a `config`
    whose `sub_to_main` covers the labels, main and sub-category decided jointly (`joint_main_sub`, as `predict`)."""
    gold: dict[str, list[int]] = defaultdict(list)
    pred: dict[str, list[int]] = defaultdict(list)
    for windows in _group(rows).values():
        means = {}
        for head in windows[0]["probs"]:
            probs = np.stack([w["probs"][head] for w in windows])
            means[head] = probs.mean(0)
            choice = int(means[head].argmax())
            if head == "priority" and critical_id is not None and (probs[:, critical_id] >= critical_threshold).any():
                choice = critical_id
            gold[head].append(windows[0]["gold"][head])
            pred[head].append(choice)
        if config is not None and {"main_category", "sub_category"} <= set(means):
            pair = joint_main_sub(
                torch.from_numpy(means["main_category"]), torch.from_numpy(means["sub_category"]), config
            )
            if pair is not None:
                pred["main_category"][-1], pred["sub_category"][-1] = pair
    return {h: np.asarray(v) for h, v in gold.items()}, {h: np.asarray(v) for h, v in pred.items()}


def fold_qa(rows: list[dict], thresholds: dict[str, list[float]]) -> tuple[dict, dict]:
    gold: dict[str, list[np.ndarray]] = defaultdict(list)
    pred: dict[str, list[np.ndarray]] = defaultdict(list)
    for windows in _group(rows).values():
        for head in windows[0]["probs"]:
            probs = np.stack([w["probs"][head] for w in windows]).mean(0)
            gold[head].append(windows[0]["gold"][head])
            pred[head].append((probs >= np.asarray(thresholds[head])).astype(float))
    return {h: np.stack(v) for h, v in gold.items()}, {h: np.stack(v) for h, v in pred.items()}


def evaluate_tasks(model, datasets: dict, collator, batch_size: int = 32, bf16: bool = False) -> dict[str, float]:
    """Metrics (flat keys, see `metrics`) of `model` on each task's tokenised validation set."""
    config = model.config
    results: dict[str, float] = {}
    for task, dataset in datasets.items():
        if dataset is None or len(dataset) == 0 or task not in config.tasks:
            continue
        rows = run_task(model, dataset, collator, task, batch_size=batch_size, bf16=bf16)
        if task == "ner":
            results.update(M.ner_metrics(*fold_ner(rows, config.ner_labels), config.ner_entity_types))
        elif task == "cls":
            priorities = config.case_heads.get("priority", [])
            critical_id = priorities.index(config.critical_priority) if config.critical_priority in priorities else None
            gold, pred = fold_cls(rows, critical_id, config.critical_threshold, config)
            results.update(M.case_metrics(gold, pred, critical_id))
        else:
            results.update(M.quality_metrics(*fold_qa(rows, config.qa_thresholds)))
    results["composite"] = M.composite(results)
    return results
