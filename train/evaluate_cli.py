"""`helpline-fusion evaluate --model DIR --ner-file F --cases-file F [--qa-file F] --output metrics.json`.

Scores any saved model on any files in the supported formats with the trainer's metric keys (`ner_f1`,
`ner_f1_<TYPE>`, `cls_<head>_accuracy`, `cls_<head>_macro_f1`, `cls_priority_critical_recall`, `qa_<head>_f1`,
`composite`). Every record of the files is scored (no split); a Hub dataset id is read at `--X-config` /
`--X-revision`, its `--X-split` (default `test`) scored.

It prints a report a person reads (`train/report.py`): grouped by task (NER, case, call quality, safety), each
figure beside its trivial baseline, with seqeval's per-type table; `--json` prints the metrics as JSON instead,
and `--output` writes them as JSON (the machine output). The plots (confusion matrices, reliability diagrams,
the critical threshold curve) go beside `--output` (or into `--plots-dir`), and into the MLflow run named by
`MLFLOW_RUN_ID` when that is set.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from .sources import check_model_folder

logger = logging.getLogger(__name__)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="helpline-fusion evaluate", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", required=True, help="saved model folder or Hub id (loaded with the installed classes: no code from it runs)"
    )
    parser.add_argument("--ner-file", help="JSON, JSON lines, CSV, Parquet, or a Hub dataset id")
    parser.add_argument("--cases-file")
    parser.add_argument("--qa-file")
    for prefix in ("ner", "cases", "qa"):  # a Hub dataset's config, revision and split; a column mapping (ecodata)
        shown = prefix == "ner"
        parser.add_argument(f"--{prefix}-config", help="config of a Hub dataset (likewise --cases-, --qa-)" if shown
                            else argparse.SUPPRESS)
        parser.add_argument(f"--{prefix}-revision", help="revision of a Hub dataset" if shown else argparse.SUPPRESS)
        parser.add_argument(f"--{prefix}-split", default="test", help="split of a Hub dataset scored (default test, "
                            "or its only split)" if shown else argparse.SUPPRESS)
        parser.add_argument(f"--{prefix}-columns", help="column mapping field=column[,...] or the text column"
                            if shown else argparse.SUPPRESS)
    parser.add_argument("--text-column", help="the input text's column in every file given")
    parser.add_argument("--output", help="write the metrics here as JSON")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (faster on CPUs with bf16 support)")
    parser.add_argument("--window-length", type=int, help="default: the model's")
    parser.add_argument("--window-stride", type=int, help="default: the model's")
    parser.add_argument("--revision", help="Hub revision (tag, branch or commit) of --model")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON instead of the report")
    parser.add_argument("--plots-dir", help="write the plots here (default: beside --output; none without either)")
    return parser.parse_args(argv)


def format_table(metrics: dict[str, float]) -> str:
    width = max(len(key) for key in metrics) if metrics else 10
    return "\n".join(f"{key:<{width}}  {value:.4f}" for key, value in sorted(metrics.items()))


def source_options(args: argparse.Namespace) -> dict[str, dict]:
    """`{task: {"columns", "hub_config", "revision", "split"}}` from the per-task flags (`loaders.load_all`)."""
    from ..data.loaders import TEXT_FIELDS, parse_columns

    options = {}
    for task, prefix in (("ner", "ner"), ("cls", "cases"), ("qa", "qa")):
        columns = parse_columns(getattr(args, f"{prefix}_columns", None), task, f"--{prefix}-columns")
        if getattr(args, "text_column", None):
            columns.setdefault(TEXT_FIELDS[task], args.text_column)
        options[task] = {
            "columns": columns or None, "hub_config": getattr(args, f"{prefix}_config", None),
            "revision": getattr(args, f"{prefix}_revision", None), "split": getattr(args, f"{prefix}_split", None),
        }  # fmt: skip
    return options


def tokenized_files(
    model, tokenizer, ner=None, cases=None, qa=None, window_length: int | None = None, window_stride: int | None = None,
    options: dict[str, dict] | None = None,
) -> tuple[dict, dict]:
    """Load, validate and window the given files for `model`; returns (`{task: windows}`, validation report dict).
    `options`: each task's Hub config, revision, split and column mapping (`source_options`)."""
    from ..data.loaders import load_all
    from ..data.tokenization import tokenize_task

    config = model.config
    loaded, report = load_all(ner=ner, cases=cases, qa=qa, config=config, options=options)
    length = window_length or config.window_length
    stride = window_stride if window_stride is not None else config.window_stride
    tokenized = {
        task: tokenize_task(task, dataset, tokenizer, config, max_length=length, stride=stride)
        for task, dataset in loaded.items()
        if task in config.tasks
    }
    return tokenized, report.to_dict()


def evaluate_model(
    model, tokenizer, ner=None, cases=None, qa=None, batch_size: int = 32, bf16: bool = False,
    window_length: int | None = None, window_stride: int | None = None,
) -> tuple[dict[str, float], dict]:
    """Load, validate, window and score the given files; returns (metrics, validation report dict)."""
    from ..data.collator import MultiTaskCollator
    from .evaluation import evaluate_tasks

    tokenized, report = tokenized_files(model, tokenizer, ner, cases, qa, window_length, window_stride)
    collator = MultiTaskCollator(tokenizer, model.config)
    return evaluate_tasks(model, tokenized, collator, batch_size=batch_size, bf16=bf16), report


def plots_folder(args: argparse.Namespace) -> Path | None:
    if args.plots_dir:
        return Path(args.plots_dir)
    return Path(args.output).parent if args.output else None


def log_run(paths: list[Path], metrics: dict[str, float]) -> str | None:
    """With `MLFLOW_RUN_ID` set, the plots and the metrics go into that MLflow run; returns its id."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return None
    import mlflow

    from .report import log_to_mlflow

    with mlflow.start_run(run_id=run_id):
        log_to_mlflow(paths)
        mlflow.log_dict(metrics, "report/metrics.json")
    return run_id


def _checked_options(args: argparse.Namespace) -> dict[str, Any]:
    """The loaders' source options, once the files and the model folder are checked; ValueError names a problem."""
    if not (args.ner_file or args.cases_file or args.qa_file):
        raise ValueError("give at least one of --ner-file, --cases-file, --qa-file")
    from ..data.loaders import is_local_source

    options = source_options(args)
    for name in ("ner_file", "cases_file", "qa_file"):
        value = getattr(args, name)
        if value and is_local_source(value) and not Path(value).is_file():  # else a Hub dataset id
            raise ValueError(f"--{name.replace('_', '-')} {value}: file not found")
    check_model_folder(args.model)
    return options


def _evaluate_model(args: argparse.Namespace, options: dict[str, Any]) -> Any:
    """Load the model (installed classes only), tokenise the files and evaluate, calibrated as the folder says."""
    from .predict_cli import load_model  # the installed classes: no code from the folder or the Hub repo runs

    model, tokenizer = load_model(args.model, device="cpu", revision=args.revision)
    from ..data.collator import MultiTaskCollator
    from . import report
    from .model_card import read_calibration

    tokenized, _ = tokenized_files(
        model, tokenizer, ner=args.ner_file, cases=args.cases_file, qa=args.qa_file,
        window_length=args.window_length, window_stride=args.window_stride, options=options,
    )  # fmt: skip
    calibration = read_calibration(args.model) if Path(args.model).is_dir() else None
    return report.evaluate(
        model, tokenized, MultiTaskCollator(tokenizer, model.config), batch_size=args.batch_size, bf16=args.bf16,
        calibration=calibration,
    )  # fmt: skip


def _write_results(args: argparse.Namespace, evaluation: Any) -> None:
    """Print the report (or JSON), write the metrics file and the plots, and log them to MLflow when asked."""
    from . import report

    metrics = evaluation.metrics
    if args.json:
        print(json.dumps(metrics, indent=2, sort_keys=True))
    else:
        print(report.format_report(evaluation, title=f"helpline-fusion evaluate --model {args.model}"))
    if args.output:
        from .run_folder import write_atomic

        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(args.output, json.dumps(metrics, indent=2, sort_keys=True))
        print(f"metrics written to {args.output}", file=sys.stderr if args.json else sys.stdout)
    folder = plots_folder(args)
    paths: list[Path] = []
    if folder is not None:
        written = report.write_plots(evaluation, folder)
        if written is None:
            print(report.MATPLOTLIB_MISSING, file=sys.stderr)
        else:
            paths = written
            print(f"plots written to {folder}: {', '.join(p.name for p in paths) or 'none for these tasks'}",
                  file=sys.stderr if args.json else sys.stdout)  # fmt: skip
    run_id = log_run(paths, metrics)
    if run_id:
        print(f"plots and metrics logged to MLflow run {run_id}", file=sys.stderr if args.json else sys.stdout)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        options = _checked_options(args)
        evaluation = _evaluate_model(args, options)
    except ValueError as error:
        print(f"helpline-fusion evaluate: {error}", file=sys.stderr)
        return 2
    _write_results(args, evaluation)
    return 0


if __name__ == "__main__":
    sys.exit(main())
