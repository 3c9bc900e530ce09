"""`helpline-fusion predict`: JSON Lines and JSON arrays, ids, bad records with their line, --strict."""

from __future__ import annotations

import json

import pytest

from helpline_fusion.cli import main as cli_main
from helpline_fusion.train.predict_cli import main, read_records

GOOD_1 = {"id": "call-1", "text": "my child is 12 years old and he is calling from kisumu town " * 3}
GOOD_2 = {"uniqueid": "1685808460.7278", "narrative": "hello , my name is amina"}
NO_ID = {"uniqueid": "", "narrative": "the child is calling about danger"}


def write_jsonl(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def mixed_jsonl(tmp_path):
    return write_jsonl(
        tmp_path / "calls.jsonl",
        [
            json.dumps(GOOD_1),  # line 1
            json.dumps(GOOD_2),  # line 2
            '{"id": "broken", "text": "unterminated',  # line 3: malformed
            "",  # line 4: blank, not a record
            json.dumps(NO_ID),  # line 5: empty uniqueid -> the line number
            json.dumps({"id": "x9", "transcript": "wrong field"}),  # line 6
            json.dumps({"sample_id": "s7", "text": 42}),  # line 7
        ],
    )


def read_output(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_bad_lines_are_reported_with_their_line_and_the_rest_is_analysed(model_dir, mixed_jsonl, tmp_path, capsys):
    out = tmp_path / "out" / "predictions.jsonl"
    code = main(["--model", str(model_dir), str(mixed_jsonl), "--output", str(out), "--batch-size", "4"])
    err = capsys.readouterr().err
    assert code == 0
    assert f"{mixed_jsonl} line 3: invalid JSON" in err
    assert f"{mixed_jsonl} line 6 (id x9): no 'text' or 'narrative' field (fields found: id, transcript)" in err
    assert f"{mixed_jsonl} line 7 (id s7): 'text' is int, expected a string" in err
    assert "3 transcripts analysed, 3 records rejected (bad_text 1, invalid_json 1, no_text 1)" in err
    assert "unterminated" not in err and "amina" not in err  # transcripts are never quoted

    rows = read_output(out)
    assert [(row["id"], row["line"]) for row in rows] == [
        ("call-1", 1), ("1685808460.7278", 2), (3, 3), (5, 5), ("x9", 6), ("s7", 7)
    ]  # fmt: skip
    assert [("error" in row) for row in rows] == [False, False, True, False, True, True]
    for row, source in zip([rows[0], rows[1], rows[3]], [GOOD_1["text"], GOOD_2["narrative"], NO_ID["narrative"]]):
        assert {"entities", "case", "quality", "needs_review", "review_reasons"} <= set(row)
        assert all(source[e["start"] : e["end"]] == e["text"] for e in row["entities"])
    assert rows[0]["num_windows"] > 1  # the long one was windowed


def test_strict_stops_at_the_first_bad_line_with_a_nonzero_exit(model_dir, mixed_jsonl, tmp_path, capsys):
    out = tmp_path / "strict.jsonl"
    code = main(["--model", str(model_dir), str(mixed_jsonl), "--output", str(out), "--strict"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{mixed_jsonl} line 3: invalid JSON" in err and "line 6" not in err
    assert not out.exists()


def test_json_array_input_uses_ids_or_the_index(model_dir, tmp_path):
    source = tmp_path / "cases.json"
    source.write_text(json.dumps([GOOD_2, NO_ID, "not a record"]), encoding="utf-8")
    out = tmp_path / "cases.jsonl"
    assert main(["--model", str(model_dir), str(source), "-o", str(out), "--bf16", "--window-length", "24"]) == 0
    rows = read_output(out)
    assert [(row["id"], row["index"]) for row in rows] == [("1685808460.7278", 0), (1, 1), (2, 2)]
    assert rows[2]["error"] == f"{source} record 2: expected a JSON object, found str"
    assert rows[0]["case"]["priority"]["label"] in {"1", "2", "3"}


def test_read_records_explains_a_broken_array(tmp_path):
    source = tmp_path / "broken.json"
    source.write_text('[\n  {"text": "a"},\n  {"text": \n]', encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"broken.json line 4: the file starts with '\[' but is not a valid JSON array"
    ):
        read_records(source)


def test_a_missing_model_is_a_clear_error(tmp_path, mixed_jsonl, capsys):
    code = main(["--model", str(tmp_path / "nowhere"), str(mixed_jsonl), "-o", str(tmp_path / "o.jsonl")])
    assert code == 2
    # An absolute path that does not exist is a mistyped folder, not a Hub id: said at once.
    assert capsys.readouterr().err == f"helpline-fusion predict: model folder not found: {tmp_path / 'nowhere'}\n"


def test_the_console_command_dispatches_to_predict(model_dir, tmp_path):
    source = write_jsonl(tmp_path / "one.jsonl", [json.dumps(GOOD_2)])
    out = tmp_path / "one_out.jsonl"
    assert cli_main(["predict", "--model", str(model_dir), str(source), "--output", str(out)]) == 0
    assert read_output(out)[0]["id"] == "1685808460.7278"


def test_every_shared_case_narrative_gets_one_complete_result(model_dir, shared_data, tmp_path):
    cases = json.loads((shared_data / "cases_helpline.json").read_text(encoding="utf-8"))[:6]
    source = tmp_path / "cases_subset.json"  # a run-time copy in tmp_path, never in the repository
    source.write_text(json.dumps(cases), encoding="utf-8")
    out = tmp_path / "cases_out.jsonl"
    assert main(["--model", str(model_dir), str(source), "--output", str(out), "--batch-size", "8"]) == 0
    rows = read_output(out)
    assert [row["id"] for row in rows] == [case["uniqueid"] or index for index, case in enumerate(cases)]
    for row, case in zip(rows, cases):
        assert "error" not in row and set(row["case"]) == {"main_category", "sub_category", "intervention", "priority"}
        assert all(case["narrative"][e["start"] : e["end"]] == e["text"] for e in row["entities"])


def test_evidence_is_off_by_default_and_one_flag_turns_it_on(model_dir, tmp_path, capsys):
    text = "my name is amina and i am calling from kisumu about my child who is 12 years old"
    calls = tmp_path / "calls.jsonl"
    calls.write_text(json.dumps({"id": "call-1", "text": text}) + "\n")
    plain, with_evidence = tmp_path / "plain.jsonl", tmp_path / "evidence.jsonl"
    assert main(["--model", str(model_dir), str(calls), "--output", str(plain)]) == 0
    assert main(["--model", str(model_dir), str(calls), "--output", str(with_evidence), "--evidence",
                 "--evidence-top-k", "2"]) == 0  # fmt: skip
    row = json.loads(plain.read_text())
    assert "evidence" not in json.dumps(row)
    row = json.loads(with_evidence.read_text())
    decisions = [*row["case"].values(), *(m for head in row["quality"].values() for m in head.values())]
    assert decisions and all(1 <= len(d["evidence"]) <= 2 for d in decisions)
    for span in (span for d in decisions for span in d["evidence"]):
        assert span["text"] == text[span["start"] : span["end"]]


@pytest.mark.parametrize("extra, why", [(["--evidence-top-k", "2"], "2 without --evidence"),
                                        (["--evidence", "--evidence-top-k", "0"], "0")])  # fmt: skip
def test_evidence_top_k_needs_evidence_and_a_positive_count(model_dir, tmp_path, capsys, extra, why):
    calls = tmp_path / "calls.jsonl"
    calls.write_text(json.dumps({"id": "call-1", "text": "hello"}) + "\n")
    assert main(["--model", str(model_dir), str(calls), "--output", str(tmp_path / "o.jsonl"), *extra]) == 2
    assert capsys.readouterr().err.strip() == (
        f"helpline-fusion predict: --evidence-top-k takes a number of spans of at least 1, with --evidence; got {why}"
    )
    assert not (tmp_path / "o.jsonl").exists()
