"""Span -> BIO alignment on hand-built examples, windows that never lose an entity, case/QA windows."""

from __future__ import annotations

import random
import re
from collections import defaultdict

import pytest
from datasets import Dataset
from transformers import BertTokenizerFast

from helpline_fusion.data.labels import LabelMaps
from helpline_fusion.data.tokenization import (
    bio_to_char_spans,
    tokenize_cases,
    tokenize_ner,
    tokenize_qa,
    tokenize_task,
    window_settings,
)

WORDS = ["amina", "called", "from", "nai", "##robi", "and", "otieno", "is", "12", "years", "old", "mother", "beat"]
WORDS += ["##s", "her", "market", "kisumu", "the", "child", "at", "school", ".", ","]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
MAPS = LabelMaps()
TAGS = MAPS.ner_labels
T = MAPS.ner_label2id
X = -100


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("tokenizer") / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    return BertTokenizerFast(vocab=str(path), do_lower_case=True)


def ner_dataset(*records):
    return Dataset.from_list(
        [
            {"text": text, "entities": [{"start": s, "end": e, "label": label} for s, e, label in entities]}
            for text, entities in records
        ]
    )


def tokens(tokenizer, row):
    return tokenizer.convert_ids_to_tokens(row["input_ids"])


def test_bio_on_first_subword_only(tokenizer):
    text = "Amina called from Nairobi. Mother beats her"
    dataset = ner_dataset(
        (text, [(0, 5, "NAME"), (18, 25, "LOCATION"), (34, 43, "INCIDENT_TYPE")]),
    )
    row = tokenize_ner(dataset, tokenizer, MAPS)[0]
    assert tokens(tokenizer, row) == [
        "[CLS]", "amina", "called", "from", "nai", "##robi", ".", "mother", "beat", "##s", "her", "[SEP]"
    ]  # fmt: skip
    assert row["labels"] == [
        X, T["B-NAME"], T["O"], T["O"], T["B-LOCATION"], X, T["O"], T["O"], T["B-INCIDENT_TYPE"], X,
        T["I-INCIDENT_TYPE"], X,
    ]  # fmt: skip
    assert row["task"] == "ner" and row["example_id"] == 0
    assert set(row) == {"input_ids", "attention_mask", "example_id", "task", "labels", "word_ids"}
    assert row["word_ids"] == [-1, 0, 1, 2, 3, 3, 4, 5, 6, 6, 7, -1]


def test_span_inside_a_word_tags_the_word_and_two_spans_in_one_word(tokenizer, caplog):
    # "robi" alone (a span starting mid-word) tags the whole word; of two spans inside one word the first wins.
    dataset = ner_dataset(("from Nairobi", [(9, 12, "LOCATION")]), ("Nairobi", [(0, 3, "NAME"), (3, 7, "LOCATION")]))
    rows = tokenize_ner(dataset, tokenizer, MAPS)
    assert rows[0]["labels"] == [X, T["O"], T["B-LOCATION"], X, X]
    assert rows[1]["labels"] == [X, T["B-NAME"], X, X]
    assert "NER: 1 entities share all their words with an earlier entity" in caplog.text


def test_entity_crossing_a_window_boundary(tokenizer):
    # 11 word pieces: amina called from nai ##robi and otieno is 12 years old
    text = "Amina called from Nairobi and Otieno is 12 years old"
    entities = [
        (6, 25, "INCIDENT_TYPE"),
        (30, 36, "NAME"),
        (40, 52, "AGE"),
    ]  # "called from Nairobi", "Otieno", "12 years old"
    rows = tokenize_ner(ner_dataset((text, entities)), tokenizer, MAPS, max_length=8, stride=3, return_offsets=True)
    assert len(rows) == 3 and rows["example_id"] == [0, 0, 0]
    assert [tokens(tokenizer, row) for row in rows] == [
        ["[CLS]", "amina", "called", "from", "nai", "##robi", "and", "[SEP]"],
        ["[CLS]", "nai", "##robi", "and", "otieno", "is", "12", "[SEP]"],
        ["[CLS]", "otieno", "is", "12", "years", "old", "[SEP]"],
    ]
    assert rows[0]["labels"] == [
        X,
        T["O"],
        T["B-INCIDENT_TYPE"],
        T["I-INCIDENT_TYPE"],
        T["I-INCIDENT_TYPE"],
        X,
        T["O"],
        X,
    ]
    # the window starts inside the incident: its first visible word gets B; "12 years old" is cut: B on "12"
    assert rows[1]["labels"] == [X, T["B-INCIDENT_TYPE"], X, T["O"], T["B-NAME"], T["O"], T["B-AGE"], X]
    assert rows[2]["labels"] == [X, T["B-NAME"], T["O"], T["B-AGE"], T["I-AGE"], T["I-AGE"], X]
    spans = [bio_to_char_spans(row["labels"], row["offset_mapping"], TAGS) for row in rows]
    assert spans == [
        [("INCIDENT_TYPE", 6, 25)],
        [("INCIDENT_TYPE", 18, 25), ("NAME", 30, 36), ("AGE", 40, 42)],
        [("NAME", 30, 36), ("AGE", 40, 52)],
    ]


def test_window_starting_inside_a_word(tokenizer):
    # amina from nai | ##robi market ...: the second window starts on "##robi", whose word began earlier.
    text = "Amina from Nairobi market is 12"
    rows = tokenize_ner(ner_dataset((text, [(11, 25, "LOCATION")])), tokenizer, MAPS, max_length=6, stride=1)
    assert [tokens(tokenizer, row) for row in rows][:2] == [
        ["[CLS]", "amina", "from", "nai", "##robi", "[SEP]"],
        ["[CLS]", "##robi", "market", "is", "12", "[SEP]"],
    ]
    assert rows[0]["labels"] == [X, T["O"], T["O"], T["B-LOCATION"], X, X]
    assert rows[1]["labels"] == [X, X, T["B-LOCATION"], T["O"], T["O"], X]


def test_every_subword_labelled(tokenizer):
    text = "Amina called from Nairobi. Mother beats her"
    dataset = ner_dataset((text, [(0, 5, "NAME"), (18, 25, "LOCATION"), (34, 43, "INCIDENT_TYPE")]))
    row = tokenize_ner(dataset, tokenizer, MAPS, all_subwords=True)[0]
    # "nai ##robi": B- then I-; "beat ##s her": B- I- I-; specials stay -100; word ids unchanged.
    assert row["labels"] == [
        X, T["B-NAME"], T["O"], T["O"], T["B-LOCATION"], T["I-LOCATION"], T["O"], T["O"], T["B-INCIDENT_TYPE"],
        T["I-INCIDENT_TYPE"], T["I-INCIDENT_TYPE"], X,
    ]  # fmt: skip
    assert row["word_ids"] == [-1, 0, 1, 2, 3, 3, 4, 5, 6, 6, 7, -1]


def test_every_subword_labelled_is_the_model_config_default(tokenizer):
    from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig

    dataset = ner_dataset(("Amina from Nairobi", [(11, 18, "LOCATION")]))
    labelled = tokenize_ner(dataset, tokenizer, AttentionFusionConfig())[0]["labels"]
    first_only = tokenize_ner(dataset, tokenizer, AttentionFusionConfig(ner_label_all_subwords=False))[0]["labels"]
    assert labelled == [X, T["O"], T["O"], T["B-LOCATION"], T["I-LOCATION"], X]
    assert first_only == [X, T["O"], T["O"], T["B-LOCATION"], X, X]


def test_every_subword_labelled_window_starting_inside_a_word(tokenizer):
    # The word whose first sub-word lies in the previous window stays unlabelled here, every sub-word of it.
    text = "Amina from Nairobi market is 12"
    rows = tokenize_ner(
        ner_dataset((text, [(11, 25, "LOCATION")])), tokenizer, MAPS, max_length=6, stride=1, all_subwords=True
    )
    assert rows[0]["labels"] == [X, T["O"], T["O"], T["B-LOCATION"], T["I-LOCATION"], X]
    assert rows[1]["labels"] == [X, X, T["B-LOCATION"], T["O"], T["O"], X]


def _random_ner(seed: int, n: int) -> Dataset:
    """Texts of random words with word-aligned entities of 1-3 words (at most 6 word pieces)."""
    rng = random.Random(seed)
    words = ["amina", "called", "from", "nairobi", "and", "otieno", "is", "12", "years", "mother", "beats", "kisumu"]
    labels = MAPS.ner_entity_types
    records = []
    for _ in range(n):
        pieces, entities, position, index = [], [], 0, 0
        count = rng.randint(5, 60)
        while index < count:
            length = rng.randint(1, 3)
            chunk = [rng.choice(words) for _ in range(length)]
            start = position
            pieces += chunk
            position += len(" ".join(chunk)) + 1
            if rng.random() < 0.4:
                entities.append((start, position - 1, rng.choice(labels)))
            index += length
        records.append((" ".join(pieces), entities))
    return ner_dataset(*records)


def _whole_entities(rows) -> dict[int, set]:
    found: dict[int, set] = defaultdict(set)
    for row in rows:
        found[row["example_id"]] |= set(bio_to_char_spans(row["labels"], row["offset_mapping"], TAGS))
    return found


def test_windowing_never_loses_an_entity(tokenizer):
    dataset = _random_ner(0, 60)
    gold = {i: {(e["label"], e["start"], e["end"]) for e in row} for i, row in enumerate(dataset["entities"])}
    full = tokenize_ner(dataset, tokenizer, MAPS, max_length=512, stride=0, return_offsets=True)
    assert len(full) == len(dataset)  # one window each: the reference
    before = _whole_entities(full)
    assert {i: spans for i, spans in before.items() if spans} == {
        i: spans for i, spans in gold.items() if spans
    }  # every gold span is one B-I run
    windowed = tokenize_ner(dataset, tokenizer, MAPS, max_length=16, stride=6, return_offsets=True)
    assert len(windowed) > 2 * len(dataset)  # the texts really were cut
    after = _whole_entities(windowed)
    count_before = sum(len(spans) for spans in before.values())
    count_after = sum(len(before[i] & after[i]) for i in before)
    assert count_before == sum(len(spans) for spans in gold.values()) > 100
    assert count_after == count_before
    # without overlap some entities are cut by every window that sees them: the count above can fail
    cut = _whole_entities(tokenize_ner(dataset, tokenizer, MAPS, max_length=16, stride=0, return_offsets=True))
    assert sum(len(before[i] & cut[i]) for i in before) < count_before


def test_no_padding_in_map_and_every_token_kept(tokenizer):
    dataset = _random_ner(1, 5)
    rows = tokenize_ner(dataset, tokenizer, MAPS, max_length=16, stride=4)
    lengths = {len(ids) for ids in rows["input_ids"]}
    assert len(lengths) > 1 and max(lengths) <= 16
    assert all(
        len(ids) == len(mask) == len(labels)
        for ids, mask, labels in zip(rows["input_ids"], rows["attention_mask"], rows["labels"])
    )
    assert all(set(mask) == {1} for mask in rows["attention_mask"])
    full = tokenize_ner(dataset, tokenizer, MAPS, max_length=512, stride=0)
    for example, reference in enumerate(full["input_ids"]):
        windows = [ids[1:-1] for ids, e in zip(rows["input_ids"], rows["example_id"]) if e == example]
        rebuilt = windows[0] + [t for window in windows[1:] for t in window[4:]]
        assert rebuilt == reference[1:-1]


def test_unknown_entity_label_at_tokenisation(tokenizer):
    with pytest.raises(
        ValueError, match=re.escape("NER example 0: entity label 'CITY' is not one of the config's entity types")
    ):
        tokenize_ner(ner_dataset(("Kisumu", [(0, 6, "CITY")])), tokenizer, MAPS)


def test_window_settings(tokenizer):
    class Config:
        max_length, stride = 64, 16

    from helpline_fusion.modeling_attention_fusion.configuration_attention_fusion import AttentionFusionConfig

    config = AttentionFusionConfig(window_length=96, window_stride=24)
    assert window_settings(config, tokenizer, None, None) == (96, 24)
    assert window_settings(Config(), tokenizer, None, None) == (64, 16)
    assert window_settings(None, tokenizer, None, None) == (512, 128)
    assert window_settings(Config(), tokenizer, 32, 0) == (32, 0)
    with pytest.raises(
        ValueError,
        match=re.escape("window_stride: 6 must be in [0, 6) (window_length 8 minus 2 special tokens)"),
    ):
        window_settings(None, tokenizer, 8, 6)

    class Slow:
        is_fast = False

    with pytest.raises(ValueError, match="Slow is not a fast tokenizer"):
        window_settings(None, Slow(), None, None)


def test_case_windows_carry_the_labels(tokenizer):
    long_text = " ".join(["the child is at school and mother beats her"] * 6)
    dataset = Dataset.from_list(
        [
            {
                "text": long_text,
                "main_category": "VANE",
                "sub_category": "Physical Abuse",
                "intervention": "Referral",
                "priority": "1",
            },
            {
                "text": "Amina called",
                "main_category": None,
                "sub_category": None,
                "intervention": "Counselling",
                "priority": "3",
            },
        ]
    )
    rows = tokenize_cases(dataset, tokenizer, MAPS, max_length=16, stride=4)
    first = [row for row in rows if row["example_id"] == 0]
    assert len(first) > 3 and rows[-1]["example_id"] == 1 and len(rows) == len(first) + 1
    sub = MAPS.cls_label2id("sub_category")["Physical Abuse"]
    assert {(row["cls_sub_category"], row["cls_priority"], row["task"]) for row in first} == {(sub, 0, "cls")}
    assert (rows[-1]["cls_main_category"], rows[-1]["cls_sub_category"], rows[-1]["cls_priority"]) == (X, X, 2)
    assert rows[-1]["cls_intervention"] == MAPS.case_heads["intervention"].index("Counselling")
    assert sorted(rows.column_names) == sorted(
        [
            "input_ids",
            "attention_mask",
            "example_id",
            "task",
            "cls_main_category",
            "cls_sub_category",
            "cls_intervention",
            "cls_priority",
        ]
    )
    bad = Dataset.from_list([{"text": "x", "priority": "4"}])
    with pytest.raises(
        ValueError, match=re.escape("case example 0: priority '4' is not one of the config's priority labels")
    ):
        tokenize_cases(bad, tokenizer, MAPS)


def test_qa_windows_are_float_and_masked(tokenizer):
    long_text = " ".join(["the mother called from kisumu"] * 8)
    row = {"text": long_text, "qa_opening": [1], "qa_listening": [1, 0, 1, -100, 0], "qa_hold": [-100, -100]}
    row.update({"qa_proactiveness": [0, 0, 1], "qa_resolution": [1, 1, 1, 1, 0], "qa_closing": [0]})
    dataset = Dataset.from_list([row, {**row, "text": "amina called", "qa_closing": [1]}])
    rows = tokenize_task("qa", dataset.remove_columns(["qa_resolution"]), tokenizer, MAPS, max_length=12, stride=3)
    assert rows["example_id"][-1] == 1 and rows["example_id"].count(0) > 2
    for window in rows:
        assert window["task"] == "qa"
        assert window["qa_listening"] == [1.0, 0.0, 1.0, -100.0, 0.0]
        assert window["qa_hold"] == [-100.0, -100.0]
        assert window["qa_resolution"] == [-100.0] * 5  # a head missing from the data is masked
    assert rows[-1]["qa_closing"] == [1.0]
    wrong = Dataset.from_list([{"text": "x", "qa_hold": [1]}])
    with pytest.raises(
        ValueError, match=re.escape("QA example 0: hold has 1 values, the config's head has 2 sub-metrics")
    ):
        tokenize_qa(wrong, tokenizer, MAPS)
    with pytest.raises(ValueError, match=re.escape("unknown task 'pos'")):
        tokenize_task("pos", dataset, tokenizer, MAPS)
