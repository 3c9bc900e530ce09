"""Bad input, tried systematically: property-based tests (hypothesis) over the three loaders, and the linter-like
`helpline-fusion validate` that names every malformed line while training refuses the file naming them all.

The properties, for any file hypothesis builds (records of wrong types, missing or extra fields, non-UTF-8 bytes,
lines that are not JSON, huge or empty texts, spans outside the text, NaN/strings/None in QA lists, lone surrogates,
JSON nested 10,000 levels deep or just past the 100-level limit, integers of 5,000 digits):
    - with the label maps built from the data, loading never raises: every non-blank line is read, and ends kept,
      repaired or rejected (`kept + repaired + rejected == read`); the dataset holds exactly the kept and repaired
      records; every malformed line is listed; what is kept is clean (spans inside the text, not overlapping;
      quality lists of the head's length holding only 0, 1 or the mask);
    - against the fixed label schema, loading either gives the same accounting or a `ValueError` naming the file and
      the line of the offending record (or, for a JSON array that `json` cannot parse at all, the file and why).

`helpline-fusion validate` and `predict` are tried on the same shapes with their exit codes and messages.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpline_fusion.data.labels import LabelMaps
from helpline_fusion.data.loaders import load_cases, load_ner, load_qa
from helpline_fusion.data.validate_cli import main as validate_main
from helpline_fusion.data.validation import MASKED, DataFileError

MAPS = LabelMaps()
ENTITY_TYPES = list(MAPS.ner_entity_types)
QA_SIZES = dict(MAPS.qa_sizes)
SUB_CATEGORIES = list(MAPS.sub_to_main)[:6]
PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

# ----------------------------------------------------------------------------- strategies
# Characters that have broken text pipelines: a lone surrogate (valid JSON as "\\ud800", not storable as UTF-8),
# the line and paragraph separators (`str.splitlines` cuts there), NUL, a byte-order mark, combining marks.
tricky_text = st.text(st.sampled_from("ab \n\t\u2028\u2029\ud800\udfff\x00\ufeff\u0301é"), max_size=20)
scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20) | tricky_text
)  # fmt: skip
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)  # fmt: skip


def nested(depth: int) -> list:
    """A list nested `depth` levels deep (`[[...[]...]]`)."""
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


DEEP = b"[" * 10_000 + b"]" * 10_000  # json raises RecursionError near 1,000 levels
HUGE = b"9" * 5_000  # json raises ValueError past 4,300 digits
# Deep values json can parse: around the 100-level limit of a record (the record itself is one level) and past it.
deep_values = st.sampled_from([98, 99, 100, 101, 300]).map(nested)
# Whole JSON-lines lines json cannot read, and records that are deeper than the limit or hold a huge integer.
hostile_lines = st.sampled_from([
    DEEP,
    b"-" + HUGE,
    b'{"text": "a call", "entities": [], "n": ' + HUGE + b"}",
    b'{"text": "a call", "entities": ' + DEEP + b"}",
    b'{"text": "a call", "labels": {"a": [' + HUGE + b"]}}",
    b'{"text": "a call", "entities": [], "x": ' + b"[" * 100 + b"]" * 100 + b"}",  # 101 levels: rejected
    b'{"text": "a call", "entities": [], "x": ' + b"[" * 99 + b"]" * 99 + b"}",  # 100 levels: read
])  # fmt: skip
texts = st.one_of(
    st.text(max_size=120),  # any Unicode but surrogates
    tricky_text,
    st.just(""),
    st.just("  \n\t "),
    st.just("word " * 200_000),  # a 1 MB transcript
)


def maybe(value_strategy):
    """The right value, a value of any JSON type in its place, or the field left out (`...`)."""
    return st.one_of(value_strategy, json_values, st.just(...))


def build(draw, fields: dict) -> dict:
    extras = draw(st.dictionaries(st.text(max_size=6), json_values | deep_values, max_size=2))
    record = {key: draw(value) for key, value in fields.items()}
    return {**extras, **{key: value for key, value in record.items() if value is not ...}}


@st.composite
def ner_records(draw):
    text = draw(texts)
    n = len(text)
    span = st.fixed_dictionaries(
        {"start": st.integers(-3, n + 3), "end": st.integers(-3, n + 3), "label": st.sampled_from(ENTITY_TYPES)}
    )
    entities = st.lists(st.one_of(span, span, json_values), max_size=5)
    return build(draw, {"text": maybe(st.just(text)), "entities": maybe(entities), "id": maybe(st.text(max_size=5))})


@st.composite
def case_records(draw):
    label = st.sampled_from(SUB_CATEGORIES)
    return build(draw, {
        "narrative": maybe(texts),
        "category": maybe(label),
        "intervention": maybe(st.sampled_from(["Counselling", "Referral, Counselling", "counseling\nreferral"])),
        "priority": maybe(st.sampled_from(["1", "2", "3", 1, 2.0, " 3 "])),
        "uniqueid": maybe(st.text(max_size=8)),
        "victim": maybe(st.dictionaries(st.text(max_size=5), st.text(max_size=10), max_size=2)),
    })  # fmt: skip


@st.composite
def qa_records(draw):
    value = st.one_of(st.sampled_from([0, 1, 1.0, "1", "No hold was required", None, 2, -1]), scalars)
    lists = st.dictionaries(st.sampled_from(list(QA_SIZES)), st.one_of(st.lists(value, max_size=6), value), max_size=6)
    hostile = st.sampled_from([DEEP.decode(), '{"a": [' + HUGE.decode() + "]}", json.dumps({"a": nested(150)})])
    labels = st.one_of(lists, lists.map(lambda d: json.dumps(d, allow_nan=True)), st.just("{not json"), hostile)
    return build(draw, {"text": maybe(texts), "labels": maybe(labels), "sample_id": maybe(st.text(max_size=8))})


def jsonl_lines(records):
    """Lines of a JSON-lines file: records (escaped or raw Unicode), JSON values that are not objects, garbage
    bytes (non-UTF-8, truncated JSON) and blank lines."""
    encoded = st.tuples(records, st.booleans()).map(
        lambda pair: json.dumps(pair[0], ensure_ascii=pair[1], allow_nan=True).encode("utf-8", "surrogatepass")
    )
    not_objects = json_values.map(lambda value: json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass"))
    return st.lists(
        st.one_of(encoded, encoded, encoded, not_objects, hostile_lines, st.binary(max_size=30), st.just(b"")),
        max_size=8,
    )


FIRST_LINE = {"ner": {"text": "a call", "entities": []}, "qa": {"text": "a call", "labels": {}}, "cls": None}


def write_jsonl(path, task, lines) -> int:
    """Write the file (a good first line, so JSON-lines format is detected); return its non-blank line count."""
    content = b"\n".join([json.dumps(FIRST_LINE[task]).encode(), *lines]) + b"\n"
    path.write_bytes(content)
    return sum(1 for line in content.split(b"\n") if line.removesuffix(b"\r").strip())


def check_accounting(dataset, report, read: int, task: str) -> None:
    assert report.read == read
    assert report.kept + report.repaired + report.rejected == report.read
    assert len(dataset) == report.kept + report.repaired
    assert len(report.malformed_lines) == report.reasons["malformed_json"] + report.reasons["not_utf8"]
    for row in dataset:
        assert isinstance(row["text"], str) and row["text"].strip()
        if task == "ner":
            spans = [(e["start"], e["end"]) for e in row["entities"]]
            assert all(0 <= start < end <= len(row["text"]) for start, end in spans)
            assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # sorted, no overlap
        if task == "qa":
            for head, size in QA_SIZES.items():
                assert len(row[f"qa_{head}"]) == size and set(row[f"qa_{head}"]) <= {0, 1, MASKED}


LOADERS = {"ner": (load_ner, ner_records()), "cls": (load_cases, case_records()), "qa": (load_qa, qa_records())}


# ----------------------------------------------------------------------------- properties
@pytest.mark.parametrize("task", ["ner", "qa"])
@PROPERTY_SETTINGS
@given(data=st.data())
def test_every_jsonl_line_is_kept_repaired_or_rejected(task, data, tmp_path_factory):
    loader, records = LOADERS[task]
    path = tmp_path_factory.mktemp(task) / f"{task}.jsonl"
    read = write_jsonl(path, task, data.draw(jsonl_lines(records)))
    dataset, report = loader(path, labels_from_data=True, reject_malformed=True)
    check_accounting(dataset, report, read, task)


@pytest.mark.parametrize("task", ["ner", "cls", "qa"])
@PROPERTY_SETTINGS
@given(data=st.data())
def test_against_the_schema_a_record_is_accounted_for_or_named(task, data, tmp_path_factory):
    loader, records = LOADERS[task]
    path = tmp_path_factory.mktemp(task) / f"{task}.json"
    fatal = st.sampled_from([DEEP, HUGE, b'{"text": "a call", "n": -' + HUGE + b"}"])  # the file cannot be parsed
    items = data.draw(st.lists(st.one_of(records, records, json_values, deep_values, fatal), max_size=8))
    encoded = [item if isinstance(item, bytes) else json.dumps(item, allow_nan=True).encode("utf-8", "surrogatepass")
               for item in items]  # fmt: skip
    path.write_bytes(b"[" + b", ".join(encoded) + b"]")
    try:
        dataset, report = loader(path)
    except ValueError as error:
        if any(isinstance(item, bytes) for item in items):  # json cannot read the file: the file and why
            assert str(error) in {
                f"{path}: malformed JSON (nested more than 100 levels deep); expected a JSON array of records",
                f"{path}: malformed JSON (an integer longer than 4300 digits); expected a JSON array of records",
            }, str(error)
            return
        # a label outside the schema: the file and record are named
        assert re.match(rf"{re.escape(str(path))} record \d+", str(error)), str(error)
        return
    assert not any(isinstance(item, bytes) for item in items)
    check_accounting(dataset, report, len(items), task)


@PROPERTY_SETTINGS
@given(items=st.lists(st.one_of(case_records(), case_records(), deep_values), max_size=8))
@example(items=[nested(101), {"narrative": "a call", "category": "x", "victim": nested(300)}])
def test_cases_from_data_never_raise(items, tmp_path_factory):
    path = tmp_path_factory.mktemp("cls") / "cases.json"
    path.write_bytes(json.dumps(items, allow_nan=True).encode("utf-8", "surrogatepass"))
    dataset, report = load_cases(path, labels_from_data=True)
    check_accounting(dataset, report, len(items), "cls")


# ----------------------------------------------------------------------------- examples hypothesis may not hit
def test_lone_surrogates_and_line_separators_are_handled(tmp_path):
    path = tmp_path / "ner.jsonl"
    lines = [
        json.dumps({"text": "hello \u2028 there", "entities": [{"start": 0, "end": 5, "label": "NAME"}]},
                   ensure_ascii=False).encode(),  # raw U+2028 inside a string: one line, not two
        json.dumps({"text": "bad \ud800 text", "entities": []}).encode(),  # valid JSON, not storable as UTF-8
    ]  # fmt: skip
    path.write_bytes(b"\n".join(lines) + b"\n")
    dataset, report = load_ner(path)
    assert (report.read, report.kept, report.rejected) == (2, 1, 1)
    assert report.reasons == {"invalid_unicode": 1}
    assert dataset[0]["entities"] == [{"start": 0, "end": 5, "label": "NAME"}]


def bad_ner_file(tmp_path):
    good = json.dumps({"text": "my child is 12", "entities": []})
    path = tmp_path / "ner.jsonl"
    path.write_bytes(
        b"\n".join([
            good.encode(),
            b'{"text": "unterminated',  # line 2
            good.encode(),
            b"\xff\xfe not utf-8",  # line 4
            b"",
            b'{"text": "x", "entities": [}',  # line 6
            good.encode(),
        ]) + b"\n"
    )  # fmt: skip
    return path


def test_validate_names_every_malformed_line_and_accounts_for_every_record(tmp_path, capsys):
    path = bad_ner_file(tmp_path)
    report_path = tmp_path / "report.json"
    assert validate_main(["--ner-file", str(path), "--report", str(report_path)]) == 2
    err = capsys.readouterr().err
    for line in (2, 4, 6):
        assert f"error: {path} line {line}: " in err
    assert f"{path} line 4: not UTF-8 at byte 0" in err
    assert "unterminated" not in err
    entry = json.loads(report_path.read_text())["files"][str(path)]
    assert (entry["read"], entry["kept"], entry["rejected"]) == (6, 3, 3)
    assert entry["reasons"] == {"malformed_json": 2, "not_utf8": 1}
    assert [m.split(":")[0] for m in entry["malformed_lines"]] == [f"{path} line {n}" for n in (2, 4, 6)]


def test_loading_for_training_refuses_the_file_naming_every_malformed_line(tmp_path):
    path = bad_ner_file(tmp_path)
    with pytest.raises(DataFileError) as error:
        load_ner(path)
    message = str(error.value)
    assert message.startswith(f"{path}: 3 malformed lines, expected one JSON object a line: line 2 (")
    assert "line 4 (not UTF-8 at byte 0)" in message and "line 6 (Expecting value at column" in message


def test_training_refuses_the_file_naming_every_malformed_line(tmp_path, capsys):
    from helpline_fusion.train.run import main as train_main

    from .conftest import build_tiny_tokenizer

    build_tiny_tokenizer(tmp_path / "encoder")
    path = bad_ner_file(tmp_path)
    code = train_main([
        "--encoder", str(tmp_path / "encoder"), "--tasks", "ner", "--ner_file", str(path),
        "--output_dir", str(tmp_path / "out"), "--report_to", "none", "--use_cpu", "true",
    ])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert f"{path}: 3 malformed lines" in err and "line 2 (" in err and "line 4 (" in err and "line 6 (" in err
    assert not (tmp_path / "out" / "model.safetensors").exists()


# ----------------------------------------------------------------------------- deep nesting and huge integers
def hostile_ner_file(tmp_path):
    good = json.dumps({"text": "my child is 12", "entities": []}).encode()
    path = tmp_path / "ner.jsonl"
    path.write_bytes(b"\n".join([
        good,
        DEEP,  # line 2: RecursionError in json
        b'{"text": "a call", "entities": [], "n": ' + HUGE + b"}",  # line 3: ValueError in json
        b'{"text": "a call", "entities": [], "x": ' + b"[" * 100 + b"]" * 100 + b"}",  # line 4: 101 levels
        good,
    ]) + b"\n")  # fmt: skip
    return path


def hostile_messages(path, lines=(2, 3, 4)):
    reasons = {2: "nested more than 100 levels deep", 3: "an integer longer than 4300 digits",
               4: "nested more than 100 levels deep"}  # fmt: skip
    return [f"{path} line {n}: malformed JSON ({reasons[n]}); expected one JSON object a line" for n in lines]


@pytest.mark.parametrize("labels_from_data", [False, True])
def test_deep_and_huge_lines_are_malformed_lines_named_by_number(tmp_path, labels_from_data):
    path = hostile_ner_file(tmp_path)
    dataset, report = load_ner(path, labels_from_data=labels_from_data, reject_malformed=True)
    assert (report.read, report.kept, report.rejected, dict(report.reasons)) == (5, 2, 3, {"malformed_json": 3})
    assert report.malformed_lines == hostile_messages(path)
    with pytest.raises(DataFileError) as error:  # for training, the file is refused naming each line
        load_ner(path, labels_from_data=labels_from_data)
    assert str(error.value) == (
        f"{path}: 3 malformed lines, expected one JSON object a line: line 2 (nested more than 100 levels deep); "
        "line 3 (an integer longer than 4300 digits); line 4 (nested more than 100 levels deep); "
        "`helpline-fusion validate` reports every record"
    )


def test_a_qa_labels_string_of_unreadable_json_rejects_its_record(tmp_path):
    path = tmp_path / "qa.json"
    labels = ["[" * 10_000 + "]" * 10_000, '{"a": [' + HUGE.decode() + "]}"]
    path.write_text(json.dumps([{"text": "a call", "labels": value, "sample_id": f"s{i}"} for i, value in
                                enumerate(labels)]), encoding="utf-8")  # fmt: skip
    _, report = load_qa(path, labels_from_data=True)
    assert (report.read, report.rejected, dict(report.reasons)) == (2, 2, {"labels_unparseable": 2})


def test_a_json_array_too_deep_or_with_a_huge_integer_is_unreadable_in_one_line(tmp_path, capsys):
    path = tmp_path / "cases.json"
    for body, reason in ((DEEP, "nested more than 100 levels deep"), (HUGE, "an integer longer than 4300 digits")):
        path.write_bytes(b'[{"narrative": "a call", "category": "x"}, ' + body + b"]")
        with pytest.raises(DataFileError) as error:
            load_cases(path, labels_from_data=True)
        assert str(error.value) == f"{path}: malformed JSON ({reason}); expected a JSON array of records"
        # validate: unreadable (exit 2), no longer misfiled as a label-schema error (exit 1) or a traceback
        assert validate_main(["--cases-file", str(path)]) == 2
        assert capsys.readouterr().err == (
            f"error: cannot read cls file '{path}': {path}: malformed JSON ({reason}); expected a JSON array of records\n"
        )


def test_a_record_of_an_array_nested_too_deep_is_rejected_and_the_others_kept(tmp_path):
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([
        {"narrative": "a call", "category": "Bullying", "priority": "1", "uniqueid": "c1"},
        {"narrative": "a call", "category": "Bullying", "victim": nested(150), "uniqueid": "c2"},
    ]), encoding="utf-8")  # fmt: skip
    dataset, report = load_cases(path, labels_from_data=True)
    assert (report.read, report.rejected, report.reasons["nested_too_deep"]) == (2, 1, 1)
    assert dataset["id"] == ["c1"]


def test_validate_names_each_deep_or_huge_line_and_exits_2(tmp_path, capsys):
    path = hostile_ner_file(tmp_path)
    report_path = tmp_path / "report.json"
    assert validate_main(["--ner-file", str(path), "--report", str(report_path)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {message}" for message in hostile_messages(path)] + [
        f"error: ner file '{path}' has 3 malformed line(s); training refuses it until they are fixed"
    ]
    entry = json.loads(report_path.read_text())["files"][str(path)]
    assert (entry["read"], entry["kept"], entry["rejected"], entry["reasons"]) == (5, 2, 3, {"malformed_json": 3})


def predict_messages(err: str) -> list[str]:
    """predict's own lines on stderr, less the line saying which precision `auto` chose (it differs by CPU)."""
    return [line for line in err.splitlines()
            if line.startswith("helpline-fusion predict:") and " precision auto -> " not in line]


def test_predict_rejects_deep_or_huge_lines_and_analyses_the_others(model_dir, tmp_path, capsys):
    from helpline_fusion.train.predict_cli import main as predict_main

    source = tmp_path / "calls.jsonl"
    source.write_bytes(b"\n".join([
        b'{"id": "a", "text": "my child is 12"}',
        DEEP,
        b'{"id": "c", "text": "a call", "n": ' + HUGE + b"}",
        b'{"id": "d", "text": "a call", "x": ' + b"[" * 100 + b"]" * 100 + b"}",
        b'{"id": "e", "text": "help"}',
    ]) + b"\n")  # fmt: skip
    out = tmp_path / "out.jsonl"
    assert predict_main(["--model", str(model_dir), str(source), "--output", str(out)]) == 0
    deep, huge = "invalid JSON (nested more than 100 levels deep)", "invalid JSON (an integer longer than 4300 digits)"
    assert predict_messages(capsys.readouterr().err) == [
        f"helpline-fusion predict: skipped {source} line 2: {deep}",
        f"helpline-fusion predict: skipped {source} line 3: {huge}",
        f"helpline-fusion predict: skipped {source} line 4: {deep}",
        f"helpline-fusion predict: 2 transcripts analysed, 3 records rejected (invalid_json 3); wrote 5 lines to {out}",
    ]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(row["id"], row.get("error")) for row in rows] == [
        ("a", None), (2, f"{source} line 2: {deep}"), (3, f"{source} line 3: {huge}"),
        (4, f"{source} line 4: {deep}"), ("e", None),
    ]  # fmt: skip
    # --strict stops at the first, in one line, before any prediction
    assert predict_main(["--model", str(model_dir), str(source), "--output", str(tmp_path / "s.jsonl"), "--strict"]) == 2
    assert predict_messages(capsys.readouterr().err) == [
        f"helpline-fusion predict: {source} line 2: {deep} (--strict: stopping, nothing written)"
    ]
    assert not (tmp_path / "s.jsonl").exists()


def test_predict_on_a_json_array_too_deep_or_with_a_huge_integer(model_dir, tmp_path, capsys):
    from helpline_fusion.train.predict_cli import main as predict_main

    source, out = tmp_path / "cases.json", tmp_path / "out.jsonl"
    for body, reason in ((DEEP, "nested more than 100 levels deep"), (HUGE, "an integer longer than 4300 digits")):
        source.write_bytes(b'[{"text": "a call"}, ' + body + b"]")
        assert predict_main(["--model", str(model_dir), str(source), "--output", str(out)]) == 2
        assert capsys.readouterr().err == (
            f"helpline-fusion predict: {source}: the file starts with '[' but is not a readable JSON array ({reason})\n"
        )
        assert not out.exists()
    source.write_text(json.dumps([{"id": "a", "text": "a call"}, {"id": "b", "text": "x", "v": nested(150)}]))
    assert predict_main(["--model", str(model_dir), str(source), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows[1] == {"id": 1, "index": 1, "error": f"{source} record 1: nested more than 100 levels deep"}
    assert "case" in rows[0]
