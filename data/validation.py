"""Validation and repair of helpline records, and the report that accounts for every one of them.

Every record read ends in exactly one of three states, so `kept + repaired + rejected == read` always:

- **kept**: used as it is;
- **repaired**: used after named changes (a span trimmed or dropped, a label normalised, a QA list padded,
  a target masked because it was missing...);
- **rejected**: unusable as a whole (no text, text not a string, empty text, no labels at all...), with a
  named reason.

`reasons` counts *occurrences* (one record can carry several repairs, e.g. three trimmed spans), so the
reason counts need not add up to `repaired`; each rejected record carries exactly one rejection reason.
`flags` counts notes that change nothing, e.g. `duplicate_text` (a transcript equal, up to whitespace, to an
earlier one: kept, but grouped by `splits.py` so the copies never straddle a split) and `id_from_index`.

Repair decisions (each a deliberate rule; the reason names are the report's keys):

NER spans (`[start, end)` character offsets):
- `span_malformed`: the span is not an object with integer `start`, `end` and a string `label`: dropped.
- `span_negative`: `start` or `end` is negative: dropped.
- `span_outside_text`: `end` (or `start`) lies past the end of the text: dropped, never clipped (a clipped span
  would be a guess at what was meant).
- `span_empty`: `start >= end`, or the span covers only whitespace: dropped.
- `span_whitespace_trimmed`: leading/trailing whitespace inside the span is cut off (the span is kept).
- `span_overlap_dropped`: of overlapping spans the longer one is kept; on equal length the one that starts
  earlier, then the one listed first. An exact duplicate is an overlap too. The others are dropped.
- `spans_misaligned` (the whole record rejected): at least two of its spans, and at least half of them, start or
  end inside a word (a letter or digit on both sides of the boundary). Offsets that cut words that often were
  computed on another text than the one stored, so every span of the record is wrong and none can be repaired
  (a shift would be a guess). In the public NER file this is 606 of 1,665 records, nearly all from line 1,041
  on; there AGE spans hold a digit in 5% of cases against 99.9% in the other records. One stray span that cuts
  a word (a name written inside a longer token) is kept as it is.
- `span_realigned` (only with `realign_spans`, off by default): a record the rule above would reject first has
  its drifted spans moved where the record itself proves they belong (`realign.py`: the one shift that lands a
  span on the text of a correctly placed span of its label, or the one shift shared by every drifted span), one
  repair per span moved. Only when every drifted span is proven: one span the rules cannot place and the record
  is rejected as above (moving some spans of a record whose offsets belong to another text would let the rest of
  its wrong labels in); the rule above then judges the result. The report lists each realigned record by id with
  span index, shift and rule (`realigned`), never span text.
- A label outside the schema is a `ValueError` naming the record (or accepted when the label maps are built
  from the data).

Case records: see `labels.py` for the intervention rule (the first listed intervention is the learned target,
the full normalised list is kept) and near-duplicate sub-categories (kept distinct). Missing targets are
masked (`label_missing_<head>`); a record with no target at all is rejected (`no_labels`). A record without
`uniqueid` is named by its array index (the flag `id_from_index`: the record itself is unchanged).

QA records: `labels` may be a dict or a JSON string of one. Lists longer than the head are truncated
(`qa_list_truncated`), shorter ones padded with the *masked* value -100 (`qa_list_padded`), never with 0.
Non-numeric values such as "No hold was required" mean *not applicable* (`qa_not_applicable`, masked -100,
never 0); `null` is `qa_value_missing`; numbers other than 0/1 are `qa_value_invalid`; a head absent from the
record is `qa_head_missing`; all masked. An unknown head name is a `ValueError` naming the record.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

KEPT, REPAIRED, REJECTED = "kept", "repaired", "rejected"
MASKED = -100
"""The masked value of a missing or not-applicable target (ignored by every loss)."""


class DataFileError(ValueError):
    """A data file (or source) cannot be read at all: missing, not JSON, or not the expected container."""


class RecordRejected(Exception):
    """Raised by a record check when the whole record is unusable; `reason` names it in the report."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


MAX_JSON_DEPTH = 100
"""Deepest nesting of arrays and objects accepted in one record (the data formats need 4 levels). Python's `json`
fails near 1,000 levels with a `RecursionError`, and code that walks a value recursively fails earlier still."""


class UnreadableJSON(ValueError):
    """JSON that parses as no `json.JSONDecodeError` would say: nested too deeply or holding an integer too long to
    convert. `detail` says which, never quoting the input."""


def json_nesting_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects nest more than `limit` levels deep in `value` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def load_json(text: str | bytes, limit: int | None = MAX_JSON_DEPTH) -> Any:
    """`json.loads(text)` that fails in only two ways: `json.JSONDecodeError` (not JSON) or `UnreadableJSON`
    (nested more than `limit` levels deep, or an integer longer than Python converts: `RecursionError` and a plain
    `ValueError` from `json.loads`). `limit=None` walks no depth (a JSON array whose records are checked one by
    one); what `json` itself cannot parse is still said to be nested more than `MAX_JSON_DEPTH` levels deep (it
    gives up near 1,000).

    Example:
        >>> for text in ("[" * 10_000 + "]" * 10_000, "1" * 5_000):
        ...     try:
        ...         load_json(text)
        ...     except UnreadableJSON as exc:
        ...         print(exc)
        nested more than 100 levels deep
        an integer longer than 4300 digits
    """
    too_deep = f"nested more than {limit or MAX_JSON_DEPTH} levels deep"
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise UnreadableJSON(too_deep) from None
    except ValueError as exc:  # "Exceeds the limit (4300 digits) for integer string conversion: ..."
        if "integer string conversion" in str(exc):
            raise UnreadableJSON(f"an integer longer than {sys.get_int_max_str_digits()} digits") from None
        raise UnreadableJSON(f"unreadable JSON ({type(exc).__name__})") from None
    if limit is not None and json_nesting_exceeds(value, limit):
        raise UnreadableJSON(too_deep)
    return value


# --------------------------------------------------------------------------- #
# The report                                                                  #
# --------------------------------------------------------------------------- #
@dataclass
class FileReport:
    """What happened to every record of one file (or dataset source).

    Example:
        >>> report = FileReport(path="ner.jsonl", task="ner")
        >>> report.add(["span_whitespace_trimmed"])
        'repaired'
        >>> report.to_dict()["repaired"]
        1
    """

    path: str
    task: str
    read: int = 0
    kept: int = 0
    repaired: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    flags: Counter = field(default_factory=Counter)
    malformed_lines: list[str] = field(default_factory=list)
    """One message per malformed JSON line (`"ner.jsonl line 7: malformed JSON (...)"`), never its content."""
    realigned: list[dict[str, Any]] = field(default_factory=list)
    """One entry per realigned NER record: `{"id", "where", "spans": [{"span", "shift", "rule"}]}` (span index in
    the record's `entities`, never the span's text)."""

    def add(self, repairs: Iterable[str] = (), rejection: str | None = None) -> str:
        """Count one record read: rejected when `rejection` is given, repaired when `repairs` is not empty."""
        self.read += 1
        if rejection is not None:
            self.rejected += 1
            self.reasons[rejection] += 1
            return REJECTED
        repairs = list(repairs)
        self.reasons.update(repairs)
        if repairs:
            self.repaired += 1
            return REPAIRED
        self.kept += 1
        return KEPT

    def flag(self, name: str, count: int = 1) -> None:
        """Count a note that changes nothing (e.g. `duplicate_text`)."""
        if count:
            self.flags[name] += count

    @property
    def balanced(self) -> bool:
        """`kept + repaired + rejected == read`."""
        return self.kept + self.repaired + self.rejected == self.read

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "task": self.task,
            "read": self.read,
            "kept": self.kept,
            "repaired": self.repaired,
            "rejected": self.rejected,
            "reasons": dict(sorted(self.reasons.items())),
        }
        if self.flags:
            out["flags"] = dict(sorted(self.flags.items()))
        if self.malformed_lines:
            out["malformed_lines"] = list(self.malformed_lines)
        if self.realigned:
            out["realigned"] = [dict(item) for item in self.realigned]
        return out

    @classmethod
    def from_dict(cls, path: str, data: dict[str, Any]) -> FileReport:
        return cls(
            path=path,
            task=data["task"],
            read=int(data["read"]),
            kept=int(data["kept"]),
            repaired=int(data["repaired"]),
            rejected=int(data["rejected"]),
            reasons=Counter(data.get("reasons", {})),
            flags=Counter(data.get("flags", {})),
            malformed_lines=list(data.get("malformed_lines", [])),
            realigned=list(data.get("realigned", [])),
        )


@dataclass
class ValidationReport:
    """The report over several files: `{"files": {path: FileReport.to_dict()}}`.

    Example:
        >>> report = ValidationReport()
        >>> report.add(FileReport(path="cases.json", task="cls", read=1, kept=1))
        >>> list(report.to_dict()["files"])
        ['cases.json']
    """

    files: dict[str, FileReport] = field(default_factory=dict)

    def add(self, file_report: FileReport) -> None:
        self.files[file_report.path] = file_report

    def to_dict(self) -> dict[str, Any]:
        return {"files": {path: report.to_dict() for path, report in self.files.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationReport:
        return cls({path: FileReport.from_dict(path, item) for path, item in data["files"].items()})

    def format(self) -> str:
        """A readable table: one row per file, then the reasons and flags of each file."""
        return format_report(self)


# Repairs the data formats call for (nothing is wrong with such a record): the report says so beside the count, so
# a reader of the bundled synthetic data's report (which has both, by design) does not doubt the data.
EXPECTED_REPAIRS: dict[str, str] = {
    "intervention_multi_valued": "expected: several interventions listed (the first is the target, all kept)",
    "qa_not_applicable": "expected: a sub-metric given as e.g. 'No hold was required' (not applicable, masked)",
}


def format_report(report: ValidationReport | FileReport) -> str:
    """Render a report as a plain-text table (what `helpline-fusion validate` prints)."""
    files = [report] if isinstance(report, FileReport) else list(report.files.values())
    width = max([len("file")] + [len(item.path) for item in files])
    header = f"{'file':<{width}}  {'task':<4}  {'read':>6}  {'kept':>6}  {'repaired':>8}  {'rejected':>8}"
    lines = [header, "-" * len(header)]
    for item in files:
        lines.append(
            f"{item.path:<{width}}  {item.task:<4}  {item.read:>6}  {item.kept:>6}  {item.repaired:>8}  "
            f"{item.rejected:>8}"
        )
    for item in files:
        if not item.reasons and not item.flags:
            continue
        lines += ["", f"{item.path} ({item.task}):"]
        lines += [
            f"  {reason:<34} {count:>6}" + (f"  {EXPECTED_REPAIRS[reason]}" if reason in EXPECTED_REPAIRS else "")
            for reason, count in sorted(item.reasons.items())
        ]
        lines += [f"  {name + ' (flag)':<34} {count:>6}" for name, count in sorted(item.flags.items())]
        if item.realigned:
            rules = Counter(span["rule"] for entry in item.realigned for span in entry["spans"])
            lines.append(
                f"  realigned records: {len(item.realigned)} (spans moved by rule: "
                + ", ".join(f"{rule} {count}" for rule, count in sorted(rules.items()))
                + "; each by id, span index and shift in the JSON report)"
            )
    return "\n".join(lines)


def log_report(report: ValidationReport | FileReport, level: int = logging.INFO) -> None:
    """Log the counts of every file (names and counts only, never record content)."""
    files = [report] if isinstance(report, FileReport) else list(report.files.values())
    for item in files:
        logger.log(
            level,
            "%s (%s): read %d, kept %d, repaired %d, rejected %d; reasons %s%s%s",
            item.path,
            item.task,
            item.read,
            item.kept,
            item.repaired,
            item.rejected,
            dict(sorted(item.reasons.items())) or "{}",
            f"; flags {dict(sorted(item.flags.items()))}" if item.flags else "",
            "".join(f" ({reason} {EXPECTED_REPAIRS[reason]})" for reason in sorted(item.reasons) if reason in EXPECTED_REPAIRS),
        )


def write_report(report: ValidationReport | FileReport, path: str | PathLike) -> Path:
    """Write the report as JSON to `path` (parents created), log it, and return the path.

    Example:
        >>> write_report(report, "outputs/run1/data_report.json")  # doctest: +SKIP
    """
    if isinstance(report, FileReport):
        single = ValidationReport()
        single.add(report)
        report = single
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log_report(report)
    logger.info("data report written to %s", path)
    return path


# --------------------------------------------------------------------------- #
# Record checks                                                               #
# --------------------------------------------------------------------------- #
def check_text(record: Any, field_name: str, where: str) -> str:
    """The record's input text, or `RecordRejected` (`record_not_an_object`, `missing_text`,
    `text_not_a_string`, `empty_text`)."""
    if not isinstance(record, dict):
        raise RecordRejected("record_not_an_object", f"{where}: expected a JSON object, found {type(record).__name__}")
    if field_name not in record or record[field_name] is None:
        raise RecordRejected("missing_text", f"{where}: no {field_name!r} field")
    text = record[field_name]
    if not isinstance(text, str):
        raise RecordRejected(
            "text_not_a_string", f"{where}: {field_name!r} should be a string, found {type(text).__name__}"
        )
    if not text.strip():
        raise RecordRejected("empty_text", f"{where}: {field_name!r} is empty")
    return text


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def resolve_overlaps(spans: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Keep non-overlapping spans: the longer wins, then the earlier start, then the first listed.

    Returns the kept spans sorted by start, and how many were dropped.

    Example:
        >>> kept, dropped = resolve_overlaps([{"start": 0, "end": 4, "label": "A"}, {"start": 2, "end": 9, "label": "B"}])
        >>> [s["label"] for s in kept], dropped
        (['B'], 1)
    """
    order = sorted(range(len(spans)), key=lambda i: (spans[i]["start"] - spans[i]["end"], spans[i]["start"], i))
    kept: list[dict[str, Any]] = []
    for i in order:
        span = spans[i]
        if any(span["start"] < other["end"] and other["start"] < span["end"] for other in kept):
            continue
        kept.append(span)
    kept.sort(key=lambda s: (s["start"], s["end"]))
    return kept, len(spans) - len(kept)


def repair_ner_record(
    record: Any,
    where: str,
    entity_types: set[str] | None,
    realign_spans: bool = False,
    realigned: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Check and repair one NER record; returns `({"text", "entities"}, repairs)`.

    Args:
        record: the parsed JSON record.
        where: how errors name the record (`"ner.jsonl line 12"`); never the text.
        entity_types: the allowed labels; `None` accepts any label (label maps built from the data).
        realign_spans: before rejecting a record as `spans_misaligned`, realign its drifted spans by the rules of
            `realign.py` (a repair `span_realigned` per span moved). The record is realigned only when every
            drifted span is proven (moved by a rule, or found in place by its text); otherwise, or when the result
            still cuts words as often, it is rejected as without realignment.
        realigned: when given and the record is realigned (and not rejected), `realigned["spans"]` is set to one
            `{"span", "shift", "rule"}` per span moved (by index in `entities`).

    Raises:
        RecordRejected: the record is unusable (no text, entities not a list...).
        ValueError: a span's label is outside `entity_types`.
    """
    text = check_text(record, "text", where)
    valid, repairs = _valid_spans(text, _entity_list(record, where), where, entity_types)
    spans, trimmed = _trim_spans(text, valid)
    cutting, misaligned = _word_cuts(text, spans)
    moved: list[dict[str, Any]] = []
    refused = ""
    if misaligned and realign_spans:
        valid, moved, refused = _realign_valid(text, valid)
        if moved:
            spans, trimmed = _trim_spans(text, valid)
            cutting, misaligned = _word_cuts(text, spans)
    if misaligned:
        raise RecordRejected(
            "spans_misaligned",
            f"{where}: {cutting} of {len(spans)} entity spans start or end inside a word; the offsets do not fit "
            f"this text (computed on another version of it?), so the record's labels cannot be used{refused}",
        )
    repairs += ["span_whitespace_trimmed"] * trimmed
    repairs += ["span_realigned"] * len(moved)
    if realigned is not None and moved:
        realigned["spans"] = moved
    spans, dropped = resolve_overlaps(spans)
    repairs += ["span_overlap_dropped"] * dropped
    return {"text": text, "entities": spans}, repairs


def _entity_list(record: dict[str, Any], where: str) -> list[Any]:
    """The record's `entities` list, or `RecordRejected` (`missing_entities`, `entities_not_a_list`)."""
    if "entities" not in record or record["entities"] is None:
        raise RecordRejected("missing_entities", f"{where}: no 'entities' field")
    raw_entities = record["entities"]
    if not isinstance(raw_entities, list):
        raise RecordRejected(
            "entities_not_a_list",
            f"{where}: 'entities' should be a list, found {type(raw_entities).__name__} (in a CSV cell: a JSON list "
            'such as [{"start": 0, "end": 5, "label": "NAME"}])',
        )
    return raw_entities


def _valid_spans(
    text: str, raw_entities: list[Any], where: str, entity_types: set[str] | None
) -> tuple[list[tuple[int, int, int, str]], list[str]]:
    """`(index in entities, start, end, label)` of the spans inside the text, and a repair per span dropped."""
    repairs: list[str] = []
    valid: list[tuple[int, int, int, str]] = []  # (index in `entities`, start, end, label) of spans inside the text
    for number, span in enumerate(raw_entities):
        if not (
            isinstance(span, dict)
            and _is_int(span.get("start"))
            and _is_int(span.get("end"))
            and isinstance(span.get("label"), str)
        ):
            repairs.append("span_malformed")
            continue
        start, end, label = span["start"], span["end"], span["label"]
        if entity_types is not None and label not in entity_types:
            raise ValueError(
                f"{where}: entity {number} has label {label!r}, which is not one of the entity types "
                f"{sorted(entity_types)}; fix the data, extend `ner_entity_types`, or build the label maps "
                "from the data (labels_from_data=True)"
            )
        if start < 0 or end < 0:
            repairs.append("span_negative")
            continue
        if end > len(text) or start > len(text):
            repairs.append("span_outside_text")
            continue
        if start >= end or not text[start:end].strip():
            repairs.append("span_empty")
            continue
        valid.append((number, start, end, label))
    return valid, repairs


def _word_cuts(text: str, spans: list[dict[str, Any]]) -> tuple[int, bool]:
    """How many spans start or end inside a word, and whether that makes the record's offsets misaligned."""
    cutting = sum(cuts_a_word(text, span["start"], span["end"]) for span in spans)
    return cutting, cutting >= MISALIGNED_MIN_SPANS and cutting >= MISALIGNED_SHARE * len(spans)


def _realign_valid(
    text: str, valid: list[tuple[int, int, int, str]]
) -> tuple[list[tuple[int, int, int, str]], list[dict[str, Any]], str]:
    """`(valid, moved, refused)`: the spans realigned when every drifted one is proven, the moves, and else why not."""
    from .realign import realign

    result = realign(text, [(start, end, label) for _, start, end, label in valid], [v[0] for v in valid])
    if result.unproven:  # one drifted span left unproven and the record's offsets are not known to be right
        proved = result.drifted - result.unproven
        return valid, [], f"; realignment proved {proved} of its {result.drifted} drifted spans"
    if result.repairs:
        offsets = iter(result.offsets)
        valid = [(number, *next(offsets), label) for number, _, _, label in valid]
        return valid, [repair.to_dict() for repair in result.repairs], ""
    return valid, [], ""


def _trim_spans(text: str, valid: list[tuple[int, int, int, str]]) -> tuple[list[dict[str, Any]], int]:
    """The spans with leading/trailing whitespace cut off, and how many were trimmed."""
    spans: list[dict[str, Any]] = []
    trimmed = 0
    for _, start, end, label in valid:
        piece = text[start:end]
        new_start, new_end = start + len(piece) - len(piece.lstrip()), end - len(piece) + len(piece.rstrip())
        trimmed += (new_start, new_end) != (start, end)
        spans.append({"start": new_start, "end": new_end, "label": label})
    return spans, trimmed


MISALIGNED_MIN_SPANS = 2
MISALIGNED_SHARE = 0.5
"""A record is rejected as `spans_misaligned` when at least this many, and this share, of its spans cut a word."""


def cuts_a_word(text: str, start: int, end: int) -> bool:
    """Whether `[start, end)` starts or ends inside a word: a letter or digit on both sides of a boundary.

    Example:
        >>> text = "Amina called from Mombasa"
        >>> cuts_a_word(text, 0, 5), cuts_a_word(text, 2, 5), cuts_a_word(text, 18, 22)
        (False, True, True)
    """
    starts_inside = 0 < start < len(text) and text[start - 1].isalnum() and text[start].isalnum()
    ends_inside = 0 < end < len(text) and text[end - 1].isalnum() and text[end].isalnum()
    return starts_inside or ends_inside


def parse_qa_labels(value: Any, where: str) -> dict[str, Any]:
    """The QA `labels` field as a dict (given as a dict or as a JSON string of one), or `RecordRejected`."""
    if value is None:
        raise RecordRejected("missing_labels", f"{where}: no 'labels' field")
    if isinstance(value, str):
        try:
            value = load_json(value)
        except json.JSONDecodeError as exc:
            raise RecordRejected(
                "labels_unparseable", f"{where}: 'labels' is a string but not JSON ({exc.msg} at column {exc.colno})"
            ) from None
        except UnreadableJSON as exc:
            raise RecordRejected("labels_unparseable", f"{where}: 'labels' is a string of unreadable JSON ({exc})") from None
    if not isinstance(value, dict):
        raise RecordRejected(
            "labels_not_a_dict", f"{where}: 'labels' should be a dict head -> list of 0/1, found {type(value).__name__}"
        )
    return value


def _qa_value(value: Any) -> tuple[int, str | None]:
    """One QA sub-metric value as 0, 1 or MASKED, with the repair reason when masked."""
    if isinstance(value, bool):
        return int(value), None
    if value is None:
        return MASKED, "qa_value_missing"
    if isinstance(value, str):
        stripped = value.strip()
        try:
            value = float(stripped)
        except ValueError:
            return MASKED, "qa_not_applicable"
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value), None
    return MASKED, "qa_value_invalid"


def repair_qa_labels(
    labels: dict[str, Any], where: str, head_sizes: dict[str, int], allow_unknown_heads: bool = False
) -> tuple[dict[str, list[int]], list[str]]:
    """Turn a QA labels dict into one list of 0/1/-100 per head, of the head's length.

    Args:
        labels: head -> list of values (or one non-numeric sentence for "not applicable").
        where: how errors name the record.
        head_sizes: number of sub-metrics per head.
        allow_unknown_heads: if False, an unknown head is a `ValueError`; if True it is skipped (the caller
            sized it beforehand in `head_sizes`).
    """
    unknown = sorted(str(head) for head in labels if head not in head_sizes)
    if unknown and not allow_unknown_heads:
        raise ValueError(
            f"{where}: unknown quality head(s) {unknown}; expected heads {list(head_sizes)} "
            "(or build the label maps from the data with labels_from_data=True)"
        )
    repairs: list[str] = []
    out: dict[str, list[int]] = {}
    for head, size in head_sizes.items():
        if head not in labels:
            repairs.append("qa_head_missing")
            out[head] = [MASKED] * size
            continue
        values = labels[head]
        if not isinstance(values, list):
            # A single sentence ("No hold was required") or a single number stands for the whole head.
            parsed, reason = _qa_value(values)
            if reason == "qa_not_applicable" or reason == "qa_value_missing":
                repairs.append(reason)
                out[head] = [MASKED] * size
                continue
            values = [values]
        row: list[int] = []
        for value in values[:size]:
            parsed, reason = _qa_value(value)
            if reason:
                repairs.append(reason)
            row.append(parsed)
        if len(values) > size:
            repairs.append("qa_list_truncated")
        elif len(values) < size:
            repairs.append("qa_list_padded")
            row += [MASKED] * (size - len(values))
        out[head] = row
    return out, repairs


__all__ = [
    "MASKED",
    "MAX_JSON_DEPTH",
    "DataFileError",
    "FileReport",
    "RecordRejected",
    "UnreadableJSON",
    "ValidationReport",
    "check_text",
    "format_report",
    "json_nesting_exceeds",
    "load_json",
    "log_report",
    "parse_qa_labels",
    "repair_ner_record",
    "repair_qa_labels",
    "resolve_overlaps",
    "write_report",
]
