"""Dynamic padding of one-task batches."""

from __future__ import annotations

import re

import pytest
import torch
from datasets import Dataset
from transformers import BertTokenizerFast

from helpline_fusion.data.collator import MultiTaskCollator
from helpline_fusion.data.labels import LabelMaps
from helpline_fusion.data.tokenization import tokenize_cases, tokenize_ner, tokenize_qa

MAPS = LabelMaps()
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "amina", "called", "from", "kisumu", "the", "child", "is", "12"]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("tokenizer") / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    return BertTokenizerFast(vocab=str(path), do_lower_case=True)


def ner_features(tokenizer):
    dataset = Dataset.from_list(
        [
            {"text": "Amina called", "entities": [{"start": 0, "end": 5, "label": "NAME"}]},
            {"text": "the child from Kisumu is 12", "entities": [{"start": 15, "end": 21, "label": "LOCATION"}]},
        ]
    )
    return list(tokenize_ner(dataset, tokenizer, MAPS))


def test_ner_batch_is_padded_dynamically(tokenizer):
    features = ner_features(tokenizer)
    batch = MultiTaskCollator(tokenizer, MAPS)(features)
    assert batch["task"] == "ner"
    assert batch["input_ids"].shape == (2, 8) and batch["input_ids"].dtype == torch.long
    assert batch["input_ids"][0].tolist() == [2, 5, 6, 3, 0, 0, 0, 0]
    assert batch["attention_mask"][0].tolist() == [1, 1, 1, 1, 0, 0, 0, 0]
    tag = MAPS.ner_label2id
    assert batch["labels"][0].tolist() == [-100, tag["B-NAME"], tag["O"], -100, -100, -100, -100, -100]
    assert batch["labels"][1].tolist()[4] == tag["B-LOCATION"]
    assert batch["example_id"].tolist() == [0, 1]


def test_pad_to_multiple_of_and_left_padding(tokenizer):
    features = ner_features(tokenizer)
    batch = MultiTaskCollator(tokenizer, MAPS, pad_to_multiple_of=5)(features)
    assert batch["input_ids"].shape == (2, 10) and batch["labels"].shape == (2, 10)
    tokenizer.padding_side = "left"
    try:
        batch = MultiTaskCollator(tokenizer, MAPS)(features)
    finally:
        tokenizer.padding_side = "right"
    assert batch["input_ids"][0].tolist() == [0, 0, 0, 0, 2, 5, 6, 3]
    assert batch["labels"][0].tolist()[:4] == [-100] * 4


def test_cls_batch(tokenizer):
    dataset = Dataset.from_list(
        [
            {
                "text": "Amina called",
                "main_category": "VANE",
                "sub_category": "Child Labor",
                "intervention": "Referral",
                "priority": "1",
            },
            {
                "text": "the child",
                "main_category": None,
                "sub_category": None,
                "intervention": "Counselling",
                "priority": "3",
            },
        ]
    )
    features = list(tokenize_cases(dataset, tokenizer, MAPS))
    batch = MultiTaskCollator(tokenizer, MAPS)(features)
    assert batch["task"] == "cls" and batch["input_ids"].shape == (2, 4)
    assert list(batch["labels"]) == ["main_category", "sub_category", "intervention", "priority"]
    assert batch["labels"]["priority"].tolist() == [0, 2] and batch["labels"]["priority"].dtype == torch.long
    assert batch["labels"]["sub_category"].tolist() == [MAPS.cls_label2id("sub_category")["Child Labor"], -100]


def test_qa_batch(tokenizer):
    row = {"text": "Amina called", "qa_opening": [1], "qa_listening": [1, 0, 1, -100, 0], "qa_proactiveness": [0, 0, 1]}
    row.update({"qa_resolution": [1, 1, 1, 1, 0], "qa_hold": [-100, -100], "qa_closing": [0]})
    features = list(tokenize_qa(Dataset.from_list([row, {**row, "text": "the child from kisumu"}]), tokenizer, MAPS))
    batch = MultiTaskCollator(tokenizer, MAPS)(features)
    assert batch["task"] == "qa"
    assert batch["labels"]["listening"].shape == (2, 5) and batch["labels"]["listening"].dtype == torch.float
    assert batch["labels"]["hold"].tolist() == [[-100.0, -100.0], [-100.0, -100.0]]
    assert list(batch["labels"]) == ["opening", "listening", "proactiveness", "resolution", "hold", "closing"]
    inferred = MultiTaskCollator(tokenizer)(features)  # no config: heads from the features
    assert set(inferred["labels"]) == set(batch["labels"])


def test_features_without_labels(tokenizer):
    features = [{"input_ids": [2, 5, 3], "attention_mask": [1, 1, 1], "task": "cls", "example_id": 4}]
    batch = MultiTaskCollator(tokenizer, MAPS)(features)
    assert "labels" not in batch and batch["example_id"].tolist() == [4]


def test_errors(tokenizer):
    collator = MultiTaskCollator(tokenizer, MAPS)
    ner = ner_features(tokenizer)
    cls = {"input_ids": [2, 3], "attention_mask": [1, 1], "task": "cls", "example_id": 0, "cls_priority": 1}
    with pytest.raises(ValueError, match=re.escape("MultiTaskCollator: the batch mixes tasks ['cls', 'ner']")):
        collator([ner[0], cls])
    with pytest.raises(ValueError, match="got an empty batch"):
        collator([])
    with pytest.raises(ValueError, match=re.escape("unknown task 'pos'")):
        collator([{**cls, "task": "pos"}])
    qa = {"input_ids": [2, 3], "attention_mask": [1, 1], "task": "qa", "example_id": 0, "qa_hold": [1.0]}
    with pytest.raises(ValueError, match=re.escape("QA head 'hold' expects 2 values a window, found lengths [1]")):
        collator([qa])
    with pytest.raises(ValueError, match="pad_to_multiple_of"):
        MultiTaskCollator(tokenizer, MAPS, pad_to_multiple_of=0)
