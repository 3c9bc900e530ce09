"""Seeded, grouped, stratified train/validation splits."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from datasets import Dataset

from helpline_fusion.data.splits import text_groups, train_validation_split


def cases_dataset(n_per_class: dict[str, int], duplicates: int = 0) -> Dataset:
    rows = []
    for sub, count in n_per_class.items():
        for i in range(count):
            rows.append({"text": f"case {sub} number {i}", "sub_category": sub, "priority": str(1 + i % 3)})
    for i in range(duplicates):  # copies of earlier transcripts, whitespace changed
        rows.append({**rows[i * 3], "text": "  " + rows[i * 3]["text"].replace(" ", "\n")})
    return Dataset.from_list(rows)


def normalised(texts):
    return {" ".join(text.split()) for text in texts}


def test_text_groups():
    assert text_groups(["a b", "c", " a\tb ", "c", "d"]) == [0, 1, 0, 1, 4]


def test_split_is_seeded_and_complete():
    dataset = cases_dataset({"Custody": 20, "Adoption": 20, "Obesity": 20})
    first = train_validation_split(dataset, validation_size=0.2, seed=3)
    again = train_validation_split(dataset, validation_size=0.2, seed=3)
    other = train_validation_split(dataset, validation_size=0.2, seed=4)
    assert list(first["validation"]["text"]) == list(again["validation"]["text"])
    assert list(first["validation"]["text"]) != list(other["validation"]["text"])
    assert len(first["validation"]) == 12 and len(first["train"]) == 48
    assert sorted([*first["train"]["text"], *first["validation"]["text"]]) == sorted(dataset["text"])


def test_duplicates_never_straddle_the_split():
    dataset = cases_dataset({"Custody": 30, "Adoption": 30}, duplicates=15)
    for seed in range(5):
        splits = train_validation_split(dataset, validation_size=0.3, seed=seed)
        assert not normalised(splits["train"]["text"]) & normalised(splits["validation"]["text"])
        assert len(splits["train"]) + len(splits["validation"]) == len(dataset)


def test_stratified_by_sub_category():
    dataset = cases_dataset({"Custody": 40, "Adoption": 20, "Obesity": 10})
    splits = train_validation_split(dataset, validation_size=0.1, seed=0, stratify_by="sub_category")
    assert Counter(splits["validation"]["sub_category"]) == {"Custody": 4, "Adoption": 2, "Obesity": 1}


def test_auto_stratification_falls_back_for_small_classes():
    # Six one-record sub-categories cannot be strata of their own: they are split by priority, then pooled.
    dataset = cases_dataset({"Custody": 10, "Adoption": 10, **{f"Rare{i}": 1 for i in range(6)}})
    splits = train_validation_split(dataset, validation_size=0.25, seed=1)
    validation = Counter(splits["validation"]["sub_category"])
    assert validation["Custody"] >= 2 and validation["Adoption"] >= 2
    assert sum(count for sub, count in validation.items() if sub.startswith("Rare")) >= 1
    assert len(splits["validation"]) == round(26 * 0.25)
    assert Counter(splits["train"]["sub_category"])["Custody"] >= 7  # never the whole class in validation


def test_no_stratification_and_errors():
    dataset = Dataset.from_list([{"text": f"t{i}"} for i in range(10)])
    splits = train_validation_split(dataset, validation_size=0.3, seed=0)  # "auto" finds no label column
    assert len(splits["validation"]) == 3
    with pytest.raises(ValueError, match=re.escape("validation_size: 1.5 is not in (0, 1)")):
        train_validation_split(dataset, validation_size=1.5)
    with pytest.raises(ValueError, match=re.escape("stratify_by: no column(s) ['priority'] in the dataset")):
        train_validation_split(dataset, stratify_by="priority")
    tiny = Dataset.from_list([{"text": "a"}, {"text": "b"}])
    assert len(train_validation_split(tiny, validation_size=0.1)["validation"]) == 1  # at least one
