"""Dynamic padding of one-task batches of tokenised windows (the output of `tokenization.py`).

A batch holds windows of one task only (the multi-task sampler guarantees it); the collator pads
`input_ids` and `attention_mask` to the longest window of the batch (optionally to a multiple of
`pad_to_multiple_of`), on the tokenizer's `padding_side`, NER `labels` with -100, and the quality windows'
`turn_ids` (speaker-aware quality pooling, `qa_pooling: "turns"`) with -1 (no turn).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch

from ..modeling_attention_fusion.labels_attention_fusion import TASK_INFO
from .validation import MASKED

logger = logging.getLogger(__name__)

# Distillation soft-target columns (written by `train/distill.py`), named once in the task registry's payload side.
KD_NER = TASK_INFO["ner"].kd
KD_CLS_PREFIX = TASK_INFO["cls"].kd
KD_QA_PREFIX = TASK_INFO["qa"].kd


class MultiTaskCollator:
    """Collate a list of features of ONE task into tensors.

    Returns `{"task": str, "input_ids": LongTensor(batch, seq), "attention_mask": LongTensor(batch, seq),
    "example_id": LongTensor(batch), "labels": ...}` where `labels` is a `LongTensor(batch, seq)` for `ner`, a
    dict head -> `LongTensor(batch)` for `cls`, and a dict head -> `FloatTensor(batch, n_sub)` for `qa`. Features
    without labels (prediction) give no `labels` key. Quality features with `turn_ids` also give `turn_ids`, a
    `LongTensor(batch, seq)` padded with -1. Features with distillation soft targets (`kd_*` columns)
    also give `teacher_logits`, shaped like the task's logits.

    Args:
        tokenizer: gives `pad_token_id` and `padding_side`.
        config: an `AttentionFusionConfig` or `LabelMaps` (orders the heads and checks QA list lengths); `None`
            takes the heads from the features' `cls_*` / `qa_*` keys.
        pad_to_multiple_of: pad the sequence length up to a multiple of this (e.g. 8 for tensor cores).

    Example:
        >>> collator = MultiTaskCollator(tokenizer, config)  # doctest: +SKIP
        >>> batch = collator([windows[0], windows[1]])  # doctest: +SKIP
        >>> batch["input_ids"].shape  # doctest: +SKIP
        torch.Size([2, 37])
    """

    def __init__(self, tokenizer: Any, config: Any | None = None, pad_to_multiple_of: int | None = None) -> None:
        pad_id = getattr(tokenizer, "pad_token_id", None)
        if pad_id is None:
            raise ValueError(
                f"{type(tokenizer).__name__} has no pad token; set one (e.g. tokenizer.pad_token = tokenizer.eos_token)"
            )
        if pad_to_multiple_of is not None and int(pad_to_multiple_of) < 1:
            raise ValueError(f"pad_to_multiple_of: {pad_to_multiple_of!r} must be a positive integer")
        self.pad_token_id = int(pad_id)
        self.padding_side = getattr(tokenizer, "padding_side", "right")
        self.pad_to_multiple_of = int(pad_to_multiple_of) if pad_to_multiple_of else None
        # Per sentence-level task, its heads in the config's order and their sizes (`None`: from the features).
        self.head_sizes = {
            task: {head: len(names) for head, names in getattr(config, info.heads_field).items()}
            for task, info in TASK_INFO.items() if not info.token_level
        } if config is not None else None  # fmt: skip
        self.special_margins = _special_margins(tokenizer)

    def _pad(self, rows: Sequence[Sequence[int]], value: int, length: int) -> torch.Tensor:
        padded = []
        for row in rows:
            row = list(row)
            padding = [value] * (length - len(row))
            padded.append(padding + row if self.padding_side == "left" else row + padding)
        return torch.tensor(padded, dtype=torch.long)

    def _heads(self, feature: dict[str, Any], prefix: str, configured: Sequence[str] | None) -> list[str]:
        present = [key[len(prefix) :] for key in feature if key.startswith(prefix)]
        if configured is None:
            return present
        return [head for head in configured if head in present]

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        if not features:
            raise ValueError("MultiTaskCollator: got an empty batch")
        tasks = sorted({str(feature.get("task")) for feature in features})
        if len(tasks) > 1:
            raise ValueError(
                f"MultiTaskCollator: the batch mixes tasks {tasks}; every batch must hold one task "
                "(use the multi-task sampler, or one dataloader per task)"
            )
        task = tasks[0]
        if task not in TASK_INFO:
            expected = ", ".join(repr(name) for name in TASK_INFO)
            raise ValueError(f"MultiTaskCollator: unknown task {task!r} in the features; expected one of {expected}")
        ids = [list(feature["input_ids"]) for feature in features]
        length = max(len(row) for row in ids)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        masks = [list(feature.get("attention_mask", [1] * len(row))) for feature, row in zip(features, ids)]
        batch: dict[str, Any] = {
            "task": task,
            "input_ids": self._pad(ids, self.pad_token_id, length),
            "attention_mask": self._pad(masks, 0, length),
        }
        if all("example_id" in feature for feature in features):
            batch["example_id"] = torch.tensor([int(feature["example_id"]) for feature in features], dtype=torch.long)
        first, info = features[0], TASK_INFO[task]
        if info.token_level:
            if "labels" in first:
                batch["labels"] = self._pad([list(feature["labels"]) for feature in features], MASKED, length)
        else:
            labels = self._head_labels(info, features)
            if labels:
                batch["labels"] = labels
            if "turn_ids" in first:  # the quality windows' counsellor turns (read by heads pooling over turns)
                batch["turn_ids"] = self._pad([list(feature["turn_ids"]) for feature in features], -1, length)
        teacher = self._teacher_logits(task, features, length)
        if teacher is not None:
            batch["teacher_logits"] = teacher
        return batch

    def _head_labels(self, info: Any, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """A sentence-level task's labels per head: one class id a window (`LongTensor(batch)`), or for a
        multi-label task its 0/1 values (`FloatTensor(batch, n_sub)`, the length checked against the config)."""
        sizes = self.head_sizes[info.id] if self.head_sizes is not None else None
        prefix = info.label_prefix
        labels = {}
        for head in self._heads(features[0], prefix, list(sizes) if sizes is not None else None):
            if not info.multi_label:
                labels[head] = torch.tensor([int(feature[prefix + head]) for feature in features], dtype=torch.long)
                continue
            rows = [[float(value) for value in feature[prefix + head]] for feature in features]
            expected = sizes[head] if sizes is not None else len(rows[0])
            if any(len(row) != expected for row in rows):
                raise ValueError(
                    f"MultiTaskCollator: QA head {head!r} expects {expected} values a window, found lengths "
                    f"{sorted({len(row) for row in rows})}"
                )
            labels[head] = torch.tensor(rows, dtype=torch.float)
        return labels

    def _teacher_logits(self, task: str, features: list[dict[str, Any]], length: int) -> Any:
        """The distillation soft targets (`kd_*` columns, `train/distill.py`) as `teacher_logits`: for NER a
        `FloatTensor(batch, seq, tags)` padded with zeros like `input_ids`; for case and quality a dict head ->
        `FloatTensor(batch, n)`. `None` when the features carry none."""
        first, info = features[0], TASK_INFO[task]
        if info.token_level:
            if info.kd not in first:
                return None
            rows = []
            for feature in features:
                logits = torch.tensor(feature[info.kd], dtype=torch.float)
                padding = torch.zeros(length - logits.shape[0], logits.shape[1])
                rows.append(torch.cat([padding, logits] if self.padding_side == "left" else [logits, padding]))
            return torch.stack(rows)
        prefix = info.kd
        heads = [key[len(prefix) :] for key in first if key.startswith(prefix)]
        if not heads:
            return None
        return {
            head: torch.tensor([feature[prefix + head] for feature in features], dtype=torch.float) for head in heads
        }


def _special_margins(tokenizer: Any) -> tuple[int, int]:
    """How many special tokens the tokenizer adds before and after one sequence (`(1, 1)` for BERT's
    `[CLS] ... [SEP]`): evaluation counts a window's content tokens as `predict` does."""
    try:
        mask = tokenizer("a", return_special_tokens_mask=True)["special_tokens_mask"]
    except (TypeError, AttributeError, KeyError):  # a stand-in without the tokenizer API: no specials assumed
        return 0, 0
    content = [position for position, special in enumerate(mask) if not special]
    if not content:
        return 0, 0
    return content[0], len(mask) - 1 - content[-1]


__all__ = ["MultiTaskCollator"]
