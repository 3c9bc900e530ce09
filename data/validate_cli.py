"""`helpline-fusion validate`: check data files before training and print the repair report.

A file is JSON (an array or JSON lines), CSV/TSV or Parquet (by suffix), or a Hub dataset id read at
`--X-config` / `--X-revision`; a Hub dataset's training split (`--X-split`, default train) and its own validation
and test splits are each checked and reported. `--X-columns` maps fields named otherwise (`narrative=transcript`).

Exit status: 0 when every file was read (records may still be repaired or rejected: see the report), 2 when a
file cannot be read at all (missing, not JSON, wrong container) or has malformed JSON lines (each one is named on
stderr and counted as rejected in the report, as a linter would; training refuses such a file), 1 when a file was read but breaks the label
schema (a label outside the config, an unknown quality head). Every file given is checked either way.

Example:
    helpline-fusion validate --ner-file ../shared/data/ner_helpline.jsonl \\
        --cases-file ../shared/data/cases_helpline.json --report outputs/data_report.json
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from .validation import DataFileError, ValidationReport, format_report, write_report

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_SCHEMA, EXIT_UNREADABLE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpline-fusion validate",
        description="Check helpline data files and print, per file, records read, kept, repaired and rejected "
        "with the reason of each repair and rejection.",
    )
    parser.add_argument("--ner-file", help="NER data: JSON lines of {text, entities} (or CSV, Parquet, a Hub dataset id)")
    parser.add_argument("--cases-file", help="case records: a JSON array (narrative, category, intervention, priority)")
    parser.add_argument("--qa-file", help="call-quality records: a JSON array of {text, labels, ...}")
    for prefix in ("ner", "cases", "qa"):
        parser.add_argument(f"--{prefix}-config", help=argparse.SUPPRESS if prefix != "ner" else
                            "config of a Hub dataset id (likewise --cases-config, --qa-config)")
        parser.add_argument(f"--{prefix}-revision", help=argparse.SUPPRESS if prefix != "ner" else
                            "revision of a Hub dataset id (likewise --cases-revision, --qa-revision)")
        parser.add_argument(f"--{prefix}-split", help=argparse.SUPPRESS if prefix != "ner" else
                            "training split of a Hub dataset (default train; likewise --cases-split, --qa-split)")
        parser.add_argument(f"--{prefix}-columns", help=argparse.SUPPRESS if prefix != "ner" else
                            "column mapping field=column[,field=column] or the text column's name "
                            "(likewise --cases-columns, --qa-columns)")
    parser.add_argument("--text-column", help="the input text's column in every file given (default: text / narrative)")
    parser.add_argument("--report", help="also write the report as JSON to this path")
    parser.add_argument(
        "--config",
        help="a model config (config.json or a model folder) whose label schema the data must follow "
        "(default: the label reference)",
    )
    parser.add_argument(
        "--labels-from-data",
        action="store_true",
        help="accept labels outside the schema (the label maps will be built from the data)",
    )
    parser.add_argument(
        "--realign-spans",
        action="store_true",
        help="realign the drifted spans of NER records that would be rejected as spans_misaligned, where the record "
        "proves the shift (data/realign.py); the report lists each realigned record by id, span index and shift",
    )
    return parser


def _load_config(path: str | None):
    if path is None:
        return None
    from ..modeling_attention_fusion.configuration_attention_fusion import AttentionFusionConfig

    return AttentionFusionConfig.from_pretrained(path)


def _add_file_report(report: ValidationReport, file_report, task: str, path: str) -> int:
    """Add one file's (or split's) report; its malformed lines are each named on stderr, like a linter (training
    refuses the file until they are fixed). Returns the exit status it calls for."""
    report.add(file_report)
    if not file_report.malformed_lines:
        return EXIT_OK
    for message in file_report.malformed_lines:
        print(f"error: {message}", file=sys.stderr)
    print(
        f"error: {task} file {path!r} has {len(file_report.malformed_lines)} malformed line(s); "
        "training refuses it until they are fixed",
        file=sys.stderr,
    )
    return EXIT_UNREADABLE


def _validate_task(
    args: argparse.Namespace, task: str, path: str, prefix: str, columns: dict[str, str], config: Any,
    report: ValidationReport,
) -> int:  # fmt: skip
    """Load one task's file (or Hub dataset) as training would and add its reports; returns the exit status."""
    from .loaders import load_task_splits

    extra = {"realign_spans": True} if task == "ner" and args.realign_spans else {}
    try:
        _, file_reports = load_task_splits(
            task, path, split=getattr(args, f"{prefix}_split") or "train",
            hub_config=getattr(args, f"{prefix}_config"), revision=getattr(args, f"{prefix}_revision"),
            config=config, labels_from_data=args.labels_from_data, reject_malformed=True, columns=columns or None,
            **extra,
        )  # fmt: skip
    except (OSError, DataFileError) as exc:
        print(f"error: cannot read {task} file {path!r}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except ValueError as exc:
        print(f"error: {task} file {path!r} breaks the label schema: {exc}", file=sys.stderr)
        return EXIT_SCHEMA
    status = EXIT_OK
    for file_report in file_reports:
        status = max(status, _add_file_report(report, file_report, task, path))
    return status


def _print_report(report: ValidationReport) -> int:
    """Print the report and the balance check (read = kept + repaired + rejected); returns the exit status."""
    print(format_report(report))
    unbalanced = [path for path, item in report.files.items() if not item.balanced]
    if unbalanced:  # cannot happen by construction; a guard against a silent loss
        print(f"error: kept + repaired + rejected != read for {unbalanced}", file=sys.stderr)
        return EXIT_SCHEMA
    print("\nkept + repaired + rejected = read for every file.")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    files = [("ner", args.ner_file, "ner"), ("cls", args.cases_file, "cases"), ("qa", args.qa_file, "qa")]
    files = [(task, path, prefix) for task, path, prefix in files if path]
    if not files:
        parser.print_usage(sys.stderr)
        print("helpline-fusion validate: give at least one of --ner-file, --cases-file, --qa-file", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        config = _load_config(args.config)
    except (OSError, ValueError) as exc:
        print(f"helpline-fusion validate: cannot read the config {args.config!r}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE

    from .loaders import TEXT_FIELDS, parse_columns

    report = ValidationReport()
    status = EXIT_OK
    for task, path, prefix in files:
        try:
            columns = parse_columns(getattr(args, f"{prefix}_columns"), task, f"--{prefix}-columns")
        except ValueError as exc:
            print(f"helpline-fusion validate: {exc}", file=sys.stderr)
            return EXIT_UNREADABLE
        if args.text_column:
            columns.setdefault(TEXT_FIELDS[task], args.text_column)
        status = max(status, _validate_task(args, task, path, prefix, columns, config, report))

    if report.files:
        status = max(status, _print_report(report))
    if args.report:
        try:
            written = write_report(report, args.report)
        except OSError as exc:
            print(f"error: cannot write the report to {args.report!r}: {exc}", file=sys.stderr)
            return max(status, EXIT_UNREADABLE)
        print(f"report written to {written}")
    return status


if __name__ == "__main__":
    sys.exit(main())
