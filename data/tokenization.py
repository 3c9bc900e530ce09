"""Tokenisation of the three tasks into overlapping windows, with batched `datasets.map` and a fast tokenizer.

No padding happens here: `collator.py` pads each batch dynamically.

Windows. A text longer than `max_length` tokens becomes several windows of at most `max_length` tokens
(special tokens included), consecutive windows sharing `stride` tokens (`return_overflowing_tokens`). Nothing
is filtered and nothing is truncated away: every token of every text lies in at least one window.

NER labels (BIO over words, via `offset_mapping` and `word_ids`):

- a word (as the tokenizer's pre-tokenizer splits words) belongs to an entity when its characters overlap the
  entity's `[start, end)` span; a word overlapping two entities goes to the one that starts first (spans
  that overlap each other are first resolved by `validation.resolve_overlaps`: longer wins); an entity
  whose every word goes to an earlier entity (two spans inside one word) gets no tag: counted and logged;
- the **first sub-word** of each word carries the tag (`B-X` for the entity's first word, `I-X` after, `O`
  outside entities); the special tokens carry -100, and so do the other sub-words unless every sub-word is
  labelled (`ner_label_all_subwords`, the default of the model config): then they carry `I-X` inside an
  entity and `O` outside (the word is still read from its first sub-word);
- a word whose first sub-word lies in an earlier window (the window starts inside it) carries -100 in this
  window;
- an entity crossing a window boundary: each window labels the part it sees, `B-X` on the first word it
  sees and `I-X` after. Because consecutive windows overlap by `stride` tokens, an entity no longer than
  `stride` tokens lies whole in some window, so no entity is lost (`tests/test_tokenization.py` counts them).

Case and QA records longer than a window are split the same way; every window carries the record's labels,
so no label is dropped, and `example_id` (the record's index in the input dataset) lets evaluation aggregate
the windows of one record.

Output columns. All tasks: `input_ids`, `attention_mask`, `example_id` (int), `task` (`"ner"`, `"cls"`, `"qa"`),
plus `offset_mapping` when `return_offsets=True`. NER: `labels` (list of int). Cases: one int column
`cls_<head>` per case head (label id, -100 when missing). QA: one list-of-float column `qa_<head>` per quality
head, values 0.0 / 1.0 / -100.0 (masked); with a config whose quality heads pool over counsellor turns
(`qa_pooling: "turns"`) also `turn_ids` (list of int, per token: its counsellor turn in the window, -1 elsewhere),
by the rule `predict` applies (`speakers_attention_fusion.window_turn_ids`).
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

import numpy as np
from datasets import Dataset

from ..modeling_attention_fusion.inference_attention_fusion import bio_entities, window_settings
from ..modeling_attention_fusion.speakers_attention_fusion import find_turns, quality_speakers, window_turn_ids
from .labels import CLS_PREFIX, QA_PREFIX, LabelMaps
from .validation import MASKED, resolve_overlaps

logger = logging.getLogger(__name__)

BASE_COLUMNS = ("input_ids", "attention_mask", "example_id", "task")


def _encode(tokenizer: Any, texts: list[str], max_length: int, stride: int) -> Any:
    return tokenizer(
        texts,
        truncation=True,
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )


def _base_row(out: dict[str, list], encoding: Any, window: int, example_id: int, task: str, offsets: bool) -> None:
    out["input_ids"].append(list(encoding["input_ids"][window]))
    out["attention_mask"].append(list(encoding["attention_mask"][window]))
    out["example_id"].append(int(example_id))
    out["task"].append(task)
    if offsets:
        out["offset_mapping"].append([list(pair) for pair in encoding["offset_mapping"][window]])


def _record_windows(
    tokenizer: Any,
    texts: list[str],
    indices: list[int],
    task: str,
    labels: dict[str, list],
    max_length: int,
    stride: int,
    offsets: bool,
    speakers: tuple[str, dict[str, str]] | None = None,
) -> dict[str, list]:
    """Windows of sentence-level records: every window carries its record's value of each label column (and with
    `speakers`, `(speaker_pattern, speaker_roles)`, its counsellor turns as `turn_ids`)."""
    encoding = _encode(tokenizer, texts, max_length, stride)
    out: dict[str, list] = {name: [] for name in (*BASE_COLUMNS, *labels)}
    if offsets:
        out["offset_mapping"] = []
    turns = None
    if speakers is not None:
        out["turn_ids"] = []
        turns = [find_turns(text, *speakers) for text in texts]
    for window, sample in enumerate(encoding["overflow_to_sample_mapping"]):
        _base_row(out, encoding, window, indices[sample], task, offsets)
        for column, values in labels.items():
            out[column].append(values[sample])
        if turns is not None:
            out["turn_ids"].append(window_turn_ids(encoding["offset_mapping"][window], turns[sample]))
    return out


def _map(dataset: Dataset, function: Any, desc: str, num_proc: int | None) -> Dataset:
    return dataset.map(
        function,
        batched=True,
        with_indices=True,
        remove_columns=dataset.column_names,
        desc=desc,
        num_proc=num_proc,
    )


# --------------------------------------------------------------------------- #
# NER                                                                         #
# --------------------------------------------------------------------------- #
def _word_bounds(encoding: Any, windows: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Character span of each word of one example, over all its windows (a word can straddle two)."""
    bounds: dict[int, list[int]] = {}
    for window in windows:
        for word, (start, end) in zip(encoding.word_ids(window), encoding["offset_mapping"][window]):
            if word is None:
                continue
            if word not in bounds:
                bounds[word] = [start, end]
            else:
                bounds[word][0] = min(bounds[word][0], start)
                bounds[word][1] = max(bounds[word][1], end)
    return {word: (span[0], span[1]) for word, span in bounds.items()}


def bio_window_labels(
    word_ids: Sequence[int | None],
    offsets: Sequence[Sequence[int]],
    bounds: dict[int, tuple[int, int]],
    entities: Sequence[dict[str, Any]],
    tag2id: dict[str, int],
    labelled: set[int] | None = None,
    all_subwords: bool = False,
) -> list[int]:
    """BIO label ids of one window (rules in the module docstring).

    Args:
        word_ids: the window's word index per token (`None` for special tokens).
        offsets: the window's `(start, end)` character offsets per token.
        bounds: each word's character span over the whole text (see `_word_bounds`).
        entities: non-overlapping entities sorted by start, `{"start", "end", "label"}`.
        tag2id: BIO tag -> id.
        labelled: if given, receives the index of every entity that got a tag in this window.
        all_subwords: label the later sub-words of a word too (`I-X` inside an entity, `O` outside) instead of
            -100; a word that began in an earlier window stays -100 throughout.
    """
    ends = [entity["end"] for entity in entities]
    labels: list[int] = []
    previous_word: int | None = None
    previous_entity: int | None = None
    for word, (start, _end) in zip(word_ids, offsets):
        if word is None:
            labels.append(MASKED)
            previous_word = None
            continue
        if word == previous_word:
            if all_subwords and labels[-1] != MASKED:
                tag = "O" if previous_entity is None else "I-" + entities[previous_entity]["label"]
                labels.append(tag2id[tag])
            else:
                labels.append(MASKED)
            continue
        previous_word = word
        word_start, word_end = bounds[word]
        if start != word_start:  # the word began in an earlier window
            labels.append(MASKED)
            previous_entity = None
            continue
        k = bisect_right(ends, word_start)  # first entity ending after the word starts
        if k < len(entities) and entities[k]["start"] < word_end:
            tag = ("I-" if previous_entity == k else "B-") + entities[k]["label"]
            previous_entity = k
            if labelled is not None:
                labelled.add(k)
        else:
            tag, previous_entity = "O", None
        labels.append(tag2id[tag])
    return labels


def tokenize_ner(
    dataset: Dataset,
    tokenizer: Any,
    config: Any | None = None,
    max_length: int | None = None,
    stride: int | None = None,
    return_offsets: bool = False,
    num_proc: int | None = None,
    all_subwords: bool | None = None,
) -> Dataset:
    """Tokenise NER records (`text`, `entities`) into windows with BIO labels on the first sub-word of each word
    (and on the later sub-words too with `all_subwords`).

    Args:
        dataset: the output of `load_ner` (or any dataset with `text` and `entities`).
        tokenizer: a fast tokenizer.
        config: an `AttentionFusionConfig` or `LabelMaps` (entity types; `window_length`, `window_stride`).
        max_length: window length in tokens, special tokens included (default: `config.window_length`).
        stride: tokens shared by consecutive windows (default: `config.window_stride`).
        return_offsets: also keep each window's `offset_mapping` (for mapping predictions back to characters).
        num_proc: processes for `datasets.map`.
        all_subwords: label every sub-word (`B-X` on an entity's first sub-word, `I-X` on the rest); default
            the config's `ner_label_all_subwords` (first sub-word only when the config has no such setting).

    Example:
        >>> windows = tokenize_ner(ner, tokenizer, config, max_length=256, stride=64)  # doctest: +SKIP
        >>> windows.column_names  # doctest: +SKIP
        ['input_ids', 'attention_mask', 'example_id', 'task', 'labels', 'word_ids']
    """
    max_length, stride = window_settings(config, tokenizer, max_length, stride)
    if all_subwords is None:
        all_subwords = bool(getattr(config, "ner_label_all_subwords", False))
    maps = LabelMaps.from_config(config)
    unlabelled = [0]  # entities that share every word with an earlier entity, so no word carries their tag
    function = _ner_windows_function(
        tokenizer, max_length, stride, maps.ner_label2id, set(maps.ner_entity_types), return_offsets, all_subwords,
        unlabelled,
    )  # fmt: skip
    windows = _map(dataset, function, "Tokenising NER windows", num_proc)
    logger.info(
        "NER: %d records -> %d windows (max_length %d, stride %d)", len(dataset), len(windows), max_length, stride
    )
    if unlabelled[0] and not num_proc:
        logger.warning(
            "NER: %d entities share all their words with an earlier entity (spans inside one word), so no word "
            "carries their tag",
            unlabelled[0],
        )
    return windows


def _ner_windows_function(
    tokenizer: Any,
    max_length: int,
    stride: int,
    tag2id: dict[str, int],
    entity_types: set[str],
    return_offsets: bool,
    all_subwords: bool,
    unlabelled: list[int],
) -> Any:
    """The batched `datasets.map` function of `tokenize_ner`; it adds to `unlabelled[0]` the entities no word tags."""

    def function(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        encoding = _encode(tokenizer, batch["text"], max_length, stride)
        sample_map = encoding["overflow_to_sample_mapping"]
        windows_of: dict[int, list[int]] = {}
        for window, sample in enumerate(sample_map):
            windows_of.setdefault(sample, []).append(window)
        out: dict[str, list] = {name: [] for name in (*BASE_COLUMNS, "labels", "word_ids")}
        if return_offsets:
            out["offset_mapping"] = []
        for sample, windows in windows_of.items():
            entities = _checked_entities(batch["entities"][sample], entity_types, indices[sample])
            bounds = _word_bounds(encoding, windows)
            labelled: set[int] = set()
            for window in windows:
                _base_row(out, encoding, window, indices[sample], "ner", return_offsets)
                # The record-level word of each token (-1 for special tokens): evaluation scores every word once
                # across overlapping windows.
                out["word_ids"].append([-1 if word is None else word for word in encoding.word_ids(window)])
                out["labels"].append(
                    bio_window_labels(
                        encoding.word_ids(window),
                        encoding["offset_mapping"][window],
                        bounds,
                        entities,
                        tag2id,
                        labelled,
                        all_subwords,
                    )
                )
            unlabelled[0] += len(entities) - len(labelled)
        return out

    return function


def _checked_entities(raw: list[dict[str, Any]] | None, entity_types: set[str], example: int) -> list[dict[str, Any]]:
    """A record's entities (copies), refused (ValueError) outside the config's types, overlaps resolved."""
    entities = [dict(entity) for entity in raw or []]
    for entity in entities:
        if entity["label"] not in entity_types:
            raise ValueError(
                f"NER example {example}: entity label {entity['label']!r} is not one of the "
                f"config's entity types {sorted(entity_types)}"
            )
    entities, _ = resolve_overlaps(entities)
    return entities


def bio_to_char_spans(
    labels: Sequence[int], offsets: Sequence[Sequence[int]], id2label: dict[int, str] | Sequence[str]
) -> list[tuple[str, int, int]]:
    """Entity spans `(label, start, end)` in characters read back from one window's BIO label ids.

    Sub-words labelled -100 extend the entity of their word; the words' tags are grouped by the BIO rule `predict`
    decodes with (`inference_attention_fusion.bio_entities`): an `I-X` without a preceding `X` starts a span.

    Example:
        >>> bio_to_char_spans([-100, 1, -100, 2, 0, -100], [(0, 0), (0, 3), (3, 5), (6, 9), (10, 12), (0, 0)],
        ...                   ["O", "B-NAME", "I-NAME"])
        [('NAME', 0, 9)]
    """
    tags = [id2label.get(i, "O") for i in range(max(id2label, default=-1) + 1)] if isinstance(id2label, dict) else id2label
    labels = np.asarray(labels, dtype=np.int64)
    bounds = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    labelled = np.flatnonzero(labels != MASKED)
    if labelled.size == 0:
        return []
    word_of = np.cumsum(labels != MASKED) - 1  # the labelled token each token follows (-1 before the first)
    widens = (bounds[:, 1] > bounds[:, 0]) & (word_of >= 0)
    ends = bounds[labelled, 1].copy()
    np.maximum.at(ends, word_of[widens], bounds[widens, 1])  # a masked sub-word widens its word
    return [
        (label, int(bounds[labelled[first], 0]), int(ends[last]))
        for label, first, last in bio_entities(labels[labelled], tags)
    ]


# --------------------------------------------------------------------------- #
# Cases and QA                                                                #
# --------------------------------------------------------------------------- #
def tokenize_cases(
    dataset: Dataset,
    tokenizer: Any,
    config: Any | None = None,
    max_length: int | None = None,
    stride: int | None = None,
    return_offsets: bool = False,
    num_proc: int | None = None,
) -> Dataset:
    """Tokenise case records into windows, each carrying its record's label ids in `cls_<head>` columns.

    Args:
        dataset: the output of `load_cases` (a `text` column and one string column per case head).
        tokenizer: a fast tokenizer.
        config: an `AttentionFusionConfig` or `LabelMaps` (the case heads' labels; `window_length`, `window_stride`).
        max_length, stride, return_offsets, num_proc: as in [`tokenize_ner`].

    Raises:
        ValueError: a label is not one of its head's labels (naming the record).
    """
    max_length, stride = window_settings(config, tokenizer, max_length, stride)
    maps = LabelMaps.from_config(config)
    heads = {head: maps.cls_label2id(head) for head in maps.case_heads}

    def function(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        ids: dict[str, list[int]] = {}
        for head, label2id in heads.items():
            values = batch.get(head, [None] * len(indices))
            ids[head] = []
            for row, value in enumerate(values):
                if value is not None and value not in label2id:
                    raise ValueError(
                        f"case example {indices[row]}: {head} {value!r} is not one of the config's {head} labels; "
                        "load the data with the same config, or build the config from the data"
                    )
                ids[head].append(MASKED if value is None else label2id[value])
        labels = {f"{CLS_PREFIX}{head}": values for head, values in ids.items()}
        return _record_windows(tokenizer, batch["text"], indices, "cls", labels, max_length, stride, return_offsets)

    windows = _map(dataset, function, "Tokenising case windows", num_proc)
    logger.info(
        "cases: %d records -> %d windows (max_length %d, stride %d)", len(dataset), len(windows), max_length, stride
    )
    return windows


def tokenize_qa(
    dataset: Dataset,
    tokenizer: Any,
    config: Any | None = None,
    max_length: int | None = None,
    stride: int | None = None,
    return_offsets: bool = False,
    num_proc: int | None = None,
) -> Dataset:
    """Tokenise QA records into windows, each carrying its record's `qa_<head>` lists as floats (-100.0 masked).

    A quality head of the config missing from the dataset is fully masked. With a config whose quality heads pool
    over counsellor turns (`qa_pooling: "turns"`) each window also carries `turn_ids`.

    Args:
        dataset: the output of `load_qa` (a `text` column and `qa_<head>` list columns).
        tokenizer: a fast tokenizer.
        config: an `AttentionFusionConfig` or `LabelMaps` (the quality heads; `window_length`, `window_stride`).
        max_length, stride, return_offsets, num_proc: as in [`tokenize_ner`].
    """
    max_length, stride = window_settings(config, tokenizer, max_length, stride)
    sizes = LabelMaps.from_config(config).qa_sizes
    speakers = quality_speakers(config)

    def function(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        values: dict[str, list[list[float]]] = {}
        for head, size in sizes.items():
            column = batch.get(f"{QA_PREFIX}{head}", [None] * len(indices))
            values[head] = []
            for row, value in enumerate(column):
                if value is None:
                    value = [MASKED] * size
                if len(value) != size:
                    raise ValueError(
                        f"QA example {indices[row]}: {head} has {len(value)} values, the config's head has {size} "
                        "sub-metrics; load the data with the same config"
                    )
                values[head].append([float(v) for v in value])
        labels = {f"{QA_PREFIX}{head}": rows for head, rows in values.items()}
        return _record_windows(
            tokenizer, batch["text"], indices, "qa", labels, max_length, stride, return_offsets, speakers
        )

    windows = _map(dataset, function, "Tokenising QA windows", num_proc)
    logger.info(
        "QA: %d records -> %d windows (max_length %d, stride %d)", len(dataset), len(windows), max_length, stride
    )
    return windows


TOKENIZERS = {"ner": tokenize_ner, "cls": tokenize_cases, "qa": tokenize_qa}


def tokenize_task(task: str, dataset: Dataset, tokenizer: Any, config: Any | None = None, **kwargs: Any) -> Dataset:
    """Tokenise one task's dataset (`task` is `"ner"`, `"cls"` or `"qa"`)."""
    if task not in TOKENIZERS:
        raise ValueError(f"unknown task {task!r}; valid: {list(TOKENIZERS)}")
    return TOKENIZERS[task](dataset, tokenizer, config, **kwargs)


__all__ = [
    "bio_to_char_spans",
    "bio_window_labels",
    "tokenize_cases",
    "tokenize_ner",
    "tokenize_qa",
    "tokenize_task",
    "window_settings",
]
