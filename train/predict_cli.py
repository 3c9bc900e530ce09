"""`helpline-fusion predict`: analyse transcripts with a saved model (a local folder or a Hub id).

    helpline-fusion predict --model outputs/quickstart cases.json --output predictions.jsonl --bf16

Input: JSON Lines or a JSON array of records, each with the transcript in `text` or `narrative` (the data
formats' fields). Output: one JSON object per input record, in input order, with its `id` (the record's `id`,
`uniqueid` or `sample_id`, else its position), its position (`line` for JSON Lines, `index` for an array) and
the model's result (`entities`, `case`, `quality`, `needs_review`, ...). A record that cannot be read is reported
on stderr with its file and line and written as `{"id", "line", "error"}`; the others are still analysed.
`--strict` stops at the first bad record (exit code 2) before any prediction.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .sources import check_model_folder

logger = logging.getLogger(__name__)

ID_FIELDS: tuple[str, ...] = ("id", "uniqueid", "sample_id")
TEXT_FIELDS: tuple[str, ...] = ("text", "narrative")


@dataclass
class InputRecord:
    """One input record: where it is, its id, and its transcript or the reason it was rejected."""

    position_key: str  # "line" (JSON Lines, 1-based) or "index" (JSON array, 0-based)
    position: int
    id: Any
    text: str | None = None
    error: str | None = None
    reason: str | None = None  # a short name for the rejection, for the summary

    def header(self) -> dict[str, Any]:
        return {"id": self.id, self.position_key: self.position}


class BadRecord(ValueError):
    """A record that cannot be analysed; the message names the file and line or index, `reason` names the fault."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpline-fusion predict",
        description="Entities, case labels, call-quality scores and a review flag for each transcript.",
    )
    parser.add_argument("input", type=Path, help="JSON Lines file or JSON array of records with 'text' or 'narrative'")
    parser.add_argument("--model", required=True, help="a saved model folder or a Hub id (loaded with remote code)")
    parser.add_argument("--output", "-o", type=Path, required=True, help="where to write the JSON Lines results")
    parser.add_argument("--batch-size", type=int, default=8, help="windows per encoder call (default 8)")
    parser.add_argument("--bf16", action="store_true", help="run under bfloat16 autocast (CPU or GPU)")
    parser.add_argument("--window-length", type=int, default=None, help="tokens per window (default: the model's)")
    parser.add_argument("--window-stride", type=int, default=None, help="tokens shared by neighbouring windows")
    parser.add_argument("--top-k", type=int, default=3, help="alternatives listed per case head (default 3)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1... (default: cuda if available)")
    parser.add_argument("--strict", action="store_true", help="stop at the first bad record (exit code 2)")
    return parser


# --------------------------------------------------------------------------- reading
def _record_id(record: dict[str, Any], fallback: int) -> Any:
    for name in ID_FIELDS:
        value = record.get(name)
        if value is not None and value != "":
            return value
    return fallback


def _check_record(record: Any, where: str, fallback_id: int) -> tuple[Any, str]:
    """The record's id and transcript, or `BadRecord` saying what was expected and what was found."""
    if not isinstance(record, dict):
        raise BadRecord(f"{where}: expected a JSON object, found {type(record).__name__}", "not_an_object")
    record_id = _record_id(record, fallback_id)
    name = next((field for field in TEXT_FIELDS if field in record), None)
    if name is None:
        keys = ", ".join(sorted(map(str, record))) or "none"
        raise BadRecord(f"{where} (id {record_id}): no 'text' or 'narrative' field (fields found: {keys})", "no_text")
    text = record[name]
    if not isinstance(text, str):
        raise BadRecord(f"{where} (id {record_id}): '{name}' is {type(text).__name__}, expected a string", "bad_text")
    if not text.strip():
        raise BadRecord(f"{where} (id {record_id}): '{name}' is empty, expected a transcript", "empty_text")
    return record_id, text


def read_records(path: Path, strict: bool = False) -> list[InputRecord]:
    """Read JSON Lines or a JSON array; bad records are kept with their error (or raised when `strict`)."""
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot read the input ({error})") from error
    if content.lstrip().startswith("["):
        try:
            items = json.loads(content)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{path} line {error.lineno}: the file starts with '[' but is not a valid JSON array ({error.msg})"
            ) from error
        rows = [("index", index, item, None) for index, item in enumerate(items)]
        where = lambda key, n: f"{path} record {n}"  # noqa: E731
    else:
        rows = []
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue  # blank lines separate nothing in JSON Lines
            try:
                rows.append(("line", number, json.loads(line), None))
            except json.JSONDecodeError as error:
                rows.append(("line", number, None, f"invalid JSON at column {error.colno} ({error.msg})"))
        where = lambda key, n: f"{path} line {n}"  # noqa: E731

    records = []
    for key, number, item, parse_error in rows:
        try:
            if parse_error is not None:
                raise BadRecord(f"{where(key, number)}: {parse_error}", "invalid_json")
            record_id, text = _check_record(item, where(key, number), number)
            records.append(InputRecord(key, number, record_id, text=text))
        except BadRecord as error:
            if strict:
                raise
            fallback = _record_id(item, number) if isinstance(item, dict) else number
            records.append(InputRecord(key, number, fallback, error=str(error), reason=error.reason))
    return records


# --------------------------------------------------------------------------- predicting
def load_model(name_or_path: str, device: str | None) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    try:
        model = AutoModel.from_pretrained(name_or_path, trust_remote_code=True)
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=True)
    except (OSError, ValueError) as error:
        raise ValueError(f"--model {name_or_path}: cannot load a model and tokenizer from it ({error})") from error
    if not callable(getattr(model, "predict", None)):
        raise ValueError(f"--model {name_or_path}: {type(model).__name__} has no predict(); expected the fusion model")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval(), tokenizer


def predict_records(
    records: list[InputRecord], model: Any, tokenizer: Any, output: Path, options: dict[str, Any]
) -> int:
    """Analyse the good records in chunks (progress bar per transcript) and write every record in input order."""
    from tqdm.auto import tqdm

    chunk_size = max(8 * options["batch_size"], 64)  # enough windows to sort by length, small enough to stream
    written = 0
    output.parent.mkdir(parents=True, exist_ok=True)
    with (
        output.open("w", encoding="utf-8") as sink,
        tqdm(total=sum(r.text is not None for r in records), unit="transcript", desc="predict") as progress,
    ):
        for start in range(0, len(records), chunk_size):
            chunk = records[start : start + chunk_size]
            good = [record for record in chunk if record.text is not None]
            results = iter(model.predict([record.text for record in good], tokenizer, **options) if good else [])
            for record in chunk:
                payload = {"error": record.error} if record.text is None else next(results)
                sink.write(json.dumps({**record.header(), **payload}, ensure_ascii=False) + "\n")
                written += 1
            progress.update(len(good))
    return written


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.batch_size < 1:
        print(f"helpline-fusion predict: --batch-size must be at least 1, got {args.batch_size}", file=sys.stderr)
        return 2
    try:
        check_model_folder(args.model)
        records = read_records(args.input, strict=args.strict)
    except BadRecord as error:
        print(f"helpline-fusion predict: {error} (--strict: stopping, nothing written)", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"helpline-fusion predict: {error}", file=sys.stderr)
        return 2
    if not records:  # nothing to analyse: say so, write the (empty) output a pipeline expects, load no model
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text("", encoding="utf-8")
        print(f"helpline-fusion predict: no records in {args.input}", file=sys.stderr)
        return 0
    rejected = [record for record in records if record.error is not None]
    for record in rejected:
        print(f"helpline-fusion predict: skipped {record.error}", file=sys.stderr)
    try:
        model, tokenizer = load_model(args.model, args.device)
        options = {"batch_size": args.batch_size, "bf16": args.bf16, "window_length": args.window_length,
                   "window_stride": args.window_stride, "top_k": args.top_k}  # fmt: skip
        written = predict_records(records, model, tokenizer, args.output, options)
    except ValueError as error:
        print(f"helpline-fusion predict: {error}", file=sys.stderr)
        return 2
    reasons = ", ".join(f"{name} {count}" for name, count in sorted(Counter(r.reason for r in rejected).items()))
    print(
        f"helpline-fusion predict: {written - len(rejected)} transcripts analysed, {len(rejected)} records rejected"
        + (f" ({reasons})" if reasons else "")
        + f"; wrote {written} lines to {args.output}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
