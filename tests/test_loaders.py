"""Loaders of the three formats: every quirk gives its stated repair, malformed input a clear error; label maps."""

from __future__ import annotations

import json
import logging
import re

import pytest
from datasets import Dataset, DatasetDict

from helpline_fusion.data.labels import (
    LabelMaps,
    build_label_maps,
    config_kwargs_from_data,
    normalise_interventions,
    sort_labels,
)
from helpline_fusion.data.loaders import load_cases, load_ner, load_qa, load_task
from helpline_fusion.data.validation import DataFileError

SECRET = "Wanjiru"  # a name that must never appear in an error or a log line


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def write_json(path, records):
    path.write_text(json.dumps(records, indent=2), encoding="utf-8")
    return path


def balanced(report):
    return report.kept + report.repaired + report.rejected == report.read


# --------------------------------------------------------------------------- NER
def span(start, end, label="NAME"):
    return {"start": start, "end": end, "label": label}


def test_ner_whitespace_is_trimmed(tmp_path):
    text = f"Caller is  {SECRET}  from Kisumu"
    start = text.index(SECRET) - 1
    path = write_jsonl(tmp_path / "ner.jsonl", [{"text": text, "entities": [span(start, start + len(SECRET) + 2)]}])
    dataset, report = load_ner(path)
    entity = dataset[0]["entities"][0]
    assert text[entity["start"] : entity["end"]] == SECRET
    assert report.reasons == {"span_whitespace_trimmed": 1}
    assert (report.read, report.kept, report.repaired, report.rejected) == (1, 0, 1, 0)


def test_ner_bad_spans_are_dropped_and_named(tmp_path):
    text = "Amina called from Mombasa about her sister"
    entities = [
        span(0, 5),  # good
        span(18, 25, "LOCATION"),  # good
        span(30, 99),  # outside the text
        span(-3, 4),  # negative
        span(6, 6),  # empty
        span(9, 7),  # reversed = empty
        span(5, 6),  # whitespace only = empty
        {"start": "0", "end": 5, "label": "NAME"},  # malformed
        {"start": 0, "end": 5},  # malformed: no label
    ]
    dataset, report = load_ner(write_jsonl(tmp_path / "ner.jsonl", [{"text": text, "entities": entities}]))
    assert [(e["start"], e["end"], e["label"]) for e in dataset[0]["entities"]] == [
        (0, 5, "NAME"),
        (18, 25, "LOCATION"),
    ]
    assert report.reasons == {"span_outside_text": 1, "span_negative": 1, "span_empty": 3, "span_malformed": 2}
    assert (report.repaired, report.rejected) == (1, 0)


def test_ner_overlaps_keep_the_longer_then_the_earlier(tmp_path):
    text = "Amina Otieno Wanjiku met Baraka at Kisumu market"
    records = [
        {"text": text, "entities": [span(0, 5), span(0, 12)]},  # nested: the longer [0, 12) wins
        {"text": text, "entities": [span(6, 18), span(0, 12)]},  # equal length: the earlier start wins
        {"text": text, "entities": [span(25, 31), span(25, 31)]},  # exact duplicate
        {"text": text, "entities": [span(35, 41, "LOCATION"), span(25, 31)]},  # no overlap: sorted by start
    ]
    dataset, report = load_ner(write_jsonl(tmp_path / "ner.jsonl", records))
    spans = [[(e["start"], e["end"]) for e in row["entities"]] for row in dataset]
    assert spans == [[(0, 12)], [(0, 12)], [(25, 31)], [(25, 31), (35, 41)]]
    assert report.reasons == {"span_overlap_dropped": 3}
    assert (report.kept, report.repaired) == (1, 3)


def test_ner_records_whose_offsets_cut_words_are_rejected_as_misaligned(tmp_path, caplog):
    text = f"Hello, this is {SECRET} from Kisumu. I am 12 years old."
    name, place, age = text.index(SECRET), text.index("Kisumu"), text.index("12")
    aligned = [span(name, name + len(SECRET)), span(place, place + 6, "LOCATION"), span(age, age + 2, "AGE")]
    shifted = [{**entity, "start": entity["start"] + 3, "end": entity["end"] + 3} for entity in aligned]
    one_stray = [*aligned[:2], span(age + 1, age + 4, "AGE")]  # one span of three cuts a word: kept as it is
    records = [
        {"text": text, "entities": aligned},
        {"id": "call-9", "text": text, "entities": shifted},  # offsets of another text: all three cut words
        {"text": text, "entities": one_stray},
    ]
    path = write_jsonl(tmp_path / "ner.jsonl", records)
    with caplog.at_level(logging.WARNING, logger="helpline_fusion.data.loaders"):
        dataset, report = load_ner(path)
    assert list(dataset["id"]) == ["0", "2"]
    assert [len(entities) for entities in dataset["entities"]] == [3, 3]
    assert report.reasons == {"spans_misaligned": 1} and (report.kept, report.rejected) == (2, 1) and balanced(report)
    messages = [record.getMessage() for record in caplog.records]
    assert (
        f"{path} line 2 (id call-9): 3 of 3 entity spans start or end inside a word; the offsets do not fit this text "
        "(computed on another version of it?), so the record's labels cannot be used; record rejected "
        "(spans_misaligned)"
    ) in messages
    assert not any(SECRET in message for message in messages)


def test_ner_realign_spans_repairs_one_shift_shared_by_every_span(tmp_path, caplog):
    # The record of offsets shifted by 3 above: with realign_spans (off by default) one shift, and only one, puts all
    # three spans back on word boundaries (data/realign.py, tests/test_realign.py); the other records are unchanged.
    text = f"Hello, this is {SECRET} from Kisumu. I am 12 years old."
    name, place, age = text.index(SECRET), text.index("Kisumu"), text.index("12")
    aligned = [span(name, name + len(SECRET)), span(place, place + 6, "LOCATION"), span(age, age + 2, "AGE")]
    shifted = [{**entity, "start": entity["start"] + 3, "end": entity["end"] + 3} for entity in aligned]
    records = [{"text": text, "entities": aligned}, {"id": "call-9", "text": text, "entities": shifted}]
    path = write_jsonl(tmp_path / "ner.jsonl", records)
    with caplog.at_level(logging.DEBUG, logger="helpline_fusion.data"):
        dataset, report = load_task("ner", path, realign_spans=True)
    assert dataset["entities"][1] == dataset["entities"][0] == aligned
    assert report.reasons == {"span_realigned": 3} and (report.kept, report.repaired) == (1, 1) and balanced(report)
    assert report.realigned == [{"id": "call-9", "where": f"{path} line 2", "spans": [
        {"span": i, "shift": -3, "rule": "shared_shift"} for i in range(3)]}]  # fmt: skip
    assert not any(SECRET in record.getMessage() for record in caplog.records)
    assert SECRET not in json.dumps(report.to_dict())


def test_ner_malformed_json_line_names_file_and_line(tmp_path):
    path = tmp_path / "ner.jsonl"
    path.write_text(
        json.dumps({"text": "a", "entities": []}) + "\n\n" + '{"text": "' + SECRET + '", "entities": [}\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError) as error:
        load_ner(path)
    assert isinstance(error.value, DataFileError)
    assert str(error.value) == (
        f"{path} line 3: malformed JSON (Expecting value at column {len(SECRET) + 27}); expected one JSON object a line"
    )
    assert SECRET not in str(error.value)


def test_ner_unusable_records_are_rejected_with_reasons(tmp_path, caplog):
    records = [
        {"entities": []},  # missing text
        {"text": 42, "entities": []},  # non-string text
        {"text": "   ", "entities": []},  # empty text
        {"text": SECRET},  # no entities
        {"text": SECRET, "entities": "NAME"},  # entities not a list
        ["not", "an", "object"],
        {"text": f"{SECRET} is 12", "entities": [span(0, len(SECRET))]},  # fine
    ]
    path = write_jsonl(tmp_path / "ner.jsonl", records)
    with caplog.at_level(logging.WARNING, logger="helpline_fusion.data.loaders"):
        dataset, report = load_ner(path)
    assert len(dataset) == 1 and dataset[0]["id"] == "6"
    assert report.reasons == {
        "missing_text": 1,
        "text_not_a_string": 1,
        "empty_text": 1,
        "missing_entities": 1,
        "entities_not_a_list": 1,
        "record_not_an_object": 1,
    }
    assert (report.read, report.kept, report.rejected) == (7, 1, 6) and balanced(report)
    messages = [record.getMessage() for record in caplog.records]
    assert f"{path} line 1: no 'text' field; record rejected (missing_text)" in messages
    assert f"{path} line 2: 'text' should be a string, found int; record rejected (text_not_a_string)" in messages
    assert f"{path} line 3: 'text' is empty; record rejected (empty_text)" in messages
    assert not any(SECRET in message for message in messages)


def test_ner_unknown_label_is_an_error_unless_labels_from_data(tmp_path):
    records = [
        {"text": "Amina lives in Kisumu", "entities": [span(0, 5)]},
        {"id": "call-7", "text": "Amina lives in Kisumu", "entities": [span(0, 5), span(15, 21, "CITY")]},
    ]
    path = write_jsonl(tmp_path / "ner.jsonl", records)
    with pytest.raises(ValueError) as error:
        load_ner(path)
    assert str(error.value).startswith(
        f"{path} line 2 (id call-7): entity 1 has label 'CITY', which is not one of the entity types ['AGE', "
    )
    dataset, report = load_ner(path, labels_from_data=True)
    assert report.kept == 2
    assert build_label_maps(ner=dataset).ner_entity_types == ["CITY", "NAME"]


def test_ner_duplicates_are_kept_and_flagged(tmp_path):
    records = [
        {"text": "Amina  called", "entities": []},
        {"text": "Baraka called", "entities": []},
        {"text": " Amina called\n", "entities": []},
    ]
    dataset, report = load_ner(write_jsonl(tmp_path / "ner.jsonl", records))
    assert len(dataset) == 3
    assert dataset["text_group"] == [0, 1, 0]
    assert report.flags == {"duplicate_text": 1}
    assert report.kept == 3


def test_ner_ids_given_or_by_index(tmp_path):
    records = [{"id": 17, "text": "a", "entities": []}, {"text": "b", "entities": []}]
    dataset, _ = load_ner(write_jsonl(tmp_path / "ner.jsonl", records))
    assert dataset["id"] == ["17", "1"]


def test_ner_from_in_memory_dataset_and_dataset_dict():
    rows = [{"text": "Amina called", "entities": [span(0, 6)]}]
    dataset, report = load_ner(Dataset.from_list(rows), name="mem")
    entity = dataset[0]["entities"][0]
    assert (entity["start"], entity["end"]) == (0, 5)
    assert report.path == "mem" and report.reasons == {"span_whitespace_trimmed": 1}
    splits = DatasetDict({"train": Dataset.from_list(rows), "test": Dataset.from_list(rows + rows)})
    assert len(load_ner(splits, split="test")[0]) == 2
    with pytest.raises(
        ValueError, match=re.escape("<dataset>: no split 'validation'; available splits: ['test', 'train']")
    ):
        load_ner(splits, split="validation")


def test_ner_from_hub_id(monkeypatch):
    import datasets

    rows = [{"text": "Amina called", "entities": [span(0, 5)]}]
    calls = []

    def fake_load_dataset(path, *args, **kwargs):
        calls.append((path, kwargs))
        return DatasetDict({"train": Dataset.from_list(rows)})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    dataset, report = load_ner("helpline/ner-data", hub_config="v2", revision="r1")
    assert calls == [("helpline/ner-data", {"name": "v2", "revision": "r1"})] and len(dataset) == 1
    assert report.path == "helpline/ner-data:v2@r1 [train]"


def test_ner_hub_failure_is_a_clear_error(monkeypatch):
    import datasets

    def failing(path, *args, **kwargs):
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "load_dataset", failing)
    with pytest.raises(
        DataFileError, match=re.escape("someone/data: not a local file, and loading it as a Hub dataset failed")
    ):
        load_ner("someone/data")


def test_missing_file_directory_and_single_object(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path / 'nope.jsonl'}: no such file")):
        load_ner(str(tmp_path / "nope.jsonl"))
    with pytest.raises(DataFileError, match="is a directory"):
        load_ner(tmp_path)
    single = tmp_path / "one.json"
    single.write_text(json.dumps({"narrative": "x", "category": "Custody"}, indent=2))
    with pytest.raises(DataFileError, match=re.escape(f"{single}: holds a single JSON object; expected a JSON array")):
        load_cases(single)


# --------------------------------------------------------------------------- cases
def case(narrative="The caller reports a problem at home.", **fields):
    record = {
        "uniqueid": "1696525048.1374",
        "category": "Custody",
        "intervention": "Counselling",
        "priority": "2",
        "narrative": narrative,
        "victim": {"gender": "female", "age": "9"},
        "reporter": "",
        "perpetrator": "",
        "county": "Kisumu",
    }
    record.update(fields)
    return record


def test_cases_interventions_are_normalised_and_the_first_is_the_target(tmp_path):
    records = [
        case(intervention="Counselling, Referral"),
        case(intervention="Counselling\nReferral"),
        case(intervention="Counseling"),
        case(intervention="Awareness/Information Provided"),
        case(intervention="referral ; Counselling,Referral"),
    ]
    dataset, report = load_cases(write_json(tmp_path / "cases.json", records))
    assert dataset["intervention"] == [
        "Counselling",
        "Counselling",
        "Counselling",
        "Awareness/Information Provided",
        "Referral",
    ]
    assert dataset["interventions"] == [
        ["Counselling", "Referral"],
        ["Counselling", "Referral"],
        ["Counselling"],
        ["Awareness/Information Provided"],
        ["Referral", "Counselling"],
    ]
    assert report.reasons == {"intervention_multi_valued": 3, "intervention_normalised": 2}
    assert (report.kept, report.repaired) == (1, 4)


def test_normalise_interventions_separators_and_slash():
    assert normalise_interventions("Counselling | Signposting") == (["Counselling", "Signposting"], False)
    assert normalise_interventions("follow up") == (["Follow-up"], True)
    assert normalise_interventions("Home visit/Shelter") == (["Home visit/Shelter"], False)  # "/" never splits
    assert normalise_interventions(None) == ([], False)


def test_cases_main_category_and_near_duplicates_stay_distinct(tmp_path):
    records = [
        case(category="Legal issues"),
        case(category="Legal Issues"),
        case(category="School related issues"),
        case(category="School Related Issues"),
        case(category=" Child Labor "),
    ]
    dataset, report = load_cases(write_json(tmp_path / "cases.json", records))
    assert dataset["sub_category"] == [
        "Legal issues",
        "Legal Issues",
        "School related issues",
        "School Related Issues",
        "Child Labor",
    ]
    assert dataset["main_category"] == [
        "Advice and Counselling",
        "Information",
        "Advice and Counselling",
        "Information",
        "VANE",
    ]
    assert report.reasons == {"label_whitespace_stripped": 1}
    maps = build_label_maps(cases=dataset)
    assert maps.case_heads["sub_category"][:4] == [
        "Child Labor",
        "Legal Issues",
        "Legal issues",
        "School Related Issues",
    ]


def test_cases_ids_metadata_and_priority(tmp_path):
    records = [case(uniqueid=""), case(priority=1), case(uniqueid=None, priority=" 3")]
    dataset, report = load_cases(write_json(tmp_path / "cases.json", records))
    assert dataset["id"] == ["0", "1696525048.1374", "2"]
    assert dataset["priority"] == ["2", "1", "3"]
    assert report.flags == {"id_from_index": 2, "duplicate_text": 2}  # same narrative thrice
    assert report.reasons == {"priority_normalised": 2}
    metadata = json.loads(dataset[0]["metadata"])
    assert metadata == {
        "county": "Kisumu",
        "perpetrator": "",
        "reporter": "",
        "victim": {"age": "9", "gender": "female"},
    }
    assert "text" in dataset.column_names and "narrative" not in dataset.column_names


def test_cases_missing_targets_are_masked_or_rejected(tmp_path, caplog):
    records = [
        case(category=""),
        case(intervention=None, priority=None),
        case(category=None, intervention="", priority=""),
        case(narrative=None),
        case(narrative=["a"]),
    ]
    path = write_json(tmp_path / "cases.json", records)
    with caplog.at_level(logging.WARNING):
        dataset, report = load_cases(path)
    assert len(dataset) == 2
    assert (dataset[0]["sub_category"], dataset[0]["main_category"]) == (None, None)
    assert (dataset[1]["intervention"], dataset[1]["interventions"], dataset[1]["priority"]) == (None, [], None)
    assert report.reasons == {
        "label_missing_sub_category": 1,
        "label_missing_intervention": 1,
        "label_missing_priority": 1,
        "no_labels": 1,
        "missing_text": 1,
        "text_not_a_string": 1,
    }
    assert (report.repaired, report.rejected) == (2, 3) and balanced(report)
    assert any(
        record.getMessage()
        == f"{path} record 3 (uniqueid 1696525048.1374): no 'narrative' field; record rejected (missing_text)"
        for record in caplog.records
    )


def test_cases_label_outside_schema(tmp_path):
    path = write_json(tmp_path / "cases.json", [case(), case(uniqueid="41", priority="4")])
    with pytest.raises(ValueError) as error:
        load_cases(path)
    assert str(error.value) == (
        f"{path} record 1 (uniqueid 41): priority '4' is not one of the config's priority labels ['1', '2', '3']; "
        "fix the data, extend the config's case_heads, or build the label maps from the data (labels_from_data=True)"
    )
    path = write_json(tmp_path / "cases2.json", [case(category="Space Travel", uniqueid="")])
    with pytest.raises(ValueError, match=re.escape(f"{path} record 0: sub_category 'Space Travel' is not one of")):
        load_cases(path)
    dataset, _ = load_cases(path, labels_from_data=True)
    assert dataset[0]["main_category"] == "Unknown"


def test_cases_malformed_array_names_the_line(tmp_path):
    path = tmp_path / "cases.json"
    path.write_text('[\n {"narrative": "x"},\n {"narrative": }\n]\n')
    with pytest.raises(DataFileError, match=re.escape(f"{path}: malformed JSON at line 3, column 16")):
        load_cases(path)


def test_cases_with_a_custom_config_head(tmp_path):
    maps = LabelMaps()
    maps.case_heads["county"] = ["Kisumu", "Mombasa"]
    dataset, report = load_cases(write_json(tmp_path / "cases.json", [case()]), config=maps)
    assert dataset[0]["county"] == "Kisumu"
    assert "county" not in json.loads(dataset[0]["metadata"])


# --------------------------------------------------------------------------- QA
def qa_labels(**overrides):
    labels = {
        "opening": [1],
        "listening": [1, 0, 1, 1, 0],
        "proactiveness": [0, 1, 1],
        "resolution": [1, 1, 0, 1, 1],
        "hold": [1, 1],
        "closing": [0],
    }
    labels.update(overrides)
    return labels


def qa(labels, **fields):
    record = {
        "text": "Counsellor: Good morning...",
        "labels": labels,
        "sample_id": "s1",
        "scenario": "child_abuse_report",
    }
    record["quality_level"] = "good"
    record.update(fields)
    return record


def test_qa_labels_dict_or_json_string(tmp_path):
    records = [qa(qa_labels()), qa(json.dumps(qa_labels()), sample_id="s2")]
    dataset, report = load_qa(write_json(tmp_path / "qa.json", records))
    assert dataset[0]["qa_listening"] == dataset[1]["qa_listening"] == [1, 0, 1, 1, 0]
    assert report.kept == 2 and dataset["id"] == ["s1", "s2"]
    assert dataset[0]["scenario"] == "child_abuse_report" and dataset[0]["quality_level"] == "good"


def test_qa_lengths_padded_masked_and_truncated(tmp_path):
    records = [
        qa(qa_labels(listening=[1, 0, 1, 1, 0, 1])),  # 6 values for 5
        qa(qa_labels(resolution=[1, 1, 0])),  # 3 values for 5
    ]
    dataset, report = load_qa(write_json(tmp_path / "qa.json", records))
    assert dataset[0]["qa_listening"] == [1, 0, 1, 1, 0]
    assert dataset[1]["qa_resolution"] == [1, 1, 0, -100, -100]
    assert report.reasons == {"qa_list_truncated": 1, "qa_list_padded": 1}


def test_qa_hold_not_applicable_is_masked_not_zero(tmp_path):
    records = [
        qa(qa_labels(hold="No hold was required")),
        qa(qa_labels(hold=["No hold was required", "N/A"])),
        qa(qa_labels(hold=["1", 0.0], opening=[None], closing=[2])),
    ]
    dataset, report = load_qa(write_json(tmp_path / "qa.json", records))
    assert dataset["qa_hold"] == [[-100, -100], [-100, -100], [1, 0]]
    assert dataset[2]["qa_opening"] == [-100] and dataset[2]["qa_closing"] == [-100]
    assert report.reasons == {"qa_not_applicable": 3, "qa_value_missing": 1, "qa_value_invalid": 1}


def test_qa_unknown_head_is_an_error_naming_the_record(tmp_path):
    labels = qa_labels()
    labels["empathy"] = [1, 0]
    path = write_json(tmp_path / "qa.json", [qa(qa_labels()), qa(labels, sample_id="call-9")])
    with pytest.raises(ValueError) as error:
        load_qa(path)
    assert str(error.value) == (
        f"{path} record 1 (sample_id call-9): unknown quality head(s) ['empathy']; expected heads ['opening', "
        "'listening', 'proactiveness', 'resolution', 'hold', 'closing'] (or build the label maps from the data "
        "with labels_from_data=True)"
    )
    dataset, report = load_qa(path, labels_from_data=True)
    assert dataset["qa_empathy"] == [[-100, -100], [1, 0]]
    assert report.reasons == {"qa_head_missing": 1}
    maps = build_label_maps(qa=dataset)
    assert list(maps.qa_heads)[-1] == "empathy" and maps.qa_heads["empathy"] == ["empathy_1", "empathy_2"]
    assert maps.qa_heads["opening"] == ["use of call opening phrase"]


def test_qa_unusable_labels_are_rejected(tmp_path):
    records = [qa("{not json"), qa([1, 0]), qa(None), qa(qa_labels(), text="")]
    dataset, report = load_qa(write_json(tmp_path / "qa.json", records))
    assert len(dataset) == 0
    assert report.reasons == {"labels_unparseable": 1, "labels_not_a_dict": 1, "missing_labels": 1, "empty_text": 1}
    assert balanced(report)


# --------------------------------------------------------------------------- label maps
def test_label_maps_from_data_are_deterministic(tmp_path):
    records = [case(priority="3", category="Custody"), case(priority="1", category="Adoption"), case(priority="2")]
    first, _ = load_cases(write_json(tmp_path / "a.json", records))
    second, _ = load_cases(write_json(tmp_path / "b.json", records[::-1]))
    kwargs = config_kwargs_from_data(cases=first)
    assert kwargs == config_kwargs_from_data(cases=second)
    assert kwargs["case_heads"]["priority"] == ["1", "2", "3"]
    assert kwargs["case_heads"]["sub_category"] == ["Adoption", "Custody"]
    assert kwargs["case_heads"]["main_category"] == ["Child Maintenance & Custody"]
    assert kwargs["ner_entity_types"][0] == "NAME"  # no NER data: the reference's types
    assert sort_labels("priority", ["10", "3", "1", "2"]) == ["1", "2", "3", "10"]

    from helpline_fusion.modeling_attention_fusion.configuration_attention_fusion import AttentionFusionConfig

    config = AttentionFusionConfig(**kwargs)
    assert config.case_heads["sub_category"] == ["Adoption", "Custody"]
    assert LabelMaps.from_config(config).to_config_kwargs() == kwargs


def test_load_task_dispatch(tmp_path):
    path = write_json(tmp_path / "cases.json", [case()])
    assert load_task("cls", path)[1].task == "cls"
    # One name per task: the file's name ("cases") is not a second name for task `cls`.
    for wrong in ("pos", "cases"):
        with pytest.raises(ValueError, match=re.escape(f"unknown task {wrong!r}; valid: ['ner', 'cls', 'qa']")):
            load_task(wrong, path)
