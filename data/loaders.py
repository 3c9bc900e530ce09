"""Loaders of the three helpline formats into `datasets.Dataset`, with a report that accounts for every record.

Formats (see `../shared/data/README.md` and the label reference):

- **NER**: JSON lines, one `{"text", "entities": [{"start", "end", "label"}]}` a line (optional `"id"`).
- **Cases**: a JSON array of case records: `narrative` (the input), `category` (the sub-category),
  `intervention`, `priority` ("1" critical, "2" urgent, "3" routine), `uniqueid`; every other field is kept,
  as a JSON string, in a `metadata` column (`victim`/`reporter`/`perpetrator` are objects or "", which Arrow
  cannot hold in one column).
- **QA**: a JSON array of `{"text", "labels", "sample_id", "scenario", "quality_level"}`; `labels` is a dict
  (or a JSON string of one) of quality head -> list of 0/1.

A source is a local file (a `Path` is always local; a string is local when it exists or ends in `.json`, `.jsonl`,
`.csv`, `.tsv` or `.parquet`), a Hub dataset id (read with `datasets.load_dataset(id, name=config,
revision=revision)`), a `DatasetDict`, a `Dataset` or a list of record dicts with the same fields. Files holding a
JSON array and JSON-lines files are both accepted for every task (the first character decides); CSV/TSV files are
read by pandas with every cell a string (an empty cell is missing) and Parquet files by pyarrow with their own
types. A nested field in a CSV cell is a JSON string: NER `entities` (`[{"start": 0, "end": 5, "label": "NAME"}]`)
and QA `labels` (`{"opening": [1], ...}`); Parquet and datasets may hold them nested.

Fields named otherwise are mapped with `columns` (`{"narrative": "transcript"}`, or a bare name for the text
field; `parse_columns`), checked at the boundary: a mapped column the data lacks, or a table without a field the
task needs, is one `DataFileError` naming the field, the columns found and the closest name. A Hub dataset or
`DatasetDict` keeps its own validation (`VALIDATION_SPLIT_NAMES`) and test splits (`load_task_splits`;
`splits.use_or_split` does not re-split them); `as_records` is the Python API's entry point for any of these.

Every loader returns `(dataset, FileReport)`; the repair rules are in `validation.py` and `labels.py`.
Errors name the file and line (JSON lines) or record index (arrays, datasets), never the transcript.

Output columns:

- NER: `id`, `text`, `entities` (repaired, sorted by start), `text_group`.
- Cases: `id`, `text`, `main_category`, `sub_category`, `intervention` (the primary one, the target),
  `interventions` (the full normalised list), `priority`, `metadata`, `text_group`; a missing target is `None`.
- QA: `id`, `text`, `scenario`, `quality_level`, one `qa_<head>` list of 0/1/-100 per quality head,
  `metadata`, `text_group`.

`text_group` is the index of the first record whose whitespace-normalised text is the same; a record with an
earlier twin is flagged `duplicate_text` in the report (kept, and grouped by `splits.py`).
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import re
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict, Features, Value

from ..modeling_attention_fusion.labels_attention_fusion import TASK_INFO
from .labels import (
    CASE_HEAD_NAMES,
    QA_PREFIX,
    LabelMaps,
    check_labels_in_schema,
    main_category_of,
    normalise_interventions,
)
from .validation import (
    MAX_JSON_DEPTH,
    DataFileError,
    FileReport,
    RecordRejected,
    UnreadableJSON,
    ValidationReport,
    check_text,
    json_nesting_exceeds,
    load_json,
    parse_qa_labels,
    repair_ner_record,
    repair_qa_labels,
)

logger = logging.getLogger(__name__)

Source = str | PathLike | Dataset | DatasetDict | list
MAX_REJECTION_WARNINGS = 10
"""Rejected records logged one by one per file; the rest are counted in the report (and logged at DEBUG)."""
_HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")
_CASE_FIELDS = {"narrative", "category", "sub_category", "intervention", "priority", "uniqueid"}
_QA_FIELDS = {"text", "labels", "sample_id", "scenario", "quality_level"}


# --------------------------------------------------------------------------- #
# Reading sources                                                             #
# --------------------------------------------------------------------------- #
class MalformedLine:
    """A JSON-lines line that is not one JSON object (bad JSON, JSON nested deeper than `MAX_JSON_DEPTH`, an integer
    too long to read, or not UTF-8): rejected with `reason`, never guessed at.

    `message` names the file and line and what was wrong, never the line's content.
    """

    def __init__(self, reason: str, message: str, detail: str) -> None:
        self.reason, self.message, self.detail = reason, message, detail


def _read_json_file(path: Path, shown: str) -> list[tuple[str, Any]]:
    """`(where, record)` pairs of a JSON-array or JSON-lines file; a bad JSON line is a `MalformedLine` record.

    JSON lines are split on `\\n` / `\\r\\n` only (a transcript may hold U+2028, which `str.splitlines` would cut)
    and decoded one by one, so one bad line does not hide the others.
    """
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{shown}: no such file") from None
    except IsADirectoryError:
        raise DataFileError(f"{shown}: is a directory, expected a JSON or JSON-lines file") from None
    content = content.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark
    if content.lstrip().startswith(b"["):
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataFileError(
                f"{shown}: not UTF-8 text (byte {exc.start}); expected a JSON or JSON-lines file"
            ) from None
        try:
            records = load_json(text, limit=None)  # each record's depth is checked by `_load`, one by one
        except json.JSONDecodeError as exc:
            raise DataFileError(
                f"{shown}: malformed JSON at line {exc.lineno}, column {exc.colno} ({exc.msg}); "
                "expected a JSON array of records"
            ) from None
        except UnreadableJSON as exc:
            raise DataFileError(f"{shown}: malformed JSON ({exc}); expected a JSON array of records") from None
        return [(f"{shown} record {index}", record) for index, record in enumerate(records)]
    rows: list[tuple[str, Any]] = []
    for number, raw in enumerate(content.split(b"\n"), start=1):
        raw = raw.removesuffix(b"\r")
        if not raw.strip():
            continue
        where = f"{shown} line {number}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            detail = f"not UTF-8 at byte {exc.start}"
            rows.append((where, MalformedLine("not_utf8", f"{where}: {detail}; expected UTF-8 text", detail)))
            continue
        try:
            rows.append((where, load_json(line)))
        except (json.JSONDecodeError, UnreadableJSON) as exc:
            if number == 1 and isinstance(exc, json.JSONDecodeError) and _is_single_object(content):
                raise DataFileError(
                    f"{shown}: holds a single JSON object; expected a JSON array of records or one JSON object a line"
                ) from None
            detail = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
            message = f"{where}: malformed JSON ({detail}); expected one JSON object a line"
            rows.append((where, MalformedLine("malformed_json", message, detail)))
    return rows


def malformed_lines_error(shown: str, malformed: list[tuple[str, MalformedLine]]) -> DataFileError:
    """One error naming every malformed line of a file (a file with any is refused as a whole for training)."""
    if len(malformed) == 1:
        return DataFileError(malformed[0][1].message)
    lines = "; ".join(f"{where.removeprefix(shown).strip()} ({bad.detail})" for where, bad in malformed)
    return DataFileError(
        f"{shown}: {len(malformed)} malformed lines, expected one JSON object a line: {lines}; "
        "`helpline-fusion validate` reports every record"
    )


def _is_single_object(content: bytes) -> bool:
    try:
        return isinstance(json.loads(content), dict)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, too deep, an integer too long
        return False


def _pick_split(dataset_dict: DatasetDict, split: str, shown: str) -> Dataset:
    if split in dataset_dict:
        return dataset_dict[split]
    if len(dataset_dict) == 1:
        return next(iter(dataset_dict.values()))
    raise DataFileError(f"{shown}: no split {split!r}; available splits: {sorted(dataset_dict)}")


def _clean_cell(value: Any) -> Any:
    """A table cell as the JSON formats would give it: an empty CSV cell or a NaN (pandas writes missing values of a
    numeric column as NaN) is `None`, in lists and dicts too."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list):
        return [_clean_cell(item) for item in value]
    if isinstance(value, dict):
        return {key: _clean_cell(item) for key, item in value.items()}
    return None if value == "" else value


def _read_table(path: Path, shown: str, kind: str) -> list[tuple[str, Any]]:
    """`(where, record)` pairs of a CSV/TSV (every cell a string, read by pandas) or Parquet file (its own types, read
    by pyarrow); `where` is `"cases.csv row 3"`, rows counted from 1 after the header line."""
    if not path.exists():
        raise FileNotFoundError(f"{shown}: no such file")
    if path.is_dir():
        raise DataFileError(f"{shown}: is a directory, expected a {kind} file")
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(path).to_pylist()
        except (pa.ArrowException, OSError) as exc:
            raise DataFileError(f"{shown}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None
    else:
        import pandas as pd

        try:
            frame = pd.read_csv(
                path, sep="\t" if kind == "tsv" else ",", dtype=str, keep_default_na=False, encoding="utf-8-sig"
            )
        except pd.errors.EmptyDataError:
            return []
        except UnicodeDecodeError as exc:
            raise DataFileError(f"{shown}: not UTF-8 text (byte {exc.start}); expected a {kind.upper()} file") from None
        except pd.errors.ParserError as exc:  # "Expected 3 fields in line 5, saw 4": a line number, never content
            raise DataFileError(
                f"{shown}: malformed {kind.upper()} ({str(exc).strip()}); expected a header line and one record a row "
                "(quote a cell holding the separator or a line break)"
            ) from None
        rows = frame.to_dict("records")
    return [(f"{shown} row {number}", _clean_cell(row)) for number, row in enumerate(rows, start=1)]


TABLE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
"""Local table files by suffix; every other local file is read as a JSON array or JSON lines."""
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
VALIDATION_SPLIT_NAMES = ("validation", "valid", "dev", "val")
"""A split of a Hub dataset or `DatasetDict` by one of these names is its validation split (used, not re-split)."""
TEST_SPLIT_NAMES = ("test",)


def is_local_source(source: Any) -> bool:
    """Whether a data source given as a string means a local file rather than a Hub dataset id."""
    if isinstance(source, PathLike):
        return True
    if not isinstance(source, str):
        return False
    path = Path(source)
    suffixes = (*JSON_SUFFIXES, *TABLE_FORMATS)
    return path.exists() or path.suffix.lower() in suffixes or not _HUB_ID.match(source)


def hub_source_name(source: str, config: str | None = None, revision: str | None = None) -> str:
    """How reports name a Hub dataset: `org/data`, with `:config` and `@revision` when given."""
    return f"{source}{f':{config}' if config else ''}{f'@{revision}' if revision else ''}"


def open_source(
    source: Source, name: str | None = None, config: str | None = None, revision: str | None = None
) -> tuple[str, Dataset | DatasetDict | Path]:
    """`(report name, what to read)`: a local file's `Path`, an in-memory dataset, or a Hub dataset loaded with
    `datasets.load_dataset(source, name=config, revision=revision)` (every split; `config` and `revision` apply to
    Hub ids only).

    Raises:
        DataFileError: loading the Hub dataset failed (naming the id and why), or `config`/`revision` were given for a
            local file.
    """
    if isinstance(source, (Dataset, DatasetDict, list)):
        return name or "<dataset>", source
    if not isinstance(source, (str, PathLike)):
        raise TypeError(
            f"expected a file path, a Hub dataset id, a Dataset, a DatasetDict or a list of records; got "
            f"{type(source).__name__}"
        )
    if is_local_source(source):
        if config or revision:
            raise DataFileError(
                f"{source}: a local file takes no dataset config or revision (those are for a Hub dataset id)"
            )
        return name or str(source), Path(source)
    import datasets

    shown = name or hub_source_name(source, config, revision)
    try:
        loaded = datasets.load_dataset(source, name=config, revision=revision)
    except Exception as exc:  # the Hub client raises many types; the message is what matters
        raise DataFileError(
            f"{shown}: not a local file, and loading it as a Hub dataset failed ({type(exc).__name__}: {exc})"
        ) from exc
    return shown, loaded


def _rows(dataset: Dataset, shown: str) -> list[tuple[str, Any]]:
    return [(f"{shown} row {index}", _clean_cell(row)) for index, row in enumerate(dataset.to_list())]


def read_records(
    source: Source,
    split: str = "train",
    name: str | None = None,
    config: str | None = None,
    revision: str | None = None,
) -> tuple[str, list[tuple[str, Any]]]:
    """Read a source into `(report name, [(where, record), ...])`.

    `where` names the record for messages (`"ner.jsonl line 12"`, `"cases.json record 41"`, `"cases.csv row 3"`,
    `"<dataset> row 3"`). Local files by suffix: `.csv`/`.tsv` and `.parquet` are tables (a nested field such as
    NER `entities` or QA `labels` is a JSON string in a CSV cell); anything else is a JSON array or JSON lines.

    Raises:
        FileNotFoundError: a local file does not exist.
        DataFileError: the source cannot be read at all (not JSON, wrong container, unknown split, Hub failure).
    """
    shown, opened = open_source(source, name=name, config=config, revision=revision)
    if isinstance(opened, DatasetDict):
        dataset = _pick_split(opened, split, shown)
        if not isinstance(source, (Dataset, DatasetDict)) or len(opened) > 1:
            shown = f"{shown} [{_split_name(opened, dataset, split)}]"
        return shown, _rows(dataset, shown)
    if isinstance(opened, Dataset):
        return shown, _rows(opened, shown)
    if isinstance(opened, list):  # record dicts in memory (the Python API)
        return shown, [(f"{shown} row {index}", record) for index, record in enumerate(opened)]
    kind = TABLE_FORMATS.get(opened.suffix.lower())
    if kind:
        return shown, _read_table(opened, shown, kind)
    return shown, _read_json_file(opened, shown)


def _split_name(dataset_dict: DatasetDict, dataset: Dataset, asked: str) -> str:
    return next((key for key, value in dataset_dict.items() if value is dataset), asked)


# --------------------------------------------------------------------------- #
# Shared helpers                                                              #
# --------------------------------------------------------------------------- #
def _record_id(record: Any, key: str, index: int) -> tuple[str, bool]:
    """The record's id (given, or its index) and whether it was given."""
    value = record.get(key) if isinstance(record, dict) else None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip(), True
    return str(index), False


def normalise_text(text: str) -> str:
    """The grouping key of a transcript: whitespace runs collapsed, ends stripped."""
    return " ".join(text.split())


def _add_text_groups(rows: list[dict[str, Any]], report: FileReport) -> None:
    first: dict[str, int] = {}
    for index, row in enumerate(rows):
        row["text_group"] = first.setdefault(normalise_text(row["text"]), index)
    report.flag("duplicate_text", sum(1 for index, row in enumerate(rows) if row["text_group"] != index))


def _check_encodable(value: Any, where: str) -> None:
    """Reject a record holding a string that is not valid Unicode (a lone surrogate such as `"\\ud800"` is valid
    JSON but cannot be stored as UTF-8), rather than fail deep inside Arrow."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise RecordRejected(
                "invalid_unicode", f"{where}: holds a string that is not valid Unicode (at character {exc.start})"
            ) from None
    elif isinstance(value, dict):
        for item in value.values():
            _check_encodable(item, where)
    elif isinstance(value, list):
        for item in value:
            _check_encodable(item, where)


def _metadata(record: dict[str, Any], skip: set[str]) -> str:
    extra = {key: value for key, value in record.items() if key not in skip}
    return json.dumps(extra, ensure_ascii=False, sort_keys=True, default=str)


TEXT_FIELDS = {"ner": "text", "cls": "narrative", "qa": "text"}
"""The input text's field of each task's records (what a bare column mapping, `--cases_columns transcript`, maps)."""
TASK_FIELDS: dict[str, dict[str, str]] = {
    "ner": {"text": "the transcript", "entities": "the entity spans", "id": "the record id"},
    "cls": {
        "narrative": "the case narrative", "category": "the sub-category", "sub_category": "the sub-category",
        "intervention": "the intervention(s)", "priority": "the priority", "uniqueid": "the case id",
    },
    "qa": {
        "text": "the transcript", "labels": "the quality labels", "sample_id": "the record id",
        "scenario": "the scenario", "quality_level": "the quality level",
    },
}  # fmt: skip
COLUMN_SETTINGS = {"ner": "ner_columns", "cls": "cases_columns", "qa": "qa_columns"}
REQUIRED_FIELDS = {"ner": ("text", "entities"), "cls": ("narrative",), "qa": ("text", "labels")}
ColumnMap = dict[str, str] | str | None


def parse_columns(value: ColumnMap, task: str, setting: str = "columns") -> dict[str, str]:
    """A column mapping as given (a dict field -> column, `"field=column,field=column"`, a JSON object, or a bare
    column name for the text field) as `{field: column}`.

    Example:
        >>> parse_columns("transcript", "cls")
        {'narrative': 'transcript'}
        >>> parse_columns("text=transcript,sample_id=call_id", "qa")
        {'text': 'transcript', 'sample_id': 'call_id'}
    """
    if value is None or value == "" or value == {}:
        return {}
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{setting}: not a JSON object ({exc.msg}); expected field=column pairs") from None
        elif "=" not in text:
            value = {TEXT_FIELDS[task]: text}
        else:
            pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
            if any(len(pair) != 2 or not pair[0].strip() or not pair[1].strip() for pair in pairs):
                raise ValueError(f"{setting}: expected field=column pairs separated by commas, got {text!r}")
            value = {field.strip(): column.strip() for field, column in pairs}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"{setting}: expected a mapping of field names to column names, got {value!r}")
    return dict(value)


_COLUMN_NAME = re.compile(r"[\w.:/-]{1,40}")  # no spaces: a header cell with them may be a sentence


def _shown_column(name: Any, index: int) -> str:
    """A column name as an error may show it: a name that looks like an identifier, else only its position and
    length (a CSV without a header line makes its first record's cells the column names: transcript text)."""
    text = str(name)
    return repr(text) if _COLUMN_NAME.fullmatch(text) else f"<column {index + 1}: {len(text)} characters>"


def _shown_columns(names: Any) -> str:
    shown = [_shown_column(name, index) for index, name in enumerate(names)]
    hint = "" if all(s.startswith("'") for s in shown) else " (the first line looks like data: does the file have a header line?)"
    return "[" + ", ".join(shown) + "]" + hint


def _closest(name: str, names: Any) -> str:
    candidates = sorted(str(item) for item in names if _COLUMN_NAME.fullmatch(str(item)))
    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
    return f"; closest: {match[0]!r}" if match else "; no column has a close name"


def _apply_columns(
    records: list[tuple[str, Any]], task: str, columns: dict[str, str], fields: set[str], shown: str, uniform: bool
) -> list[tuple[str, Any]]:
    """Rename each record's columns to the task's field names, refusing at the boundary (one `DataFileError` naming
    the expected field, the columns found and the closest name) a mapping that names a column the data does not
    have, or, for sources with one set of columns (tables, datasets), data without a field the task needs."""
    found: dict[str, None] = {}
    for _, record in records:
        if isinstance(record, dict):
            found.update(dict.fromkeys(record))
    for field_name, column in columns.items():
        if field_name not in fields:
            raise DataFileError(
                f"{shown}: the column mapping names {field_name!r}, which is not a field of {task} records; "
                f"expected one of {sorted(fields)}{_closest(field_name, fields)}"
            )
        if records and column not in found:
            raise DataFileError(
                f"{shown}: no column {column!r} (mapped to the {task} field {field_name!r}); columns found: "
                f"{_shown_columns(found)}{_closest(column, found)}"
            )
    if columns:
        renamed = []
        for where, record in records:
            if isinstance(record, dict):
                moved = {field_name: record[column] for field_name, column in columns.items() if column in record}
                record = {k: v for k, v in record.items() if k not in columns.values() and k not in moved} | moved
            renamed.append((where, record))
        records = renamed
        found = {}
        for _, record in records:
            if isinstance(record, dict):
                found.update(dict.fromkeys(record))
    if uniform and records:
        for field_name in REQUIRED_FIELDS[task]:
            if field_name not in found:
                what = TASK_FIELDS[task].get(field_name, field_name)
                raise DataFileError(
                    f"{shown}: no column {field_name!r} ({what}) for {task} records; columns found: "
                    f"{_shown_columns(found)}"
                    f"{_closest(field_name, found)} (map a column to it: --{COLUMN_SETTINGS[task]} "
                    f"{field_name}=COLUMN, or columns={{{field_name!r}: COLUMN}} in Python)"
                )
    return records


def _load(
    task: str,
    source: Source,
    split: str,
    name: str | None,
    features: Features,
    convert: Callable[[Any, str, int], tuple[dict[str, Any], list[str], list[str]]],
    prepare: Callable[[list[tuple[str, Any]]], None] | None = None,
    reject_malformed: bool = False,
    columns: ColumnMap = None,
    fields: set[str] | None = None,
    hub_config: str | None = None,
    revision: str | None = None,
) -> tuple[Dataset, FileReport]:
    """Run `convert(record, where, index) -> (row, repairs, flags)` over a source and count every record.

    Malformed JSON lines refuse the whole file (naming every one of them) unless `reject_malformed`, when each is
    counted as a rejected record (what `helpline-fusion validate` reports). `columns` renames the source's columns
    to the task's fields first (`parse_columns`)."""
    shown, records = read_records(source, split=split, name=name, config=hub_config, revision=revision)
    uniform = not (is_local_source(source) and TABLE_FORMATS.get(Path(source).suffix.lower()) is None)
    records = _apply_columns(
        records, task, parse_columns(columns, task), set(TASK_FIELDS[task]) | (fields or set()), shown, uniform
    )
    malformed = [(where, record) for where, record in records if isinstance(record, MalformedLine)]
    if malformed and not reject_malformed:
        raise malformed_lines_error(shown, malformed)
    if prepare is not None:
        prepare(records)
    report = FileReport(path=shown, task=task)
    rows = _convert_records(task, records, convert, report)
    _add_text_groups(rows, report)
    if not records:
        logger.warning("%s: no records", shown)
    elif report.rejected == report.read:
        logger.warning("%s: every record was rejected (%s); is this a %s file?", shown, dict(report.reasons), task)
    elif report.rejected > MAX_REJECTION_WARNINGS:
        logger.warning("%s: %d records rejected in all (see the report)", shown, report.rejected)
    dataset = (
        Dataset.from_list(rows, features=features)
        if rows
        else Dataset.from_dict({column: [] for column in features}, features=features)
    )
    return dataset, report


def _convert_records(
    task: str,
    records: list[tuple[str, Any]],
    convert: Callable[[Any, str, int], tuple[dict[str, Any], list[str], list[str]]],
    report: FileReport,
) -> list[dict[str, Any]]:
    """The rows `convert` makes of the records; each record is counted in `report` (kept, repaired or rejected)."""
    rows: list[dict[str, Any]] = []
    for index, (where, record) in enumerate(records):
        try:
            if isinstance(record, MalformedLine):
                report.malformed_lines.append(record.message)
                raise RecordRejected(record.reason, record.message)
            if json_nesting_exceeds(record, MAX_JSON_DEPTH):  # a record of a JSON array (lines are checked when read)
                raise RecordRejected(
                    "nested_too_deep", f"{where}: nested more than {MAX_JSON_DEPTH} levels deep; expected a {task} record"
                )
            row, repairs, flags = convert(record, where, index)
            _check_encodable(row, where)
        except RecordRejected as exc:
            report.add(rejection=exc.reason)
            level = logging.WARNING if report.rejected <= MAX_REJECTION_WARNINGS else logging.DEBUG
            logger.log(level, "%s; record rejected (%s)", exc, exc.reason)
            continue
        report.add(repairs)
        for flag in flags:
            report.flag(flag)
        if repairs:
            logger.debug("%s repaired: %s", where, ", ".join(sorted(set(repairs))))
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- #
# NER                                                                         #
# --------------------------------------------------------------------------- #
def _entities_from_json(record: Any, where: str) -> Any:
    """A record whose `entities` is a string holding a JSON list (a CSV cell) with that list, or `RecordRejected`
    when the string starts as a list but is not JSON. Other strings are left to `repair_ner_record`
    (`entities_not_a_list`)."""
    if not isinstance(record, dict) or not isinstance(record.get("entities"), str):
        return record
    if not record["entities"].lstrip().startswith("["):
        return record
    try:
        entities = load_json(record["entities"])
    except json.JSONDecodeError as exc:
        raise RecordRejected(
            "entities_unparseable",
            f"{where}: 'entities' is a string but not JSON ({exc.msg} at column {exc.colno}); expected a JSON list "
            'such as [{"start": 0, "end": 5, "label": "NAME"}] (the encoding of a CSV cell)',
        ) from None
    except UnreadableJSON as exc:
        raise RecordRejected("entities_unparseable", f"{where}: 'entities' is a string of unreadable JSON ({exc})") from None
    return {**record, "entities": entities}


NER_FEATURES = Features(
    {
        "id": Value("string"),
        "text": Value("string"),
        "entities": [{"start": Value("int64"), "end": Value("int64"), "label": Value("string")}],
        "text_group": Value("int64"),
    }
)


def load_ner(
    source: Source,
    config: Any | None = None,
    labels_from_data: bool = False,
    split: str = "train",
    name: str | None = None,
    reject_malformed: bool = False,
    realign_spans: bool = False,
    columns: ColumnMap = None,
    hub_config: str | None = None,
    revision: str | None = None,
) -> tuple[Dataset, FileReport]:
    """Load NER records (JSON lines of `{"text", "entities"}`), repairing spans by the rules of `validation.py`.

    In a CSV file `entities` is a JSON string in its cell (`[{"start": 0, "end": 5, "label": "NAME"}]`); a
    Parquet file or a dataset may hold it as a list of structs.

    Args:
        source: a file path, a Hub dataset id, a `DatasetDict` or a `Dataset`.
        config: an `AttentionFusionConfig` or `LabelMaps` giving the entity types (default: the label reference).
        labels_from_data: accept any entity label (the label maps are then built from the data).
        split: the split to read from a `DatasetDict` or Hub dataset.
        name: how the report and messages name the source (default: the path as given).
        reject_malformed: count a malformed JSON line as a rejected record instead of refusing the file.
        realign_spans: realign the drifted spans of a record that would be rejected as `spans_misaligned`
            (`realign.py`; off by default). Each realigned record is listed in `report.realigned`.
        columns: the source's column for a field named otherwise (`{"text": "transcript"}`, `"text=transcript"`,
            or a bare name for the text field; `parse_columns`); a column the data lacks is refused naming the
            closest one.
        hub_config, revision: the config (`name` of `datasets.load_dataset`) and revision of a Hub dataset id.

    Example:
        >>> dataset, report = load_ner("../shared/data/ner_helpline.jsonl")  # doctest: +SKIP
        >>> report.read == report.kept + report.repaired + report.rejected  # doctest: +SKIP
        True
    """
    entity_types = None if labels_from_data else set(LabelMaps.from_config(config).ner_entity_types)

    def convert(record: Any, where: str, index: int) -> tuple[dict[str, Any], list[str], list[str]]:
        record_id, given = _record_id(record, "id", index)
        label = f"{where} (id {record_id})" if given else where
        moved: dict[str, Any] = {}
        record = _entities_from_json(record, label)
        clean, repairs = repair_ner_record(record, label, entity_types, realign_spans=realign_spans, realigned=moved)
        row = {"id": record_id, **clean}
        if not moved:
            return row, repairs, []
        _check_encodable(row, label)  # before listing it: a record rejected after this point was not realigned
        realigned.append({"id": record_id, "where": where, **moved})
        return row, repairs, []

    realigned: list[dict[str, Any]] = []
    dataset, report = _load(
        "ner", source, split, name, NER_FEATURES, convert, reject_malformed=reject_malformed, columns=columns,
        hub_config=hub_config, revision=revision,
    )
    report.realigned = realigned
    return dataset, report


# --------------------------------------------------------------------------- #
# Cases                                                                       #
# --------------------------------------------------------------------------- #
def _clean_label(value: Any) -> tuple[str | None, bool]:
    """A label as a stripped string (`None` when empty) and whether stripping or conversion changed it."""
    if value is None:
        return None, False
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return (text or None), (text != value)


def _case_features(heads: list[str]) -> Features:
    columns: dict[str, Any] = {"id": Value("string"), "text": Value("string")}
    for head in heads:
        columns[head] = Value("string")
    columns["interventions"] = [Value("string")]
    columns["metadata"] = Value("string")
    columns["text_group"] = Value("int64")
    return Features(columns)


def load_cases(
    source: Source,
    config: Any | None = None,
    labels_from_data: bool = False,
    split: str = "train",
    name: str | None = None,
    reject_malformed: bool = False,
    columns: ColumnMap = None,
    hub_config: str | None = None,
    revision: str | None = None,
) -> tuple[Dataset, FileReport]:
    """Load case records (a JSON array, JSON lines, CSV or Parquet, a dataset): input `narrative`, targets derived from `category`, `intervention` and
    `priority`.

    Args:
        source: a file path, a Hub dataset id, a `DatasetDict` or a `Dataset`.
        config: an `AttentionFusionConfig` or `LabelMaps` giving each head's labels and `sub_to_main`.
        labels_from_data: accept any label (the label maps are then built from the data).
        split: the split to read from a `DatasetDict` or Hub dataset.
        name: how the report and messages name the source.
        reject_malformed: count a malformed JSON line as a rejected record instead of refusing the file.
        columns: the source's column for a field named otherwise (`{"text": "transcript"}`, `"text=transcript"`,
            or a bare name for the text field; `parse_columns`); a column the data lacks is refused naming the
            closest one.
        hub_config, revision: the config (`name` of `datasets.load_dataset`) and revision of a Hub dataset id.

    Raises:
        ValueError: a label outside the config's schema (unless `labels_from_data`), naming the record.

    Example:
        >>> cases, report = load_cases("../shared/data/cases_helpline.json")  # doctest: +SKIP
        >>> cases[0]["main_category"]  # doctest: +SKIP
        'Advice and Counselling'
    """
    maps = LabelMaps.from_config(config)
    heads = list(dict.fromkeys([*CASE_HEAD_NAMES, *maps.case_heads]))
    known_interventions = list(dict.fromkeys([*maps.case_heads.get("intervention", []), *_default_interventions()]))
    skip = _CASE_FIELDS | set(heads)

    def convert(record: Any, where: str, index: int) -> tuple[dict[str, Any], list[str], list[str]]:
        record_id, given = _record_id(record, "uniqueid", index)
        label_where = f"{where} (uniqueid {record_id})" if given else where
        text = check_text(record, "narrative", label_where)
        values, interventions, repairs = _case_values(record, label_where, heads, maps, known_interventions)
        if not labels_from_data:
            for head in heads:
                if head in maps.case_heads:
                    check_labels_in_schema(head, [values[head]], maps.case_heads[head], label_where)
        row = {"id": record_id, "text": text, **values, "interventions": interventions,
               "metadata": _metadata(record, skip)}  # fmt: skip
        return row, repairs, ([] if given else ["id_from_index"])

    return _load(
        "cls", source, split, name, _case_features(heads), convert, reject_malformed=reject_malformed,
        columns=columns, fields=set(heads), hub_config=hub_config, revision=revision,
    )


def _case_values(
    record: dict[str, Any], label_where: str, heads: list[str], maps: LabelMaps, known_interventions: list[str]
) -> tuple[dict[str, Any], list[str], list[str]]:
    """`(head -> label, interventions, repairs)` of a case record, or `RecordRejected` (`no_labels`)."""
    repairs: list[str] = []
    values: dict[str, Any] = {}
    sub, changed = _clean_label(record.get("category", record.get("sub_category")))
    repairs += ["label_whitespace_stripped"] * changed
    values["sub_category"] = sub
    values["main_category"] = main_category_of(sub, maps.sub_to_main)
    interventions, changed = normalise_interventions(record.get("intervention"), known_interventions)
    repairs += ["intervention_normalised"] * changed
    repairs += ["intervention_multi_valued"] * (len(interventions) > 1)
    values["intervention"] = interventions[0] if interventions else None
    priority, changed = _clean_label(record.get("priority"))
    repairs += ["priority_normalised"] * changed
    values["priority"] = priority
    for head in heads:
        if head not in values:  # a head a custom config adds: the field of the same name
            values[head], changed = _clean_label(record.get(head))
            repairs += ["label_whitespace_stripped"] * changed
    if all(values[head] is None for head in heads):
        raise RecordRejected("no_labels", f"{label_where}: none of the targets {heads} is given")
    repairs += [f"label_missing_{head}" for head in heads if head != "main_category" and values[head] is None]
    return values, interventions, repairs


def _default_interventions() -> list[str]:
    from ..modeling_attention_fusion.labels_attention_fusion import INTERVENTIONS

    return list(INTERVENTIONS)


# --------------------------------------------------------------------------- #
# QA                                                                          #
# --------------------------------------------------------------------------- #
def _qa_sizes_from_data(records: list[tuple[str, Any]], known: dict[str, int]) -> dict[str, int]:
    """Head sizes for `labels_from_data`: the reference's sizes, plus unknown heads at their longest list."""
    sizes = dict(known)
    extra: dict[str, int] = {}
    for where, record in records:
        if not isinstance(record, dict):
            continue
        try:
            labels = parse_qa_labels(record.get("labels"), where)
        except RecordRejected:
            continue
        for head, values in labels.items():
            if head not in sizes:
                extra[str(head)] = max(extra.get(str(head), 1), len(values) if isinstance(values, list) else 1)
    return {**sizes, **dict(sorted(extra.items()))}


def load_qa(
    source: Source,
    config: Any | None = None,
    labels_from_data: bool = False,
    split: str = "train",
    name: str | None = None,
    reject_malformed: bool = False,
    columns: ColumnMap = None,
    hub_config: str | None = None,
    revision: str | None = None,
) -> tuple[Dataset, FileReport]:
    """Load call-quality records (a JSON array, JSON lines, CSV, Parquet or a dataset of `{"text", "labels", "sample_id", "scenario", "quality_level"}`).

    In a CSV file `labels` is a JSON string in its cell (`{"opening": [1, 0], ...}`).

    Each quality head becomes a `qa_<head>` column of 0/1/-100 (masked) values of the head's length.

    Args:
        source: a file path, a Hub dataset id, a `DatasetDict` or a `Dataset`.
        config: an `AttentionFusionConfig` or `LabelMaps` giving the quality heads and their sub-metrics.
        labels_from_data: accept heads unknown to the config (sized by their longest list in the data).
        split: the split to read from a `DatasetDict` or Hub dataset.
        name: how the report and messages name the source.
        reject_malformed: count a malformed JSON line as a rejected record instead of refusing the file.
        columns: the source's column for a field named otherwise (`{"text": "transcript"}`, `"text=transcript"`,
            or a bare name for the text field; `parse_columns`); a column the data lacks is refused naming the
            closest one.
        hub_config, revision: the config (`name` of `datasets.load_dataset`) and revision of a Hub dataset id.

    Raises:
        ValueError: an unknown quality head (unless `labels_from_data`), naming the record.
    """
    sizes = dict(LabelMaps.from_config(config).qa_sizes)

    def prepare(records: list[tuple[str, Any]]) -> None:
        if labels_from_data:
            sizes.update(_qa_sizes_from_data(records, sizes))
        features.update(
            {f"{QA_PREFIX}{head}": [Value("int64")] for head in sizes if f"{QA_PREFIX}{head}" not in features}
        )
        features["metadata"] = features.pop("metadata")
        features["text_group"] = features.pop("text_group")

    def convert(record: Any, where: str, index: int) -> tuple[dict[str, Any], list[str], list[str]]:
        return _qa_row(record, where, index, sizes, labels_from_data)

    features = _qa_features()
    return _load(
        "qa", source, split, name, features, convert, prepare, reject_malformed=reject_malformed, columns=columns,
        hub_config=hub_config, revision=revision,
    )


def _qa_features() -> Features:
    """The QA columns every source has; `load_qa` adds a `qa_<head>` column per quality head."""
    return Features(
        {
            "id": Value("string"),
            "text": Value("string"),
            "scenario": Value("string"),
            "quality_level": Value("string"),
            "metadata": Value("string"),
            "text_group": Value("int64"),
        }
    )


def _qa_row(
    record: Any, where: str, index: int, sizes: dict[str, int], labels_from_data: bool
) -> tuple[dict[str, Any], list[str], list[str]]:
    """`(row, repairs, flags)` of one call-quality record, its labels checked against the heads' `sizes`."""
    record_id, given = _record_id(record, "sample_id", index)
    label_where = f"{where} (sample_id {record_id})" if given else where
    text = check_text(record, "text", label_where)
    labels = parse_qa_labels(record.get("labels"), label_where)
    values, repairs = repair_qa_labels(labels, label_where, sizes, allow_unknown_heads=labels_from_data)
    scenario, _ = _clean_label(record.get("scenario"))
    quality, _ = _clean_label(record.get("quality_level"))
    row = {"id": record_id, "text": text, "scenario": scenario, "quality_level": quality}
    row.update({f"{QA_PREFIX}{head}": value for head, value in values.items()})
    row["metadata"] = _metadata(record, _QA_FIELDS)
    return row, repairs, ([] if given else ["id_from_index"])


# --------------------------------------------------------------------------- #
# All tasks                                                                   #
# --------------------------------------------------------------------------- #
LOADERS: dict[str, Callable[..., tuple[Dataset, FileReport]]] = {"ner": load_ner, "cls": load_cases, "qa": load_qa}


def load_task(task: str, source: Source, **kwargs: Any) -> tuple[Dataset, FileReport]:
    """Load one task's source with its loader (`task` is the task id: `"ner"`, `"cls"` or `"qa"`)."""
    if task not in LOADERS:
        raise ValueError(f"unknown task {task!r}; valid: {list(LOADERS)}")
    return LOADERS[task](source, **kwargs)


def _find_split(dataset_dict: DatasetDict, given: str | None, names: tuple[str, ...], train: str, shown: str) -> str | None:
    if given:
        if given not in dataset_dict:
            raise DataFileError(f"{shown}: no split {given!r}; available splits: {sorted(dataset_dict)}")
        return given
    return next((name for name in names if name in dataset_dict and name != train), None)


def load_task_splits(
    task: str,
    source: Source,
    split: str = "train",
    validation_split: str | None = None,
    test_split: str | None = None,
    name: str | None = None,
    hub_config: str | None = None,
    revision: str | None = None,
    **kwargs: Any,
) -> tuple[dict[str, Dataset], list[FileReport]]:
    """One task's source as `{"train": ...}` plus the `"validation"` and `"test"` splits it already has.

    A Hub dataset or `DatasetDict` with a split named as in `VALIDATION_SPLIT_NAMES` (or `validation_split`) gives
    the validation set, one named `test` (or `test_split`) the test set: used as they are, never re-split
    (`splits.use_or_split`). A single file or `Dataset` gives `{"train": ...}` only. Each split is validated on its
    own and has its own report (`"org/data [validation]"`). `kwargs` go to the task's loader (`config`, `columns`...).

    Example:
        >>> parts, reports = load_task_splits("cls", "org/cases", hub_config="v2")  # doctest: +SKIP
        >>> sorted(parts)  # doctest: +SKIP
        ['test', 'train', 'validation']
    """
    task = TASK_ALIASES.get(task, task)
    if task not in LOADERS:
        raise ValueError(f"unknown task {task!r}; valid: {list(LOADERS)}")
    shown, opened = open_source(source, name=name, config=hub_config, revision=revision)
    if not isinstance(opened, DatasetDict):
        dataset, report = LOADERS[task](source if isinstance(opened, Path) else opened, split=split, name=shown, **kwargs)
        return {"train": dataset}, [report]
    train = split if split in opened or len(opened) > 1 else next(iter(opened))
    if train not in opened:
        raise DataFileError(f"{shown}: no split {split!r}; available splits: {sorted(opened)}")
    chosen = {
        "train": train,
        "validation": _find_split(opened, validation_split, VALIDATION_SPLIT_NAMES, train, shown),
        "test": _find_split(opened, test_split, TEST_SPLIT_NAMES, train, shown),
    }
    parts: dict[str, Dataset] = {}
    reports: list[FileReport] = []
    for part, split_name in chosen.items():
        if split_name is None:
            continue
        dataset, report = LOADERS[task](opened[split_name], split=split_name, name=f"{shown} [{split_name}]", **kwargs)
        parts[part] = dataset
        reports.append(report)
    return parts, reports


SOURCE_OPTIONS = ("columns", "hub_config", "revision", "split", "validation_split", "test_split")
"""Per-task source options `load_all` / `load_all_splits` take in `options={task: {...}}`."""


def _task_options(task: str, options: dict[str, dict[str, Any]] | None, split: str, realign_spans: bool) -> dict:
    """One task's loader keywords from `options[task]` (unset values dropped, unknown names refused), its split and
    span realignment (token-level tasks only: entity spans are what they are labelled with)."""
    extra = {key: value for key, value in ((options or {}).get(task) or {}).items() if value is not None}
    unknown = sorted(set(extra) - set(SOURCE_OPTIONS))
    if unknown:
        raise ValueError(f"options[{task!r}]: unknown source options {unknown}; expected {list(SOURCE_OPTIONS)}")
    extra.setdefault("split", split)
    if realign_spans and TASK_INFO[task].token_level:
        extra["realign_spans"] = True
    return extra


def load_all_splits(
    ner: Source | None = None,
    cases: Source | None = None,
    qa: Source | None = None,
    config: Any | None = None,
    labels_from_data: bool = False,
    split: str = "train",
    realign_spans: bool = False,
    options: dict[str, dict[str, Any]] | None = None,
) -> tuple[dict[str, dict[str, Dataset]], ValidationReport]:
    """Like `load_all`, keeping each source's own validation and test splits: `({task: {"train", ...}}, report)`.

    `options[task]` holds that task's `SOURCE_OPTIONS` (`{"cls": {"hub_config": "v2", "split": "train",
    "columns": "transcript"}}`); the report holds one entry per split read.
    """
    loaded: dict[str, dict[str, Dataset]] = {}
    report = ValidationReport()
    for task, source in (("ner", ner), ("cls", cases), ("qa", qa)):
        if source is None:
            continue
        extra = _task_options(task, options, split, realign_spans)
        parts, reports = load_task_splits(task, source, config=config, labels_from_data=labels_from_data, **extra)
        loaded[task] = parts
        for file_report in reports:
            report.add(file_report)
    return loaded, report


def load_all(
    ner: Source | None = None,
    cases: Source | None = None,
    qa: Source | None = None,
    config: Any | None = None,
    labels_from_data: bool = False,
    split: str = "train",
    realign_spans: bool = False,
    options: dict[str, dict[str, Any]] | None = None,
) -> tuple[dict[str, Dataset], ValidationReport]:
    """Load every given source; returns `({task: dataset}, ValidationReport)` (`realign_spans`: see `load_ner`;
    `options`: each task's columns, Hub config, revision and split, see `load_all_splits`).

    Example:
        >>> datasets_, report = load_all(ner="ner.jsonl", cases="cases.csv")  # doctest: +SKIP
        >>> write_report(report, output_dir / "data_report.json")  # doctest: +SKIP
    """
    loaded: dict[str, Dataset] = {}
    report = ValidationReport()
    for task, source in (("ner", ner), ("cls", cases), ("qa", qa)):
        if source is None:
            continue
        extra = _task_options(task, options, split, realign_spans)
        extra.pop("validation_split", None)
        extra.pop("test_split", None)
        dataset, file_report = LOADERS[task](source, config=config, labels_from_data=labels_from_data, **extra)
        loaded[task] = dataset
        report.add(file_report)
    return loaded, report


TASK_ALIASES = {"cases": "cls", "quality": "qa"}


def as_records(
    obj: Any,
    task: str,
    columns: ColumnMap = None,
    config: Any | None = None,
    labels_from_data: bool = False,
    split: str = "train",
    name: str | None = None,
    **kwargs: Any,
) -> tuple[Dataset, FileReport]:
    """A user's data for one task as the loader's validated `Dataset` and its `FileReport`, whatever it is: a
    `datasets.Dataset` or `DatasetDict` (`split`), a pandas `DataFrame`, a list of record dicts, a local file
    (JSON, JSON lines, CSV, Parquet) or a Hub dataset id. The Python API's entry point (`train_datasets={"ner":
    ner_ds, ...}`): every record goes through the same repairs and is counted in the report as from a file.

    Args:
        obj: the data.
        task: `"ner"`, `"cls"` (or `"cases"`) or `"qa"` (or `"quality"`).
        columns: the data's column for each field named otherwise (`parse_columns`: `{"narrative": "transcript"}`
            or `"transcript"` for the text field); a wrong name is refused naming the closest column.
        config: an `AttentionFusionConfig` or `LabelMaps` giving the labels (default: the label reference).
        labels_from_data: accept labels outside the schema.
        split: the split of a `DatasetDict` or Hub dataset.
        name: how the report names the data (default `"<cls dataset>"`, or the path / Hub id).
        **kwargs: passed to the task's loader (`hub_config`, `revision`, `realign_spans`, `reject_malformed`).

    Example:
        >>> from datasets import Dataset
        >>> cases = Dataset.from_list([{"transcript": "A child needs help.", "priority": "2"}])
        >>> dataset, report = as_records(cases, "cases", columns="transcript")
        >>> dataset[0]["text"], dataset[0]["priority"], report.path
        ('A child needs help.', '2', '<cls dataset>')
    """
    task = TASK_ALIASES.get(task, task)
    if task not in LOADERS:
        raise ValueError(f"unknown task {task!r}; valid: {[*LOADERS, *TASK_ALIASES]}")
    if type(obj).__name__ == "DataFrame" and hasattr(obj, "to_dict"):  # pandas, without importing it
        obj = obj.to_dict("records")
    if isinstance(obj, (Dataset, DatasetDict, list)):
        name = name or f"<{task} dataset>"
    return LOADERS[task](
        obj, config=config, labels_from_data=labels_from_data, split=split, name=name, columns=columns, **kwargs
    )


__all__ = [
    "LOADERS",
    "SOURCE_OPTIONS",
    "TABLE_FORMATS",
    "TEXT_FIELDS",
    "VALIDATION_SPLIT_NAMES",
    "as_records",
    "is_local_source",
    "load_all_splits",
    "load_task_splits",
    "open_source",
    "parse_columns",
    "NER_FEATURES",
    "MalformedLine",
    "Source",
    "load_all",
    "load_cases",
    "load_ner",
    "load_qa",
    "load_task",
    "normalise_text",
    "read_records",
]
