"""Span realignment (`data/realign.py`): a drifted span is moved only when the record proves where it belongs.

Every record here is constructed in the test; the last test counts (numbers only) what realignment does to the
public NER file, and skips when it is absent.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from helpline_fusion.data import validate_cli
from helpline_fusion.data.loaders import load_all, load_ner
from helpline_fusion.data.realign import MAX_SHIFT, on_word_boundaries, realign
from helpline_fusion.data.validation import RecordRejected, repair_ner_record

PUBLIC_NER = Path(__file__).resolve().parents[2] / "shared" / "data" / "ner_helpline.jsonl"


def at(text, word, label, shift=0, nth=0):
    """The span of the `nth` occurrence of `word` in `text`, moved by `shift` characters."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(word, start + 1)
    return {"start": start + shift, "end": start + len(word) + shift, "label": label}


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


# Rule same_text: the first spans are right, later mentions of the same names drift further and further.
SAME_TEXT = (
    "Counsellor: Good morning, Baraka speaking for the helpline desk. Caller: I am calling about my friend Zawadi. "
    "Counsellor: Thank you. Baraka will listen, tell me what happened to Zawadi. Caller: Hello Baraka, Zawadi was "
    "hurt at home."
)


def same_text_record():
    entities = [
        at(SAME_TEXT, "Baraka", "NAME"),
        at(SAME_TEXT, "Zawadi", "VICTIM"),
        at(SAME_TEXT, "Baraka", "NAME", shift=2, nth=1),  # starts two characters inside the name, runs past it
        at(SAME_TEXT, "Baraka", "NAME", shift=4, nth=2),
        at(SAME_TEXT, "Zawadi", "VICTIM", shift=-3, nth=1),
        at(SAME_TEXT, "Zawadi", "VICTIM", shift=7, nth=2),
    ]
    return {"id": "drift-1", "text": SAME_TEXT, "entities": entities}


# Rule shared_shift: from the second span on, every span is three characters late (no earlier span to compare to).
SHARED = (
    "Counsellor: Good morning, you are through to the line. Caller: My name is Tumaini. I am calling from "
    "Kakamega because my cousin faces bullying at school every single day."
)


def shared_shift_record():
    entities = [
        at(SHARED, "Tumaini", "NAME"),
        at(SHARED, "Kakamega", "LOCATION", shift=3),
        at(SHARED, "cousin", "VICTIM", shift=3),
        at(SHARED, "bullying", "INCIDENT_TYPE", shift=3),
        at(SHARED, "school", "LANDMARK", shift=3),
    ]
    return {"id": "drift-2", "text": SHARED, "entities": entities}


def texts(record):
    return [(record["text"][e["start"] : e["end"]], e["label"]) for e in record["entities"]]


def test_same_text_rule_repairs_a_drifted_record_exactly():
    record = same_text_record()
    with pytest.raises(RecordRejected, match="inside a word"):
        repair_ner_record(record, "r", None)  # today's rule rejects it
    details: dict = {}
    clean, repairs = repair_ner_record(record, "r", None, realign_spans=True, realigned=details)
    expected = [at(SAME_TEXT, word, label, nth=n) for word, label, n in (
        ("Baraka", "NAME", 0), ("Zawadi", "VICTIM", 0), ("Baraka", "NAME", 1), ("Baraka", "NAME", 2),
        ("Zawadi", "VICTIM", 1), ("Zawadi", "VICTIM", 2),
    )]  # fmt: skip
    assert clean["entities"] == sorted(expected, key=lambda e: e["start"])
    assert repairs == ["span_realigned"] * 4
    assert details == {
        "spans": [
            {"span": 2, "shift": -2, "rule": "same_text"},
            {"span": 3, "shift": -4, "rule": "same_text"},
            {"span": 4, "shift": 3, "rule": "same_text"},
            {"span": 5, "shift": -7, "rule": "same_text"},
        ]
    }


def test_shared_shift_rule_repairs_a_drifted_record_exactly():
    record = shared_shift_record()
    with pytest.raises(RecordRejected, match="4 of 5 entity spans"):
        repair_ner_record(record, "r", None)
    details: dict = {}
    clean, repairs = repair_ner_record(record, "r", None, realign_spans=True, realigned=details)
    assert [(SHARED[e["start"] : e["end"]], e["label"]) for e in clean["entities"]] == [
        ("Tumaini", "NAME"), ("Kakamega", "LOCATION"), ("cousin", "VICTIM"), ("bullying", "INCIDENT_TYPE"),
        ("school", "LANDMARK"),
    ]  # fmt: skip
    assert repairs == ["span_realigned"] * 4
    assert details["spans"] == [{"span": i, "shift": -3, "rule": "shared_shift"} for i in (1, 2, 3, 4)]


def test_span_index_names_the_entry_of_the_entities_list_even_after_dropped_spans():
    record = same_text_record()
    record["entities"] = [{"start": "x", "end": 3, "label": "NAME"}, *record["entities"]]  # dropped: malformed
    details: dict = {}
    _, repairs = repair_ner_record(record, "r", None, realign_spans=True, realigned=details)
    assert sorted(repairs) == ["span_malformed"] + ["span_realigned"] * 4
    assert [item["span"] for item in details["spans"]] == [3, 4, 5, 6]


def test_two_fitting_shifts_are_refused_and_the_record_stays_rejected():
    # The drifted span lies between two mentions of the anchor name, both within reach: which one was meant?
    text = "Caller: I am Amina from the village. Counsellor: Thank you. Caller: Amina, yes Amina, that is me."
    entities = [
        at(text, "Amina", "NAME"),
        at(text, "Amina", "NAME", shift=4, nth=1),
        at(text, "village", "LOCATION", shift=2),
    ]
    entities.sort(key=lambda e: e["start"])
    spans = [(e["start"], e["end"], e["label"]) for e in entities]
    late = at(text, "Amina", "NAME", shift=4, nth=1)
    fits = [d for d in range(-MAX_SHIFT, MAX_SHIFT + 1)
            if text[late["start"] + d : late["end"] + d] == "Amina"]  # fmt: skip
    assert len(fits) == 2  # the construction is ambiguous
    result = realign(text, spans)
    assert result.repairs == [] and result.offsets == [(s, e) for s, e, _ in spans]
    record = {"text": text, "entities": entities}
    with pytest.raises(RecordRejected, match="inside a word"):
        repair_ner_record(record, "r", None, realign_spans=True)


def test_drifted_spans_whose_shifts_disagree_are_refused():
    # Two drifted spans, no anchor of their labels, late by 2 and by 5: no one shift puts both on word boundaries.
    text = "Counsellor: Welcome to the line. Caller: I live in Nyeri and my sister faces neglect at home."
    entities = [at(text, "Welcome", "NAME"), at(text, "Nyeri", "LOCATION", 2), at(text, "neglect", "INCIDENT_TYPE", 5)]
    spans = [(e["start"], e["end"], e["label"]) for e in entities]
    assert not [d for d in range(-MAX_SHIFT, MAX_SHIFT + 1)
                if all(on_word_boundaries(text, s + d, e + d) for s, e, _ in spans[1:])]  # fmt: skip
    result = realign(text, spans)
    assert result.repairs == [] and result.unproven == 2
    with pytest.raises(RecordRejected, match="2 of 3 entity spans"):
        repair_ner_record({"text": text, "entities": entities}, "r", None, realign_spans=True)


def test_shared_shift_refused_when_a_span_proven_by_its_text_disagrees():
    # One shift (+3) puts both drifted spans on word boundaries, but the NAME span is proven at -2 by its text
    # (+3 would make it "said"): the shifts disagree, so only the proven span moves; the other is left unproven.
    text = "Caller: Juma here. Counsellor: Hi there. Caller: Juma said it, and fear grew at night."
    entities = [at(text, "Juma", "NAME"), at(text, "Juma", "NAME", 2, nth=1), at(text, "fear", "INCIDENT_TYPE", -3)]
    spans = [(e["start"], e["end"], e["label"]) for e in entities]
    assert [d for d in range(-MAX_SHIFT, MAX_SHIFT + 1)
            if all(on_word_boundaries(text, s + d, e + d) for s, e, _ in spans[1:])] == [3]  # fmt: skip
    result = realign(text, spans)
    assert [(r.span, r.shift, r.rule) for r in result.repairs] == [(1, -2, "same_text")]
    assert (result.drifted, result.unproven) == (2, 1)
    assert result.offsets[2] == (spans[2][0], spans[2][1])  # left where it was
    with pytest.raises(RecordRejected, match="realignment proved 1 of its 2 drifted spans"):
        repair_ner_record({"text": text, "entities": entities}, "r", None, realign_spans=True)


def test_one_span_landing_on_a_name_does_not_let_a_record_of_another_text_in():
    # The offsets belong to another text: one NAME span happens to sit 11 characters before a later mention of the
    # name, the others land on nothing or on words that are not what they label. Moving that one span would leave 2
    # of 6 spans cutting words, which the misalignment rule alone accepts; the record is rejected because 4 of its
    # drifted spans are unproven.
    text = ("Counsellor: Welcome, this is Kelvin. Caller: Hello, my name is Kelvin, I am twelve years old, and I want "
            "to do well at school, really.")  # fmt: skip
    entities = [
        at(text, "Kelvin", "NAME"),
        at(text, "Kelvin", "NAME", shift=-11, nth=1),  # 11 characters early: +11 lands it on "Kelvin"
        at(text, "twelve", "AGE", shift=3),
        at(text, "old, and", "LOCATION", shift=2),
        at(text, "want to do", "INCIDENT_TYPE"),  # on word boundaries, but not an incident: unproven
        at(text, "school", "GENDER"),  # likewise
    ]
    record = {"id": "other-text", "text": text, "entities": entities}
    with pytest.raises(RecordRejected, match="3 of 6 entity spans"):
        repair_ner_record(record, "r", None)
    result = realign(text, [(e["start"], e["end"], e["label"]) for e in entities])
    assert [(r.span, r.rule) for r in result.repairs] == [(1, "same_text")] and result.unproven == 4
    moved_only = [{**e, "start": start, "end": end} for e, (start, end) in zip(entities, result.offsets, strict=True)]
    repair_ner_record({"text": text, "entities": moved_only}, "r", None)  # the misaligned rule alone would accept it
    with pytest.raises(RecordRejected, match="realignment proved 1 of its 5 drifted spans"):
        repair_ner_record(record, "r", None, realign_spans=True)


@pytest.mark.parametrize("seed", range(8))
def test_random_offsets_stay_rejected(seed):
    rng = random.Random(seed)
    words = "caller counsellor school mother father village help night morning friend teacher police".split()
    text = " ".join(rng.choice(words) for _ in range(120))
    entities = []
    for _ in range(rng.randint(4, 9)):
        start = rng.randrange(len(text) - 12)
        entities.append({"start": start, "end": start + rng.randint(3, 10), "label": rng.choice(["NAME", "LOCATION"])})
    record = {"id": f"random-{seed}", "text": text, "entities": entities}
    with pytest.raises(RecordRejected, match="inside a word"):
        repair_ner_record(record, "r", None)  # rejected today
    with pytest.raises(RecordRejected, match="inside a word"):
        repair_ner_record(record, "r", None, realign_spans=True)  # and still


def clean_record():
    text = "Caller: My name is Neema and I am in Arusha."
    return {"id": "clean", "text": text, "entities": [at(text, "Neema", "NAME"), at(text, "Arusha", "LOCATION")]}


def test_off_by_default_the_drifted_records_are_rejected_as_today(tmp_path):
    path = write_jsonl(tmp_path / "ner.jsonl", [same_text_record(), shared_shift_record(), clean_record()])
    dataset, report = load_ner(path)
    assert (report.read, report.kept, report.repaired, report.rejected) == (3, 1, 0, 2)
    assert report.reasons == {"spans_misaligned": 2}
    assert report.realigned == [] and "realigned" not in report.to_dict()
    assert dataset["id"] == ["clean"]


def test_records_kept_today_are_unchanged_with_realignment_on(tmp_path):
    stray = {"id": "stray", "text": "Caller: I am Halima from Kilifi.", "entities": []}
    stray["entities"] = [at(stray["text"], "Halima", "NAME", 1), at(stray["text"], "Kilifi", "LOCATION")]  # one stray
    path = write_jsonl(tmp_path / "ner.jsonl", [clean_record(), stray])
    off, off_report = load_ner(path)
    on, on_report = load_ner(path, realign_spans=True)
    assert on.to_list() == off.to_list() and on_report.to_dict() == off_report.to_dict()


def test_the_report_counts_and_lists_each_repair_without_span_text(tmp_path):
    records = [same_text_record(), shared_shift_record(), clean_record()]
    path = write_jsonl(tmp_path / "ner.jsonl", records)
    dataset, report = load_ner(path, realign_spans=True)
    assert (report.read, report.kept, report.repaired, report.rejected) == (3, 1, 2, 0)
    assert report.kept + report.repaired + report.rejected == report.read
    assert report.reasons == {"span_realigned": 8}
    listed = report.to_dict()["realigned"]
    assert [(item["id"], item["where"], len(item["spans"])) for item in listed] == [
        ("drift-1", f"{path} line 1", 4), ("drift-2", f"{path} line 2", 4),
    ]  # fmt: skip
    dumped = json.dumps(report.to_dict())
    for word in ("Baraka", "Zawadi", "Kakamega", "bullying"):
        assert word not in dumped
    assert texts(dataset[1])[1] == ("Kakamega", "LOCATION")


def test_validate_cli_realign_spans_reports_what_it_repairs(tmp_path, capsys):
    path = write_jsonl(tmp_path / "ner.jsonl", [same_text_record(), shared_shift_record(), clean_record()])
    assert validate_cli.main(["--ner-file", str(path)]) == 0
    plain = capsys.readouterr().out
    assert "spans_misaligned" in plain and "realigned" not in plain
    report_path = tmp_path / "report.json"
    assert validate_cli.main(["--ner-file", str(path), "--realign-spans", "--report", str(report_path)]) == 0
    out = capsys.readouterr().out
    assert "span_realigned" in out and "realigned records: 2 (spans moved by rule: same_text 4, shared_shift 4" in out
    assert "kept + repaired + rejected = read" in out
    saved = json.loads(report_path.read_text())["files"][str(path)]
    assert saved["repaired"] == 2 and saved["rejected"] == 0 and len(saved["realigned"]) == 2
    assert "Baraka" not in report_path.read_text() and "Baraka" not in out


def test_load_all_realigns_ner_only(tmp_path):
    path = write_jsonl(tmp_path / "ner.jsonl", [same_text_record()])
    _, report = load_all(ner=path, realign_spans=True)
    assert report.files[str(path)].reasons == {"span_realigned": 4}
    _, report = load_all(ner=path)
    assert report.files[str(path)].reasons == {"spans_misaligned": 1}


@pytest.mark.skipif(not PUBLIC_NER.is_file(), reason=f"public NER data not found at {PUBLIC_NER}")
def test_public_misaligned_records_realigned_or_still_rejected(capsys):
    off, off_report = load_ner(PUBLIC_NER)
    on, on_report = load_ner(PUBLIC_NER, realign_spans=True)
    misaligned = off_report.reasons["spans_misaligned"]
    realigned = len(on_report.realigned)
    still = on_report.reasons.get("spans_misaligned", 0)
    assert on_report.balanced and off_report.balanced and on_report.read == off_report.read
    assert realigned + still == misaligned  # every misaligned record is either realigned or still rejected
    assert on_report.rejected == off_report.rejected - realigned
    ids = {item["id"] for item in on_report.realigned}
    assert not ids & set(off["id"])  # only records rejected today are realigned
    # The others are untouched (text_group is a row index, so it moves with the rows added before it). Compared as
    # one boolean so that a failure never prints a transcript.
    untouched = [(r["id"], r["text"], r["entities"]) for r in on.to_list() if r["id"] not in ids] == [
        (r["id"], r["text"], r["entities"]) for r in off.to_list()
    ]
    assert untouched, "a record kept without realignment changed with it"
    rules: dict[str, int] = {}
    for item in on_report.realigned:
        for moved in item["spans"]:
            rules[moved["rule"]] = rules.get(moved["rule"], 0) + 1
    with capsys.disabled():
        print(
            f"\npublic NER: {misaligned} misaligned records; realigned {realigned}, still rejected {still}; spans "
            f"moved {on_report.reasons.get('span_realigned', 0)} ({rules})"
        )
