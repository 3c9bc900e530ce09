"""`helpline-fusion evaluate --model DIR --ner-file F --cases-file F [--qa-file F] --output metrics.json`.

Scores any saved model on any files in the supported formats with the trainer's metric keys (`ner_f1`,
`ner_f1_<TYPE>`, `cls_<head>_accuracy`, `cls_<head>_macro_f1`, `cls_priority_critical_recall`, `qa_<head>_f1`,
`composite`), prints a table and writes them as JSON. Every record of the files is scored (no split).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .sources import check_model_folder

logger = logging.getLogger(__name__)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="helpline-fusion evaluate", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", required=True, help="saved model folder or Hub id (loaded with the installed classes: no code from it runs)"
    )
    parser.add_argument("--ner-file")
    parser.add_argument("--cases-file")
    parser.add_argument("--qa-file")
    parser.add_argument("--output", help="write the metrics here as JSON")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (faster on CPUs with bf16 support)")
    parser.add_argument("--window-length", type=int, help="default: the model's")
    parser.add_argument("--window-stride", type=int, help="default: the model's")
    parser.add_argument("--revision", help="Hub revision (tag, branch or commit) of --model")
    return parser.parse_args(argv)


def format_table(metrics: dict[str, float]) -> str:
    width = max(len(key) for key in metrics) if metrics else 10
    return "\n".join(f"{key:<{width}}  {value:.4f}" for key, value in sorted(metrics.items()))


def evaluate_model(
    model, tokenizer, ner=None, cases=None, qa=None, batch_size: int = 32, bf16: bool = False,
    window_length: int | None = None, window_stride: int | None = None,
) -> tuple[dict[str, float], dict]:
    """Load, validate, window and score the given files; returns (metrics, validation report dict)."""
    from ..data.collator import MultiTaskCollator
    from ..data.loaders import load_all
    from ..data.tokenization import tokenize_task
    from .evaluation import evaluate_tasks

    config = model.config
    loaded, report = load_all(ner=ner, cases=cases, qa=qa, config=config)
    length = window_length or config.window_length
    stride = window_stride if window_stride is not None else config.window_stride
    tokenized = {
        task: tokenize_task(task, dataset, tokenizer, config, max_length=length, stride=stride)
        for task, dataset in loaded.items()
        if task in config.tasks
    }
    metrics = evaluate_tasks(model, tokenized, MultiTaskCollator(tokenizer, config), batch_size=batch_size, bf16=bf16)
    return metrics, report.to_dict()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    if not (args.ner_file or args.cases_file or args.qa_file):
        print("helpline-fusion evaluate: give at least one of --ner-file, --cases-file, --qa-file", file=sys.stderr)
        return 2
    for name in ("ner_file", "cases_file", "qa_file"):
        value = getattr(args, name)
        if value and not Path(value).is_file():
            print(f"helpline-fusion evaluate: --{name.replace('_', '-')} {value}: file not found", file=sys.stderr)
            return 2
    try:
        check_model_folder(args.model)
    except ValueError as error:
        print(f"helpline-fusion evaluate: {error}", file=sys.stderr)
        return 2
    from .predict_cli import load_model  # the installed classes: no code from the folder or the Hub repo runs

    try:
        model, tokenizer = load_model(args.model, device="cpu", revision=args.revision)
    except ValueError as error:
        print(f"helpline-fusion evaluate: {error}", file=sys.stderr)
        return 2
    try:
        metrics, _ = evaluate_model(
            model, tokenizer, ner=args.ner_file, cases=args.cases_file, qa=args.qa_file,
            batch_size=args.batch_size, bf16=args.bf16, window_length=args.window_length,
            window_stride=args.window_stride,
        )
    except ValueError as error:
        print(f"helpline-fusion evaluate: {error}", file=sys.stderr)
        return 2
    print(format_table(metrics))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(metrics, indent=2, sort_keys=True))
        print(f"metrics written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
