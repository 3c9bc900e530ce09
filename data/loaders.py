"""Loaders of the three helpline formats into `datasets.Dataset`, with a report that accounts for every record.

Formats (see `../shared/data/README.md` and the label reference):

- **NER**: JSON lines, one `{"text", "entities": [{"start", "end", "label"}]}` a line (optional `"id"`).
- **Cases**: a JSON array of case records: `narrative` (the input), `category` (the sub-category),
  `intervention`, `priority` ("1" critical, "2" urgent, "3" routine), `uniqueid`; every other field is kept,
  as a JSON string, in a `metadata` column (`victim`/`reporter`/`perpetrator` are objects or "", which Arrow
  cannot hold in one column).
- **QA**: a JSON array of `{"text", "labels", "sample_id", "scenario", "quality_level"}`; `labels` is a dict
  (or a JSON string of one) of quality head -> list of 0/1.

A source is a local file (a `Path` is always local; a string is local when it exists or ends in `.json`/
`.jsonl`), a Hub dataset id, a `DatasetDict` or a `Dataset` with the same columns. Files holding a JSON array
and JSON-lines files are both accepted for every task (the first character decides).

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

import json
import logging
import re
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict, Features, Value

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

Source = str | PathLike | Dataset | DatasetDict
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


def read_records(source: Source, split: str = "train", name: str | None = None) -> tuple[str, list[tuple[str, Any]]]:
    """Read a source into `(report name, [(where, record), ...])`.

    `where` names the record for messages (`"ner.jsonl line 12"`, `"cases.json record 41"`, `"<dataset> row 3"`).

    Raises:
        FileNotFoundError: a local file does not exist.
        DataFileError: the source cannot be read at all (not JSON, wrong container, unknown split, Hub failure).
    """
    if isinstance(source, (Dataset, DatasetDict)):
        shown = name or "<dataset>"
        dataset = _pick_split(source, split, shown) if isinstance(source, DatasetDict) else source
        return shown, [(f"{shown} row {index}", row) for index, row in enumerate(dataset.to_list())]
    if isinstance(source, PathLike):
        shown = name or str(source)
        return shown, _read_json_file(Path(source), shown)
    if not isinstance(source, str):
        raise TypeError(
            f"expected a file path, a Hub dataset id, a Dataset or a DatasetDict; got {type(source).__name__}"
        )
    shown = name or source
    path = Path(source)
    if path.exists() or path.suffix in {".json", ".jsonl"} or not _HUB_ID.match(source):
        return shown, _read_json_file(path, shown)
    import datasets

    try:
        loaded = datasets.load_dataset(source)
    except Exception as exc:  # the Hub client raises many types; the message is what matters
        raise DataFileError(
            f"{shown}: not a local file, and loading it as a Hub dataset failed ({type(exc).__name__}: {exc})"
        ) from exc
    dataset = _pick_split(loaded, split, shown) if isinstance(loaded, DatasetDict) else loaded
    return shown, [(f"{shown} row {index}", row) for index, row in enumerate(dataset.to_list())]


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


def _load(
    task: str,
    source: Source,
    split: str,
    name: str | None,
    features: Features,
    convert: Callable[[Any, str, int], tuple[dict[str, Any], list[str], list[str]]],
    prepare: Callable[[list[tuple[str, Any]]], None] | None = None,
    reject_malformed: bool = False,
) -> tuple[Dataset, FileReport]:
    """Run `convert(record, where, index) -> (row, repairs, flags)` over a source and count every record.

    Malformed JSON lines refuse the whole file (naming every one of them) unless `reject_malformed`, when each is
    counted as a rejected record (what `helpline-fusion validate` reports)."""
    shown, records = read_records(source, split=split, name=name)
    malformed = [(where, record) for where, record in records if isinstance(record, MalformedLine)]
    if malformed and not reject_malformed:
        raise malformed_lines_error(shown, malformed)
    if prepare is not None:
        prepare(records)
    report = FileReport(path=shown, task=task)
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


# --------------------------------------------------------------------------- #
# NER                                                                         #
# --------------------------------------------------------------------------- #
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
) -> tuple[Dataset, FileReport]:
    """Load NER records (JSON lines of `{"text", "entities"}`), repairing spans by the rules of `validation.py`.

    Args:
        source: a file path, a Hub dataset id, a `DatasetDict` or a `Dataset`.
        config: an `AttentionFusionConfig` or `LabelMaps` giving the entity types (default: the label reference).
        labels_from_data: accept any entity label (the label maps are then built from the data).
        split: the split to read from a `DatasetDict` or Hub dataset.
        name: how the report and messages name the source (default: the path as given).
        reject_malformed: count a malformed JSON line as a rejected record instead of refusing the file.
        realign_spans: realign the drifted spans of a record that would be rejected as `spans_misaligned`
            (`realign.py`; off by default). Each realigned record is listed in `report.realigned`.

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
        clean, repairs = repair_ner_record(record, label, entity_types, realign_spans=realign_spans, realigned=moved)
        row = {"id": record_id, **clean}
        if not moved:
            return row, repairs, []
        _check_encodable(row, label)  # before listing it: a record rejected after this point was not realigned
        realigned.append({"id": record_id, "where": where, **moved})
        return row, repairs, []

    realigned: list[dict[str, Any]] = []
    dataset, report = _load("ner", source, split, name, NER_FEATURES, convert, reject_malformed=reject_malformed)
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
) -> tuple[Dataset, FileReport]:
    """Load case records (a JSON array): input `narrative`, targets derived from `category`, `intervention` and
    `priority`.

    Args:
        source: a file path, a Hub dataset id, a `DatasetDict` or a `Dataset`.
        config: an `AttentionFusionConfig` or `LabelMaps` giving each head's labels and `sub_to_main`.
        labels_from_data: accept any label (the label maps are then built from the data).
        split: the split to read from a `DatasetDict` or Hub dataset.
        name: how the report and messages name the source.
        reject_malformed: count a malformed JSON line as a rejected record instead of refusing the file.

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
        if not labels_from_data:
            for head in heads:
                if head in maps.case_heads:
                    check_labels_in_schema(head, [values[head]], maps.case_heads[head], label_where)
        row = {
            "id": record_id,
            "text": text,
            **values,
            "interventions": interventions,
            "metadata": _metadata(record, skip),
        }
        return row, repairs, ([] if given else ["id_from_index"])

    return _load("cls", source, split, name, _case_features(heads), convert, reject_malformed=reject_malformed)


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
) -> tuple[Dataset, FileReport]:
    """Load call-quality records (a JSON array of `{"text", "labels", "sample_id", "scenario", "quality_level"}`).

    Each quality head becomes a `qa_<head>` column of 0/1/-100 (masked) values of the head's length.

    Args:
        source: a file path, a Hub dataset id, a `DatasetDict` or a `Dataset`.
        config: an `AttentionFusionConfig` or `LabelMaps` giving the quality heads and their sub-metrics.
        labels_from_data: accept heads unknown to the config (sized by their longest list in the data).
        split: the split to read from a `DatasetDict` or Hub dataset.
        name: how the report and messages name the source.
        reject_malformed: count a malformed JSON line as a rejected record instead of refusing the file.

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

    features = Features(
        {
            "id": Value("string"),
            "text": Value("string"),
            "scenario": Value("string"),
            "quality_level": Value("string"),
            "metadata": Value("string"),
            "text_group": Value("int64"),
        }
    )
    return _load("qa", source, split, name, features, convert, prepare, reject_malformed=reject_malformed)


# --------------------------------------------------------------------------- #
# All tasks                                                                   #
# --------------------------------------------------------------------------- #
LOADERS: dict[str, Callable[..., tuple[Dataset, FileReport]]] = {"ner": load_ner, "cls": load_cases, "qa": load_qa}


def load_task(task: str, source: Source, **kwargs: Any) -> tuple[Dataset, FileReport]:
    """Load one task's source with its loader (`task` is the task id: `"ner"`, `"cls"` or `"qa"`)."""
    if task not in LOADERS:
        raise ValueError(f"unknown task {task!r}; valid: {list(LOADERS)}")
    return LOADERS[task](source, **kwargs)


def load_all(
    ner: Source | None = None,
    cases: Source | None = None,
    qa: Source | None = None,
    config: Any | None = None,
    labels_from_data: bool = False,
    split: str = "train",
    realign_spans: bool = False,
) -> tuple[dict[str, Dataset], ValidationReport]:
    """Load every given source; returns `({task: dataset}, ValidationReport)` (`realign_spans`: see `load_ner`).

    Example:
        >>> datasets_, report = load_all(ner="ner.jsonl", cases="cases.json")  # doctest: +SKIP
        >>> write_report(report, output_dir / "data_report.json")  # doctest: +SKIP
    """
    loaded: dict[str, Dataset] = {}
    report = ValidationReport()
    for task, source in (("ner", ner), ("cls", cases), ("qa", qa)):
        if source is None:
            continue
        extra = {"realign_spans": True} if task == "ner" and realign_spans else {}
        dataset, file_report = LOADERS[task](
            source, config=config, labels_from_data=labels_from_data, split=split, **extra
        )
        loaded[task] = dataset
        report.add(file_report)
    return loaded, report


__all__ = [
    "LOADERS",
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
