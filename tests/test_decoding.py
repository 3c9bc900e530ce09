"""The vectorised window merge and BIO decoding give exactly what the straightforward per-token rules give.

The references below are the per-token loops the payload used before (one Python step and one torch scalar per
token); the payload's numpy versions must match them on random windows, tags and offsets, including tokens that
cover no character, tokens of no word, whitespace inside tokens, IO-scheme labels and ties between windows."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from helpline_fusion.data.tokenization import bio_to_char_spans
from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import (
    MergedTokens,
    Window,
    WindowPrediction,
    bio_entities,
    decode_entities,
    merge_window_tokens,
    pick_most_central,
)

TAGS = ["O", "B-NAME", "I-NAME", "B-AGE", "I-AGE", "LOCATION"]  # the last one: a plain (IO) label


# --------------------------------------------------------------------------- the references (per token)
def reference_merge(windows, predictions):
    def align(known, search_from, offsets):
        for start in range(max(search_from, len(known) - len(offsets)), len(known)):
            if known[start] == offsets[0] and known[start:] == offsets[: len(known) - start]:
                return start
        return len(known)

    offsets, word_ids, candidates, start = [], [], [], 0
    for window, prediction in zip(windows, predictions):
        start = align(offsets, start, window.offsets)
        n = len(window.offsets)
        for position in range(n):
            if start + position == len(offsets):
                offsets.append(window.offsets[position])
                word_ids.append(window.word_ids[position])
            candidates.append((start + position, position, n, prediction.ner[position]))
    chosen = pick_most_central(candidates)
    return [(offset, word, chosen[index]) for index, (offset, word) in enumerate(zip(offsets, word_ids))]


def reference_decode(text, tokens, tags):
    def split(tag):
        if tag == "O":
            return "O", None
        if tag[:2] in ("B-", "I-"):
            return tag[0], tag[2:]
        return "I", tag

    words, previous_word = [], None
    for (start, end), word, probs in tokens:
        if end <= start:
            continue
        if word is not None and word == previous_word and words:
            words[-1] = (words[-1][0], end, words[-1][2], words[-1][3])
            continue
        previous_word = word
        best = int(probs.argmax())
        words.append((start, end, tags[best], float(probs[best])))
    entities, current = [], None
    for start, end, tag, score in words:
        prefix, label = split(tag)
        if prefix == "O":
            current = None
            continue
        if prefix == "B" or current is None or current["label"] != label:
            current = {"label": label, "start": start, "end": end, "scores": [score]}
            entities.append(current)
        else:
            current["end"] = end
            current["scores"].append(score)
    result = []
    for entity in entities:
        start, end = entity["start"], entity["end"]
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        scores = entity["scores"]
        result.append({"label": entity["label"], "text": text[start:end], "start": start, "end": end,
                       "score": sum(scores) / len(scores)})  # fmt: skip
    return result


def reference_bio_to_char_spans(labels, offsets, id2label):
    spans, current = [], None
    for label, (start, end) in zip(labels, offsets):
        if label == -100:
            if current is not None and end > start:
                current[2] = max(current[2], end)
            continue
        tag = id2label[int(label)]
        if tag.startswith("B-") or (tag.startswith("I-") and (current is None or current[0] != tag[2:])):
            if current is not None:
                spans.append(tuple(current))
            current = [tag[2:], start, end]
        elif tag.startswith("I-"):
            current[2] = end
        else:
            if current is not None:
                spans.append(tuple(current))
            current = None
    if current is not None:
        spans.append(tuple(current))
    return spans


# --------------------------------------------------------------------------- random transcripts
def random_transcript(rng: random.Random):
    """A text and its tokens `(offsets, word id)`: words of 1-3 sub-words, some tokens covering no character or
    no word, and some tokens that include the spaces before them."""
    text, tokens, word = "", [], 0
    for _ in range(rng.randint(0, 60)):
        text += " " * rng.randint(1, 2)
        if rng.random() < 0.05:
            tokens.append(((len(text), len(text)), None))  # covers no character
            continue
        begin = len(text) - (1 if rng.random() < 0.1 else 0)  # sometimes a leading space inside the token
        for piece in range(rng.randint(1, 3)):
            text += "".join(rng.choice("abcdé") for _ in range(rng.randint(1, 3)))
            tokens.append(((begin if piece == 0 else tokens[-1][0][1], len(text)), word))
        word += 1
        if rng.random() < 0.05:
            text += "."
            tokens.append(((len(text) - 1, len(text)), None))  # a token of no word
    return text + " ", tokens


def random_windows(rng: random.Random, tokens, room: int, stride: int, sharp: bool):
    """Overlapping windows over `tokens` as the tokenizer cuts them, with random tag probabilities (`sharp`: often
    exact ties between tags, as bf16 rounding gives)."""
    windows, predictions, start = [], [], 0
    while True:
        part = tokens[start : start + room]
        n = len(part)
        probs = torch.rand(n, len(TAGS))
        if sharp:
            probs = (probs * 4).round() / 4
        probs = probs.softmax(-1)
        windows.append(Window(0, [0] * (n + 2), list(range(1, n + 1)), [o for o, _ in part], [w for _, w in part]))
        predictions.append(WindowPrediction(ner=probs))
        if start + room >= len(tokens):
            return windows, predictions
        start += room - stride


@pytest.mark.parametrize("seed", range(40))
def test_merge_and_decode_equal_the_per_token_reference_on_random_windows(seed):
    rng = random.Random(seed)
    torch.manual_seed(seed)
    text, tokens = random_transcript(rng)
    room = rng.randint(3, 20)
    windows, predictions = random_windows(rng, tokens, room, rng.randint(0, room - 1), sharp=seed % 2 == 1)
    expected_tokens = reference_merge(windows, predictions)
    merged = merge_window_tokens(windows, predictions)
    assert len(merged) == len(expected_tokens) == len(tokens)
    assert [tuple(pair) for pair in zip(merged.starts.tolist(), merged.ends.tolist())] == [o for o, _, _ in expected_tokens]
    assert merged.tags.tolist() == [int(p.argmax()) for _, _, p in expected_tokens]
    expected = reference_decode(text, expected_tokens, TAGS)
    assert decode_entities(text, merged, TAGS) == expected
    assert decode_entities(text, expected_tokens, TAGS) == expected  # the list form is still accepted
    for entity in expected:
        assert entity["text"] == text[entity["start"] : entity["end"]]


def test_the_random_cases_do_exercise_entities_overlaps_and_trimming():
    """Guards the test above: its random inputs are not all trivial."""
    entities = overlapping = trimmed = 0
    for seed in range(40):
        rng = random.Random(seed)
        torch.manual_seed(seed)
        text, tokens = random_transcript(rng)
        room = rng.randint(3, 20)
        windows, predictions = random_windows(rng, tokens, room, rng.randint(0, room - 1), sharp=seed % 2 == 1)
        overlapping += len(windows) > 1
        found = reference_decode(text, reference_merge(windows, predictions), TAGS)
        entities += len(found)
        trimmed += any(o[0] < e["start"] for e in found for o, _ in tokens if o[1] > e["start"] >= o[0])
    assert entities > 100 and overlapping > 20 and trimmed > 0


@pytest.mark.parametrize("seed", range(40))
def test_bio_to_char_spans_equals_the_per_token_reference(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 40))
    labels = rng.integers(-1, len(TAGS) - 1, size=n)  # TAGS without the IO label, as training labels are BIO
    labels[labels == -1] = -100
    lengths = rng.integers(0, 4, size=n)
    starts = np.cumsum(np.r_[0, lengths[:-1] + 1]) if n else np.zeros(0, dtype=int)
    offsets = [(int(s), int(s + k)) for s, k in zip(starts, lengths)]
    tags = TAGS[:-1]
    expected = reference_bio_to_char_spans(labels.tolist(), offsets, tags)
    assert bio_to_char_spans(labels.tolist(), offsets, tags) == expected
    assert bio_to_char_spans(labels.tolist(), offsets, dict(enumerate(tags))) == expected


def test_bio_entities_follows_the_rule_on_a_worked_example():
    tags = ["O", "B-NAME", "I-NAME", "I-AGE", "LOCATION"]
    word_tags = np.array([2, 2, 1, 1, 3, 0, 2, 4, 4, 0, 0, 3])
    assert bio_entities(word_tags, tags) == [
        ("NAME", 0, 1), ("NAME", 2, 2), ("NAME", 3, 3), ("AGE", 4, 4), ("NAME", 6, 6), ("LOCATION", 7, 8),
        ("AGE", 11, 11),
    ]  # fmt: skip
    assert bio_entities(np.array([], dtype=int), tags) == []


def test_an_empty_transcript_merges_to_no_tokens():
    merged = merge_window_tokens([Window(0, [0, 0], [], [], [])], [WindowPrediction(ner=torch.zeros(0, len(TAGS)))])
    assert isinstance(merged, MergedTokens) and len(merged) == 0
    assert decode_entities("", merged, TAGS) == []
