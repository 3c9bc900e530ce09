"""`helpline-fusion predict`: analyse transcripts with a saved model (a local folder or a Hub id).

    helpline-fusion predict --model outputs/quickstart cases.json --output predictions.jsonl --precision auto

Input: JSON Lines or a JSON array of records, each with the transcript in `text` or `narrative` (the data
formats' fields). Output: one JSON object per input record, in input order, with its `id` (the record's `id`,
`uniqueid` or `sample_id`, else its position), its position (`line` for JSON Lines, `index` for an array) and
the model's result (`entities`, `case`, `quality`, `needs_review`, ...). A record that cannot be read is reported
on stderr with its file and line and written as `{"id", "line", "error"}`; the others are still analysed.
`--strict` stops at the first bad record (exit code 2) before any prediction.

JSON Lines input is streamed: read, analysed and written chunk by chunk (memory stays flat with the file's size),
each chunk appended in whole lines to `OUTPUT.partial` beside the output, which replaces the output (`os.replace`)
only when the run ends well: a run killed half-way leaves a valid JSON Lines prefix in `OUTPUT.partial` and the
output as it was (an earlier run's complete results are never lost to a failed rerun). An output that is the
input (the same path, a symlink or a hard link) is refused. A JSON array is parsed whole. A line that is not JSON,
nested more than 100 levels deep or holding an integer too long to read is a bad record like any other.

The model is loaded with the package's own classes (`AttentionFusionModel`, `AutoTokenizer` without remote code):
no code from the model folder or the Hub repo runs. `--revision` pins a Hub revision.

A file with no records is said on stderr and gives an empty output (exit code 0); exit code 2, with a one-line
message, for an unreadable file or one in which no record holds a readable transcript, an output that is the
input, or results that cannot be written (a full disk: the message names the output and the reason).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import stat
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, the rest holds
    fcntl = None

from ..data.validation import MAX_JSON_DEPTH, UnreadableJSON, json_nesting_exceeds, load_json
from .sources import check_model_folder

logger = logging.getLogger(__name__)

ID_FIELDS: tuple[str, ...] = ("id", "uniqueid", "sample_id")
TEXT_FIELDS: tuple[str, ...] = ("text", "narrative")
MAX_CHARS = 1_000_000
"""Longest transcript analysed by default: a call of several hours; a longer "transcript" is more likely a wrong
file, and would cost minutes and gigabytes of windows."""


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


def cli_precision(args: argparse.Namespace) -> str:
    """`--precision` (default auto); the deprecated `--bf16` means `--precision bf16`."""
    if args.bf16:
        print("helpline-fusion predict: --bf16 is deprecated; use --precision bf16", file=sys.stderr)
        if args.precision not in (None, "bf16"):
            raise ValueError(f"--bf16 contradicts --precision {args.precision}; give --precision only")
        return "bf16"
    return args.precision or "auto"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpline-fusion predict",
        description="Entities, case labels, call-quality scores and a review flag for each transcript.",
    )
    parser.add_argument("input", type=Path, help="JSON Lines file or JSON array of records with 'text' or 'narrative'")
    parser.add_argument(
        "--model", required=True,
        help="a saved model folder or a Hub id (loaded with the installed classes: no code from it runs)",
    )  # fmt: skip
    parser.add_argument("--revision", default=None, help="Hub revision of --model: a tag, branch or commit (pin one)")
    parser.add_argument("--output", "-o", type=Path, required=True, help="where to write the JSON Lines results")
    parser.add_argument("--batch-size", type=int, default=8, help="windows per encoder call (default 8)")
    parser.add_argument(
        "--precision", choices=("auto", "fp32", "bf16", "int8"), default=None,
        help="auto (default): bf16 where the CPU computes it natively (AVX-512 BF16/AMX), else fp32, logged",
    )  # fmt: skip
    parser.add_argument("--bf16", action="store_true", help=argparse.SUPPRESS)  # deprecated: --precision bf16
    parser.add_argument(
        "--backend", choices=("torch", "onnx", "openvino"), default="torch",
        help="torch (default), or the graph `helpline-fusion export` wrote into the model folder (extra: onnx/openvino)",
    )  # fmt: skip
    parser.add_argument("--window-length", type=int, default=None, help="tokens per window (default: the model's)")
    parser.add_argument("--window-stride", type=int, default=None, help="tokens shared by neighbouring windows")
    parser.add_argument("--top-k", type=int, default=3, help="alternatives listed per case head (default 3)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1... (default: cuda if available)")
    parser.add_argument(
        "--evidence", action="store_true",
        help="add each decision's evidence: the spans its attention pooling weighted most ({start, end, text, "
        "weight}, offsets into the transcript); off by default, it nearly doubles each result",
    )  # fmt: skip
    parser.add_argument(
        "--evidence-top-k", type=int, default=None,
        help="evidence spans per decision, with --evidence (default: the model's evidence_top_k, 3)",
    )  # fmt: skip
    parser.add_argument("--strict", action="store_true", help="stop at the first bad record (exit code 2)")
    parser.add_argument(
        "--engine", choices=("local", "ray"), default="local",
        help="ray: on Ray Data workers, JSON Lines or Parquet in and out (extra: ray; see train/ray_batch.py)",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=2, help="Ray workers with --engine ray (default 2)")
    parser.add_argument(
        "--max-chars", type=int, default=MAX_CHARS,
        help=f"reject a transcript longer than this many characters (default {MAX_CHARS:,})",
    )  # fmt: skip
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


def _starts_with_bracket(path: Path) -> bool:
    """Whether the file is a JSON array (its first non-blank character is `[`), read without loading it."""
    with path.open("rb") as handle:
        head = handle.read(4096).removeprefix(b"\xef\xbb\xbf")
        while head and not head.strip():
            head = handle.read(4096)
    return head.lstrip().startswith(b"[")


def _rows(path: Path) -> Iterator[tuple[str, int, Any, str | None, str | None]]:
    """`(position key, position, parsed record, error, reason)` for each record, one at a time for JSON Lines
    (bounded memory: one line in memory), the whole file for a JSON array."""
    try:
        is_array = _starts_with_bracket(path)
    except OSError as error:
        raise ValueError(f"{path}: cannot read the input ({error.strerror or error})") from error
    if is_array:
        try:
            items = load_json(path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8"), limit=None)
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}: not UTF-8 text (byte {error.start}); expected JSON Lines or a JSON array") from None
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{path} line {error.lineno}: the file starts with '[' but is not a valid JSON array ({error.msg})"
            ) from None
        except UnreadableJSON as error:
            raise ValueError(f"{path}: the file starts with '[' but is not a readable JSON array ({error})") from None
        if not isinstance(items, list):
            raise ValueError(f"{path}: the file starts with '[' but is not a JSON array")
        for index, item in enumerate(items):
            if json_nesting_exceeds(item, MAX_JSON_DEPTH):
                yield "index", index, None, f"nested more than {MAX_JSON_DEPTH} levels deep", "nested_too_deep"
            else:
                yield "index", index, item, None, None
        return
    with path.open("rb") as handle:  # binary: lines end at b"\n" only (a transcript may hold U+2028)
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue  # blank lines separate nothing in JSON Lines
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                yield "line", number, None, f"not UTF-8 at byte {error.start}, expected UTF-8 JSON", "not_utf8"
                continue
            try:
                item = load_json(line)
            except json.JSONDecodeError as error:
                yield "line", number, None, f"invalid JSON at column {error.colno} ({error.msg})", "invalid_json"
            except UnreadableJSON as error:  # nested too deeply, or an integer too long to read
                yield "line", number, None, f"invalid JSON ({error})", "invalid_json"
            else:
                yield "line", number, item, None, None


def iter_records(path: Path, strict: bool = False, max_chars: int | None = None) -> Iterator[InputRecord]:
    """Read JSON Lines (streamed) or a JSON array, one `InputRecord` at a time; bad records carry their error
    (or raise `BadRecord` when `strict`). A transcript longer than `max_chars` characters is a bad record."""
    describe = (lambda n: f"{path} record {n}", lambda n: f"{path} line {n}")
    for key, number, item, parse_error, reason in _rows(path):
        where = describe[key == "line"](number)
        try:
            if parse_error is not None:
                raise BadRecord(f"{where}: {parse_error}", reason)
            record_id, text = _check_record(item, where, number)
            if max_chars is not None and len(text) > max_chars:
                raise BadRecord(
                    f"{where} (id {record_id}): the transcript has {len(text):,} characters, over the limit of "
                    f"{max_chars:,} (--max-chars); split it or raise the limit",
                    "too_long",
                )
            yield InputRecord(key, number, record_id, text=text)
        except BadRecord as error:
            if strict:
                raise
            fallback = _record_id(item, number) if isinstance(item, dict) else number
            yield InputRecord(key, number, fallback, error=str(error), reason=error.reason)


def read_records(path: Path, strict: bool = False, max_chars: int | None = None) -> list[InputRecord]:
    """All records of a file (see `iter_records`, which `predict` uses to stream)."""
    return list(iter_records(path, strict=strict, max_chars=max_chars))


# --------------------------------------------------------------------------- predicting
def load_exported_model(
    name_or_path: str, backend: str, precision: str, revision: str | None = None
) -> tuple[Any, Any]:
    """The exported graph of a model folder (or of a Hub repo, downloading only its config, tokenizer and export
    files) run by `backend`, with its tokenizer; `precision` `auto` means the backend's own choice."""
    from transformers import AutoTokenizer

    from ..modeling_attention_fusion.inference_attention_fusion import ExportedFusionModel

    folder = name_or_path
    if not os.path.isdir(folder):
        from huggingface_hub import snapshot_download

        folder = snapshot_download(name_or_path, revision=revision, allow_patterns=[
            "config.json", "*.json", "*.txt", "*.model", f"{backend}/*"])  # fmt: skip
    model = ExportedFusionModel.from_pretrained(folder, backend=backend, precision=None if precision == "auto" else precision)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    print(f"helpline-fusion predict: backend {backend}, precision {model.precision}", file=sys.stderr)
    return model, tokenizer


def load_model(
    name_or_path: str, device: str | None = None, revision: str | None = None, setting: str = "--model"
) -> tuple[Any, Any]:
    """The fusion model and its tokenizer, loaded with the installed classes: no code from the folder or the Hub
    repo runs (`trust_remote_code` is never set; the published `*.py` files are for users without the package).
    `revision` (a tag, branch or commit of a Hub repo) reaches both loads. A model of another type, or a folder
    that cannot be loaded, is a `ValueError` naming `setting` and the model."""
    from transformers import AutoTokenizer, PretrainedConfig

    from ..modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel

    try:
        config_dict, _ = PretrainedConfig.get_config_dict(name_or_path, revision=revision)
        model_type = config_dict.get("model_type")
        if model_type is None:
            raise ValueError(f"{setting} {name_or_path}: no config.json naming a model_type there")
        if model_type != AttentionFusionConfig.model_type:
            raise ValueError(
                f"{setting} {name_or_path}: a model of type {model_type!r}, expected a helpline-fusion model "
                f"(model_type {AttentionFusionConfig.model_type!r})"
            )
        model = AttentionFusionModel.from_pretrained(name_or_path, revision=revision)
        # Explicitly False: a tokenizer_config.json `auto_map` is then never run and never prompts on stdin.
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, revision=revision, trust_remote_code=False)
    except (OSError, ValueError) as error:
        if str(error).startswith(f"{setting} {name_or_path}:"):
            raise
        raise ValueError(f"{setting} {name_or_path}: cannot load a model and tokenizer from it ({error})") from error
    warn_if_unfinished(name_or_path, setting)
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    return model.to(device).eval(), tokenizer


def warn_if_unfinished(name_or_path: str, setting: str = "--model") -> list[str]:
    """A local folder whose training stopped after the model was saved (a phase failed: calibration, say) still
    loads, but its thresholds may be the uncalibrated defaults: say so on stderr, with the phases not run."""
    from .run_folder import MixedRunFolderError, read_manifest

    try:
        pending = list(read_manifest(name_or_path).get("phases_pending") or [])
    except MixedRunFolderError:
        return []  # no manifest (a Hub id, an older folder): nothing to say
    if pending:
        print(
            f"helpline-fusion: warning: {setting} {name_or_path} is an unfinished training run (phases not run: "
            f"{', '.join(pending)}); its decisions may use uncalibrated thresholds. Finish it with the training "
            "command and `--resume_phases true`",
            file=sys.stderr,
        )
    return pending


def partial_path(output: Path) -> Path:
    """Where a run writes its results until it ends: `OUTPUT.partial`, beside the output (same file system, so
    the final `os.replace` is atomic). A killed run leaves its whole lines there; the output is left as it was."""
    return output.with_name(output.name + ".partial")


def same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name one file: the same path, a symlink to it or a hard link (`os.path.samefile`)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (or cannot be read): compare what the paths would name
        return a.resolve() == b.resolve()


class OutputError(OSError):
    """The results could not be written; the message says where, why, and what was left in place."""


class ResultsWriter:
    """Writes JSON Lines to `partial_path(output)` in whole lines and moves it onto `output` when `commit()`ed.

    - One write per chunk of whole lines; a write that fails half-way (a full disk, a file-size limit) is cut back
      to the last whole line, so the partial file only ever holds whole lines (a `SIGKILL` in the middle of one
      large `write()` can still cut its last line: the kernel may stop between pages).
    - `commit()` flushes to disk (`fsync`) and `os.replace`s the partial file onto the output, so the output is
      always either the earlier complete results or the new complete ones, never a mix or a prefix.
    - The file is created readable by its owner and group only (0o640, less what the umask removes): predictions
      quote entity texts (names, ages, places).
    - A second run writing the same output at the same time is refused (an exclusive `flock` on the partial file).
    """

    def __init__(self, output: Path) -> None:
        self.output, self.partial = output, partial_path(output)
        self.lines = 0
        self._size = 0
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            # O_NOFOLLOW: a symlink planted at the partial name is refused, never truncated through.
            fd = os.open(self.partial, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o640)
        except OSError as error:
            raise OutputError(f"cannot write the results to {output} ({_reason(error)})") from error
        self._file = os.fdopen(fd, "r+b", buffering=0)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.ftruncate(fd, 0)  # a partial file left by a killed run is not results: start it afresh
            os.fchmod(fd, stat.S_IMODE(os.fstat(fd).st_mode) & 0o640)
        except BlockingIOError:
            self._file.close()
            raise OutputError(
                f"{output}: another predict is writing it ({self.partial} is locked); wait for it or choose "
                "another --output"
            ) from None
        except OSError as error:
            self._file.close()
            raise OutputError(f"cannot write the results to {self.partial} ({_reason(error)})") from error

    def write_lines(self, data: bytes, count: int) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[self._file.write(view) :]
        except OSError as error:
            os.ftruncate(self._file.fileno(), self._size)  # only whole lines stay (truncating needs no space)
            raise self.failure(error) from error
        self._size += len(data)
        self.lines += count

    def failure(self, error: OSError) -> OutputError:
        kept = f"{self.output} left as it was" if self.output.exists() else f"{self.output} not written"
        return OutputError(
            f"cannot write the results to {self.partial} ({_reason(error)}); {kept}, the {self.lines} complete "
            f"lines written before are in {self.partial}"
        )

    def commit(self) -> None:
        try:
            os.fsync(self._file.fileno())
            os.replace(self.partial, self.output)
        except OSError as error:
            raise self.failure(error) from error
        finally:
            self._file.close()

    def close(self) -> None:
        self._file.close()


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def predict_stream(
    records: Iterable[InputRecord], model: Any, tokenizer: Any, output: Path, options: dict[str, Any],
    total: int | None = None,
) -> Counter:
    """Analyse records as they are read, in chunks, and write every record in input order.

    Memory is bounded by one chunk. Each chunk's lines go to `OUTPUT.partial` in one unbuffered write of whole
    lines, so a run killed at any moment leaves a valid JSON Lines prefix of the results there, and `output`
    itself is replaced only when every record is written (see `ResultsWriter`). Returns counts of `analysed`
    and of each rejection reason. Raises `OutputError` when the results cannot be written.
    """
    from tqdm.auto import tqdm

    chunk_size = max(8 * options["batch_size"], 64)  # enough windows to sort by length, small enough to stream
    counts: Counter = Counter()
    sink = ResultsWriter(output)

    def flush(chunk: list[InputRecord]) -> None:
        good = [record for record in chunk if record.text is not None]
        results = iter(model.predict([record.text for record in good], tokenizer, **options) if good else [])
        lines = []
        for record in chunk:
            payload = {"error": record.error} if record.text is None else next(results)
            lines.append(json.dumps({**record.header(), **payload}, ensure_ascii=False) + "\n")
            counts["analysed" if record.text is not None else record.reason] += 1
        sink.write_lines("".join(lines).encode("utf-8"), len(lines))
        progress.update(len(good))

    try:
        with tqdm(total=total, unit="transcript", desc="predict") as progress:
            chunk: list[InputRecord] = []
            for record in records:
                chunk.append(record)
                if len(chunk) == chunk_size:
                    flush(chunk)
                    chunk = []
            if chunk:
                flush(chunk)
    except BaseException:  # a model error, Ctrl-C, a full disk: the output keeps the earlier results
        sink.close()
        raise
    sink.commit()
    return counts


def scan(path: Path, strict: bool, max_chars: int | None) -> Counter:
    """A first pass over the input (bounded memory): counts of good records and of each rejection reason; every
    bad record is named on stderr once. With `strict`, the first bad record raises `BadRecord`."""
    counts: Counter = Counter()
    for record in iter_records(path, strict=strict, max_chars=max_chars):
        if record.error is None:
            counts["good"] += 1
        else:
            counts[record.reason] += 1
            print(f"helpline-fusion predict: skipped {record.error}", file=sys.stderr)
    return counts


def check_paths(source: Path, output: Path) -> None:
    """Refuse an output that would overwrite the input: the same file (a path, a symlink or a hard link to it),
    or one whose partial file is the input; and an output that is a folder."""
    if output.is_dir():
        raise ValueError(f"--output {output} is a folder; expected the path of a JSON Lines file to write")
    for target in (output, partial_path(output)):
        if same_file(source, target):
            raise ValueError(
                f"--output {output} is the input {source} (the same file); writing the results would destroy "
                "the input: choose another --output"
            )


def _argument_error(args: argparse.Namespace) -> str | None:
    """The message for an out-of-range --batch-size, --max-chars or --evidence-top-k, else None."""
    if args.batch_size < 1:
        return f"--batch-size must be at least 1, got {args.batch_size}"
    if args.max_chars < 1:
        return f"--max-chars must be at least 1, got {args.max_chars}"
    if args.evidence_top_k is not None and (not args.evidence or args.evidence_top_k < 1):
        return ("--evidence-top-k takes a number of spans of at least 1, with --evidence; got "
                f"{args.evidence_top_k}" + ("" if args.evidence else " without --evidence"))  # fmt: skip
    return None


def _without_analysis(args: argparse.Namespace, found: Counter) -> int | None:
    """The exit code when the scan found nothing to analyse (an empty input, or no readable transcript), else None."""
    rejected = sum(count for reason, count in found.items() if reason != "good")
    if not found:  # nothing to analyse: say so, write the (empty) output a pipeline expects, load no model
        try:
            ResultsWriter(args.output).commit()
        except OutputError as error:
            print(f"helpline-fusion predict: {error}", file=sys.stderr)
            return 2
        print(f"helpline-fusion predict: no records in {args.input}", file=sys.stderr)
        return 0
    if not found["good"]:
        print(
            f"helpline-fusion predict: no readable transcript in {args.input} ({rejected} records rejected); "
            "nothing written",
            file=sys.stderr,
        )
        return 2
    return None


def _load_for_predict(args: argparse.Namespace) -> tuple[Any, Any, str | None]:
    """`(model, tokenizer, precision)` for the chosen backend; precision is None for an exported graph."""
    from ..modeling_attention_fusion.inference_attention_fusion import cpu_flags, resolve_precision

    precision = cli_precision(args)
    if args.backend != "torch":
        model, tokenizer = load_exported_model(args.model, args.backend, precision, revision=args.revision)
        precision = None  # chosen when the graph was loaded
    else:
        model, tokenizer = load_model(args.model, args.device, revision=args.revision)
    if precision == "int8":
        raise ValueError("--precision int8 runs an exported int8 graph: add --backend onnx")
    if precision is not None:
        precision = resolve_precision(precision, next(model.parameters()).device)
        if (args.precision or "auto") == "auto" and not args.bf16:
            flags = ", ".join(name for name, present in cpu_flags().items() if present) or "none of them"
            print(f"helpline-fusion predict: precision auto -> {precision} (CPU flags: {flags})", file=sys.stderr)
    return model, tokenizer, precision


def _predict_options(args: argparse.Namespace, precision: str | None) -> dict[str, Any]:
    """The keyword arguments `model.predict` gets from the command line."""
    options = {"batch_size": args.batch_size, "precision": precision, "window_length": args.window_length,
               "window_stride": args.window_stride, "top_k": args.top_k}  # fmt: skip
    if args.evidence:
        options.update(evidence=True, evidence_top_k=args.evidence_top_k)
    return options


def _print_summary(counts: Counter, output: Path) -> None:
    """One stderr line: transcripts analysed, records rejected by reason, lines written."""
    rejections = {reason: count for reason, count in counts.items() if reason != "analysed"}
    reasons = ", ".join(f"{name} {count}" for name, count in sorted(rejections.items()))
    print(
        f"helpline-fusion predict: {counts['analysed']} transcripts analysed, {sum(rejections.values())} records "
        f"rejected" + (f" ({reasons})" if reasons else "") + f"; wrote {counts.total()} lines to {output}",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = _argument_error(args)
    if problem is not None:
        print(f"helpline-fusion predict: {problem}", file=sys.stderr)
        return 2
    if args.engine == "ray":
        from .ray_batch import main_ray

        return main_ray(args)
    try:
        check_paths(args.input, args.output)
        check_model_folder(args.model)
        found = scan(args.input, args.strict, args.max_chars)
    except BadRecord as error:
        print(f"helpline-fusion predict: {error} (--strict: stopping, nothing written)", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"helpline-fusion predict: {error}", file=sys.stderr)
        return 2
    code = _without_analysis(args, found)
    if code is not None:
        return code
    try:
        model, tokenizer, precision = _load_for_predict(args)
        options = _predict_options(args, precision)
        records = iter_records(args.input, max_chars=args.max_chars)
        counts = predict_stream(records, model, tokenizer, args.output, options, total=found["good"])
    except (ValueError, OutputError) as error:
        print(f"helpline-fusion predict: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"helpline-fusion predict: interrupted; {args.output} left as it was, the lines written so far are in "
            f"{partial_path(args.output)}",
            file=sys.stderr,
        )
        return 130
    _print_summary(counts, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
