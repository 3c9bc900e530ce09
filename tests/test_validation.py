"""The validation report (kept + repaired + rejected == read, JSON shape, writing, logging) and the validate CLI."""

from __future__ import annotations

import json
import logging
import random

import pytest

from helpline_fusion.data.loaders import load_cases, load_ner, load_qa
from helpline_fusion.data.validate_cli import main
from helpline_fusion.data.validation import (
    FileReport,
    ValidationReport,
    format_report,
    resolve_overlaps,
    write_report,
)


def test_file_report_states():
    report = FileReport(path="f.jsonl", task="ner")
    assert report.add() == "kept"
    assert report.add(["span_whitespace_trimmed", "span_whitespace_trimmed", "span_empty"]) == "repaired"
    assert report.add(rejection="missing_text") == "rejected"
    report.flag("duplicate_text")
    assert report.to_dict() == {
        "task": "ner",
        "read": 3,
        "kept": 1,
        "repaired": 1,
        "rejected": 1,
        "reasons": {"missing_text": 1, "span_empty": 1, "span_whitespace_trimmed": 2},
        "flags": {"duplicate_text": 1},
    }
    assert report.balanced


def test_report_json_round_trip_and_write(tmp_path, caplog):
    report = ValidationReport()
    report.add(FileReport(path="data/ner.jsonl", task="ner", read=2, kept=1, repaired=1, reasons={"span_empty": 1}))
    with caplog.at_level(logging.INFO, logger="helpline_fusion.data.validation"):
        path = write_report(report, tmp_path / "run" / "data_report.json")
    written = json.loads(path.read_text())
    assert written == {
        "files": {
            "data/ner.jsonl": {
                "task": "ner",
                "read": 2,
                "kept": 1,
                "repaired": 1,
                "rejected": 0,
                "reasons": {"span_empty": 1},
            }
        }
    }
    assert ValidationReport.from_dict(written).to_dict() == written
    messages = [record.getMessage() for record in caplog.records]
    assert "data/ner.jsonl (ner): read 2, kept 1, repaired 1, rejected 0; reasons {'span_empty': 1}" in messages
    assert any(message.startswith("data report written to ") for message in messages)


def test_format_report_table():
    report = ValidationReport()
    report.add(FileReport(path="cases.json", task="cls", read=3, kept=2, rejected=1, reasons={"missing_text": 1}))
    table = format_report(report).splitlines()
    assert table[0].split() == ["file", "task", "read", "kept", "repaired", "rejected"]
    assert table[2].split() == ["cases.json", "cls", "3", "2", "0", "1"]
    assert table[-1].split() == ["missing_text", "1"]


def test_resolve_overlaps_rule():
    spans = [
        {"start": 0, "end": 4, "label": "A"},
        {"start": 2, "end": 6, "label": "B"},  # same length as A, later: dropped
        {"start": 5, "end": 12, "label": "C"},  # longest: kept, so B would be dropped anyway
        {"start": 20, "end": 22, "label": "D"},
    ]
    kept, dropped = resolve_overlaps(spans)
    assert [span["label"] for span in kept] == ["A", "C", "D"] and dropped == 1
    kept, dropped = resolve_overlaps([{"start": 3, "end": 5, "label": "X"}, {"start": 0, "end": 2, "label": "Y"}])
    assert [span["label"] for span in kept] == ["Y", "X"] and dropped == 0


def _messy_ner(rng: random.Random, n: int) -> list:
    records = []
    for _ in range(n):
        text = " ".join(
            rng.choice(["amina", "kisumu", "called", "twelve", "  ", "mother"]) for _ in range(rng.randint(0, 8))
        )
        entities = []
        for _ in range(rng.randint(0, 4)):
            start = rng.randint(-3, len(text) + 3)
            entities.append({"start": start, "end": start + rng.randint(-1, 8), "label": rng.choice(["NAME", "AGE"])})
        record = {"text": text, "entities": entities}
        kind = rng.random()
        if kind < 0.05:
            record.pop("text")
        elif kind < 0.1:
            record["text"] = 7
        elif kind < 0.15:
            record["entities"] = None
        records.append(record)
    return records


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_record_is_accounted_for(tmp_path, seed):
    rng = random.Random(seed)
    ner = tmp_path / "ner.jsonl"
    ner.write_text("".join(json.dumps(record) + "\n" for record in _messy_ner(rng, 200)))
    dataset, report = load_ner(ner)
    assert report.read == 200 and report.balanced
    assert len(dataset) == report.kept + report.repaired

    cases = [
        {
            "narrative": rng.choice(["x", "", None, 5, "long story"]),
            "category": rng.choice(["Custody", "", None]),
            "intervention": rng.choice(["Counselling, Referral", "Counseling", None, ""]),
            "priority": rng.choice(["1", 2, None]),
            "uniqueid": rng.choice(["", "7", None]),
        }
        for _ in range(100)
    ]
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases))
    dataset, report = load_cases(path)
    assert report.read == 100 and report.balanced and len(dataset) == report.kept + report.repaired

    qa = [
        {
            "text": rng.choice(["hello", "", None]),
            "labels": rng.choice(['{"opening": [1]}', {"hold": "No hold"}, "{", None]),
        }
        for _ in range(100)
    ]
    path = tmp_path / "qa.json"
    path.write_text(json.dumps(qa))
    dataset, report = load_qa(path)
    assert report.read == 100 and report.balanced and len(dataset) == report.kept + report.repaired


# --------------------------------------------------------------------------- CLI
@pytest.fixture
def files(tmp_path):
    ner = tmp_path / "ner.jsonl"
    ner.write_text(
        json.dumps({"text": "Amina called", "entities": [{"start": 0, "end": 6, "label": "NAME"}]})
        + "\n"
        + json.dumps({"entities": []})
        + "\n"
    )
    cases = tmp_path / "cases.json"
    cases.write_text(
        json.dumps(
            [{"narrative": "a story", "category": "Custody", "intervention": "Counselling, Referral", "priority": "1"}]
        )
    )
    return ner, cases


def test_cli_prints_the_table_and_writes_the_report(files, tmp_path, capsys):
    ner, cases = files
    out = tmp_path / "out" / "report.json"
    status = main(["--ner-file", str(ner), "--cases-file", str(cases), "--report", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    assert f"{ner}" in printed and "span_whitespace_trimmed" in printed and "intervention_multi_valued" in printed
    assert "kept + repaired + rejected = read for every file." in printed
    report = json.loads(out.read_text())["files"]
    assert report[str(ner)] == {
        "task": "ner",
        "read": 2,
        "kept": 0,
        "repaired": 1,
        "rejected": 1,
        "reasons": {"missing_text": 1, "span_whitespace_trimmed": 1},
    }
    assert report[str(cases)]["repaired"] == 1 and report[str(cases)]["flags"] == {"id_from_index": 1}


def test_cli_unreadable_file_exits_2_and_names_it(files, tmp_path, capsys):
    ner, cases = files
    missing = tmp_path / "missing.json"
    status = main(["--ner-file", str(ner), "--cases-file", str(missing)])
    captured = capsys.readouterr()
    assert status == 2
    assert f"error: cannot read cls file '{missing}': {missing}: no such file" in captured.err
    assert str(ner) in captured.out  # the readable file is still reported

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "a", "entities": []}\n{"text": \n')
    assert main(["--ner-file", str(broken)]) == 2
    assert f"{broken} line 2: malformed JSON" in capsys.readouterr().err


def test_cli_schema_error_exits_1(tmp_path, capsys):
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps([{"narrative": "a story", "category": "Custody", "priority": "9", "uniqueid": "5"}]))
    assert main(["--cases-file", str(cases)]) == 1
    assert f"{cases} record 0 (uniqueid 5): priority '9' is not one of" in capsys.readouterr().err
    assert main(["--cases-file", str(cases), "--labels-from-data"]) == 0


def test_cli_needs_a_file(capsys):
    assert main([]) == 2
    assert "give at least one of --ner-file, --cases-file, --qa-file" in capsys.readouterr().err
