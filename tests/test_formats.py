"""Data from wherever the user has it (issue 31.1): CSV, Parquet and `datasets.Dataset` inputs for every task give the
records, repairs and report the JSON files give, through the loaders, `validate` and `train`; nested fields in a CSV
cell are JSON strings with clear errors; a column mapping naming a column the data lacks is refused with the closest
name; a split the data already has is used, not re-split."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import Dataset, DatasetDict

from helpline_fusion.data.loaders import as_records, load_all_splits, load_cases, load_ner, load_qa, parse_columns
from helpline_fusion.data.splits import use_or_split
from helpline_fusion.data.validate_cli import main as validate_main
from helpline_fusion.data.validation import DataFileError

LOADERS = {"ner": load_ner, "cls": load_cases, "qa": load_qa}
FILES = {"ner": "ner_file", "cls": "cases_file", "qa": "qa_file"}
FLAGS = {"ner": "--ner-file", "cls": "--cases-file", "qa": "--qa-file"}
NATIVE = {"ner": {"entities"}}  # kept nested in Parquet and datasets (a list of structs); the rest as JSON strings


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> dict[str, list[dict]]:
    from helpline_fusion.data.synthetic import ensure_generated

    files = ensure_generated(tmp_path_factory.mktemp("synthetic"), seed=13, n_ner=30, n_cases=30, n_qa=30,
                             n_qa_heldout=10)  # fmt: skip
    ner = [json.loads(line) for line in files["ner_file"].read_text().splitlines() if line.strip()]
    records = {"ner": ner, "cls": json.loads(files["cases_file"].read_text()), "qa": json.loads(files["qa_file"].read_text())}
    # Quirks every format must repair or reject alike: a span with whitespace, a span past the end, no text.
    text = records["ner"][0]["text"]
    records["ner"][0]["entities"].append({"start": len(text) - 1, "end": len(text) + 5, "label": "NAME"})
    records["ner"].append({"id": "no-text", "text": None, "entities": []})
    records["cls"].append({**records["cls"][0], "uniqueid": "no-text", "narrative": None})
    records["cls"][1].update(priority=" 3", intervention="")  # stripped; missing (masked)
    records["qa"][1]["labels"] = {**records["qa"][1]["labels"], "listening": [1, 0]}  # padded with the mask
    records["qa"].append({**records["qa"][0], "sample_id": "no-labels", "labels": None})
    return records


def _table_rows(task: str, records: list[dict]) -> list[dict]:
    """Records as a table holds them: nested values (but `NATIVE`) as JSON strings, the encoding of a CSV cell."""
    return [
        {key: json.dumps(value) if isinstance(value, (dict, list)) and key not in NATIVE.get(task, ()) else value
         for key, value in record.items()}
        for record in records
    ]  # fmt: skip


def write(task: str, records: list[dict], path: Path) -> Path:
    if path.suffix == ".csv":
        import pandas as pd

        rows = [{k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in r.items()} for r in records]
        pd.DataFrame(rows).to_csv(path, index=False)
    elif path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(_table_rows(task, records)), path)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
    else:
        path.write_text(json.dumps(records))
    return path


def _comparable(dataset: Dataset) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "metadata"} for row in dataset.to_list()]


def _counts(report) -> dict:
    return {k: v for k, v in report.to_dict().items() if k in ("read", "kept", "repaired", "rejected", "reasons")}


@pytest.mark.parametrize("task", ["ner", "cls", "qa"])
def test_csv_parquet_and_a_dataset_give_the_records_and_report_of_the_json_file(task, synthetic, tmp_path):
    records = synthetic[task]
    expected, expected_report = LOADERS[task](write(task, records, tmp_path / f"{task}.json"))
    assert expected_report.rejected == 1 and expected_report.repaired >= 1  # the quirks are in the data
    sources = {
        "csv": write(task, records, tmp_path / f"{task}.csv"),
        "parquet": write(task, records, tmp_path / f"{task}.parquet"),
        "dataset": Dataset.from_list(_table_rows(task, records)),
    }
    for kind, source in sources.items():
        dataset, report = LOADERS[task](source) if kind != "dataset" else as_records(source, task)
        assert _comparable(dataset) == _comparable(expected), kind
        assert _counts(report) == _counts(expected_report), kind
    # `validate` reports the table files as it reports the JSON file (and exits 0: every file read).
    out = tmp_path / "report.json"
    argv = [FLAGS[task], str(sources["csv"]), "--report", str(out)]
    assert validate_main(argv) == 0
    assert _counts_of(out, str(sources["csv"])) == _counts(expected_report)
    assert validate_main([FLAGS[task], str(sources["parquet"]), "--report", str(out)]) == 0
    assert _counts_of(out, str(sources["parquet"])) == _counts(expected_report)


def _counts_of(report_path: Path, name: str) -> dict:
    entry = json.loads(report_path.read_text())["files"][name]
    return {k: v for k, v in entry.items() if k in ("read", "kept", "repaired", "rejected", "reasons")}


def test_a_dataset_dict_and_a_dataframe_through_the_python_api(synthetic):
    import pandas as pd

    rows = _table_rows("cls", synthetic["cls"][:10])
    splits = DatasetDict({"train": Dataset.from_list(rows[:6]), "validation": Dataset.from_list(rows[6:])})
    dataset, report = as_records(splits, "cases", split="validation")
    assert len(dataset) == 4 and report.path == "<cls dataset> [validation]" and report.read == 4
    frame = pd.DataFrame(rows).rename(columns={"narrative": "transcript"})
    dataset, report = as_records(frame, "cls", columns="transcript")
    assert dataset["text"] == [row["narrative"] for row in rows] and report.balanced


def test_nested_csv_cells_are_json_strings_with_clear_errors(tmp_path):
    path = tmp_path / "ner.csv"
    path.write_text(
        "text,entities\n"
        'Amina called,"[{""start"": 0, ""end"": 5, ""label"": ""NAME""}]"\n'
        'Amina called again,"[{start: 0}]"\n'
        "Amina once more,NAME 0 5\n"
    )
    dataset, report = load_ner(path)
    assert dataset[0]["entities"] == [{"start": 0, "end": 5, "label": "NAME"}]
    assert report.reasons == {"entities_unparseable": 1, "entities_not_a_list": 1}
    broken = tmp_path / "cases.csv"
    broken.write_text('narrative,priority\n"unclosed,1\n')
    with pytest.raises(DataFileError, match=re.escape(f"{broken}: malformed CSV (")):
        load_cases(broken)
    qa = tmp_path / "qa.csv"
    qa.write_text('text,labels\nCounsellor: hello,"{""opening"": [1]"\n')
    _, report = load_qa(qa)
    assert report.reasons == {"labels_unparseable": 1}


def test_a_wrong_column_is_refused_naming_the_field_what_was_found_and_the_closest(tmp_path, capsys):
    path = tmp_path / "cases.csv"
    path.write_text("transcript,category,priority\nA child needs help.,Custody,2\n")
    with pytest.raises(DataFileError) as error:
        load_cases(path, columns="transcrpt")
    message = str(error.value)
    assert message == (
        f"{path}: no column 'transcrpt' (mapped to the cls field 'narrative'); columns found: "
        "['transcript', 'category', 'priority']; closest: 'transcript'"
    )
    with pytest.raises(DataFileError, match=re.escape("no column 'narrative' (the case narrative) for cls records; "
                                                      "columns found: ['transcript', 'category', 'priority']")):
        load_cases(path)  # fmt: skip
    with pytest.raises(DataFileError, match="'narative', which is not a field of cls records.*closest: 'narrative'"):
        load_cases(path, columns={"narative": "transcript"})
    dataset, _ = load_cases(path, columns="narrative=transcript")
    assert dataset["text"] == ["A child needs help."]
    assert validate_main(["--cases-file", str(path), "--cases-columns", "transcrpt"]) == 2
    assert "closest: 'transcript'" in capsys.readouterr().err
    assert validate_main(["--cases-file", str(path), "--text-column", "transcript"]) == 0
    assert parse_columns('{"text": "body"}', "qa") == {"text": "body"}
    with pytest.raises(ValueError, match="expected field=column pairs"):
        parse_columns("text=", "ner")


def test_a_csv_without_a_header_line_is_refused_without_quoting_its_first_record(tmp_path, capsys):
    """pandas makes a headerless CSV's first record the column names: the refusal names them by position and
    length, never by their text (a transcript), and says what is likely wrong."""
    canary = "Caller: my daughter Zawadiqx was beaten"
    path = tmp_path / "cases.csv"
    path.write_text(f"{canary},Custody,2\nA child needs help.,Custody,2\n")
    for columns in (None, "transcript"):
        with pytest.raises(DataFileError) as error:
            load_cases(path, columns=columns)
        message = str(error.value)
        assert "Zawadiqx" not in message and "<column 1: 39 characters>" in message, message
        assert "'Custody'" in message and "does the file have a header line?" in message
    assert validate_main(["--cases-file", str(path)]) == 2
    assert "Zawadiqx" not in capsys.readouterr().err


def test_a_split_the_data_has_is_used_not_re_split(synthetic):
    rows = _table_rows("cls", synthetic["cls"][:30])
    given = DatasetDict({
        "train": Dataset.from_list(rows[:20]), "dev": Dataset.from_list(rows[20:25]), "test": Dataset.from_list(rows[25:]),
    })  # fmt: skip
    loaded, report = load_all_splits(cases=given)
    parts = loaded["cls"]
    assert {name: len(dataset) for name, dataset in parts.items()} == {"train": 20, "validation": 5, "test": 5}
    assert sorted(report.files) == ["<dataset> [dev]", "<dataset> [test]", "<dataset> [train]"]
    splits = use_or_split(parts, validation_size=0.5, seed=0, test_size=0.2)
    assert splits["validation"]["id"] == parts["validation"]["id"] and splits["train"]["id"] == parts["train"]["id"]
    assert splits["test"]["id"] == parts["test"]["id"]
    # Only a test split given: validation comes from the training records, the test split stays as it is.
    only_test = use_or_split({"train": parts["train"], "test": parts["test"]}, validation_size=0.25, seed=0)
    assert len(only_test["validation"]) + len(only_test["train"]) == 20 and only_test["test"]["id"] == parts["test"]["id"]
    assert not set(only_test["validation"]["id"]) & set(only_test["train"]["id"])
    # None given: the seeded grouped split, as before.
    assert sorted(use_or_split({"train": parts["train"]}, validation_size=0.25, seed=0)) == ["train", "validation"]


def test_train_reads_csv_and_parquet_files_with_a_column_mapping(synthetic, tmp_path):
    from transformers import BertModel

    from helpline_fusion.train.settings import parse_settings
    from helpline_fusion.train.training import train

    from .conftest import build_tiny_tokenizer, tiny_bert_config

    encoder = tmp_path / "encoder"
    BertModel(tiny_bert_config()).save_pretrained(encoder)
    build_tiny_tokenizer(encoder)
    cases = [{("transcript" if k == "narrative" else k): v for k, v in r.items()} for r in synthetic["cls"]]
    files = {
        "ner": write("ner", synthetic["ner"], tmp_path / "ner.csv"),
        "cls": write("cls", cases, tmp_path / "cases.parquet"),
        "qa": write("qa", synthetic["qa"], tmp_path / "qa.csv"),
    }
    output = tmp_path / "model"
    argv = [
        "--encoder", str(encoder), "--ner_file", str(files["ner"]), "--cases_file", str(files["cls"]),
        "--qa_file", str(files["qa"]), "--cases_columns", "transcript", "--output_dir", str(output),
        "--max_steps", "1", "--eval_strategy", "no", "--save_strategy", "no", "--window_length", "64",
        "--window_stride", "16", "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "32",
        "--report_to", "none", "--use_cpu", "true", "--dataloader_num_workers", "0", "--disable_tqdm", "true",
        "--calibrate", "false", "--labels_from_data", "true",
    ]  # fmt: skip
    train(*parse_settings(argv))
    report = json.loads((output / "data_validation_report.json").read_text())["files"]
    for task, path in files.items():
        assert report[str(path)]["read"] == len(synthetic[task]) and report[str(path)]["rejected"] == 1, task
    assert (output / "model.safetensors").is_file()
