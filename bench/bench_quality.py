"""Fusion vs single-task quality on the public helpline data, with the same budget per task.

    python bench/bench_quality.py                       # configuration/helpline-cpu.yaml (2 epochs)
    python bench/bench_quality.py -- --num_train_epochs 1   # half the budget
    python bench/bench_quality.py --quick               # a few steps each, to check the pipeline
    python bench/bench_quality.py --variants fused --output A -- ...   # one process per core, then:
    python bench/bench_quality.py --combine A/quality.json B/quality.json
    python bench/bench_quality.py --kfold 5 --variants cls_only -- --num_train_epochs 1   # case figures by k-fold

Trains four models with `configuration/helpline-cpu.yaml` (MiniLM encoder, bf16 on CPU, the shared NER and
case files plus synthetic call-quality data): the fused model and one single-task baseline per task, each
for the same number of epochs over the same per-task data with the same batch size (the fused model sees
every task's data as often as the baseline of that task does). All are scored on the same validation splits
(seeded, grouped): NER entity-level micro F1 and F1 per type; per case head accuracy and macro F1; critical
recall; per quality head F1 on held-out paraphrase templates (the trainer's validation set) and on fresh
calls rendered from the training templates. Prints fused vs single-task side by side with the difference,
writes JSON, and puts the tables into the fused model's card.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

VARIANTS = {"fused": ["ner", "cls", "qa"], "ner_only": ["ner"], "cls_only": ["cls"], "qa_only": ["qa"]}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configuration" / "helpline-cpu.yaml"))
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "quality"))
    parser.add_argument("--quick", action="store_true", help="a few steps per model (pipeline check only)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--combine", nargs="+", metavar="QUALITY_JSON", default=None,
                        help="train nothing: print the table and goals of runs from earlier quality.json files (e.g. "
                        "the fused and single-task models trained by two processes, one per core)")
    parser.add_argument("--kfold", type=int, default=0, metavar="K",
                        help="case figures by K-fold cross-validation over the public case records instead: one "
                        "training per fold (each variant that has the case task), every record predicted once by the "
                        "model that did not train on it; mean, spread and bootstrap intervals beside the majority")
    parser.add_argument("overrides", nargs="*", help="extra settings, e.g. --num_train_epochs 3 (after --)")
    return parser.parse_args()


def report(runs: dict, output: Path, **header) -> str:
    """Print the fused vs single-task table and the goals, write them with `runs` (tasks, steps, seconds, metrics)
    to `output/quality.json` after `header`; returns the table (for the fused model's card)."""
    rows = comparison_rows(runs)
    table = format_table(rows, runs)
    print(table)
    goals = goal_rows(runs)
    print()
    print(format_goals(goals))
    summary = {
        "command": " ".join(sys.argv), **header,
        "runs": {name: {k: v for k, v in run.items() if k in ("tasks", "seconds", "steps", "metrics")}
                 for name, run in runs.items()},
        "comparison": [{"metric": k, "fused": f, "single_task": s} for k, f, s in rows],
        "goals": [{"goal": g, "measured": v, "met": m} for g, v, m in goals],
    }  # fmt: skip
    output.mkdir(parents=True, exist_ok=True)
    out = output / "quality.json"
    out.write_text(json.dumps(summary, indent=2))
    print(f"written {out}")
    return table


def combine(paths: list[str], output: Path) -> int:
    """The table and goals of runs trained by earlier invocations (each file's `runs`; a later file's run of the
    same name replaces an earlier one), written to `output/quality.json`."""
    runs: dict[str, dict] = {}
    sources = []
    for path in paths:
        summary = json.loads(Path(path).read_text())
        runs.update(summary["runs"])
        sources.append({"file": path, "command": summary["command"]})
    report(runs, output, combined_from=sources)
    return 0


def train_variant(name: str, tasks: list[str], args: argparse.Namespace, extra: list[str] = ()) -> dict:
    from helpline_fusion.train.settings import parse_settings
    from helpline_fusion.train.training import train

    argv = [args.config, "--tasks", *tasks, "--output_dir", str(Path(args.output) / name), "--report_to", "none",
            *args.overrides, *extra]
    if args.quick:
        argv += ["--max_steps", "6", "--eval_strategy", "no", "--save_strategy", "no",
                 "--load_best_model_at_end", "false", "--synthetic_size", "120", "--max_train_examples", "48"]
    project, training_args = parse_settings(argv)
    started = time.perf_counter()
    result = train(project, training_args)
    seconds = time.perf_counter() - started
    metrics = {key.removeprefix("eval_"): value for key, value in result["metrics"].items()}
    trainer = result["trainer"]
    return {"tasks": tasks, "seconds": round(seconds, 1), "steps": trainer.state.global_step,
            "metrics": metrics, "project": project, "training_args": training_args, "trainer": trainer}


def qa_training_template_scores(run: dict, qa_file: Path) -> dict[str, float]:
    """Quality F1 on fresh calls rendered from the *training* templates (cf. the held-out validation set)."""
    from helpline_fusion.train.evaluate_cli import evaluate_model

    trainer = run["trainer"]
    model = trainer.accelerator.unwrap_model(trainer.model)
    metrics, _ = evaluate_model(model, trainer.processing_class, qa=str(qa_file), bf16=run["training_args"].bf16)
    return {f"{key}_train_templates": value for key, value in metrics.items() if key.startswith("qa_")}


def _reported(key: str) -> bool:
    if key.startswith("ner_"):
        return not key.startswith("ner_support_")
    if key.startswith("cls_"):
        return True
    return key.startswith("qa_") and (
        key.endswith(("_f1", "_f1_all_met", "_accuracy")) or key.endswith("_f1_train_templates")
    ) or key.startswith("calib_")


def comparison_rows(runs: dict) -> list[tuple[str, float | None, float | None]]:
    fused = runs.get("fused", {}).get("metrics", {})
    single: dict[str, float] = {}
    for name in ("ner_only", "cls_only", "qa_only"):
        single.update(runs.get(name, {}).get("metrics", {}))
    keys = sorted(key for key in set(fused) | set(single) if _reported(key))
    return [(key, fused.get(key), single.get(key)) for key in keys]


def format_table(rows, runs) -> str:
    lines = ["| metric | fused | single-task | fused - single |", "|---|---|---|---|"]
    for key, fused, single in rows:
        diff = f"{fused - single:+.4f}" if fused is not None and single is not None else ""
        show = [f"{v:.4f}" if v is not None else "" for v in (fused, single)]
        lines.append(f"| {key} | {show[0]} | {show[1]} | {diff} |")
    lines.append("")
    lines.append("| model | tasks | steps | train+eval seconds |")
    lines.append("|---|---|---|---|")
    for name, run in runs.items():
        lines.append(f"| {name} | {','.join(run['tasks'])} | {run['steps']} | {run['seconds']} |")
    return "\n".join(lines)


HEADLINE = {"ner": "ner_f1", "cls": "cls_sub_category_accuracy", "qa": "qa_macro_f1"}


def _mean(metrics: dict, suffix: str) -> float | None:
    values = [v for k, v in metrics.items() if k.startswith("qa_") and k.endswith(suffix) and "macro" not in k]
    return sum(values) / len(values) if values else None


def goal_rows(runs: dict) -> list[tuple[str, str, bool | None]]:
    """(goal, measured, met) for the goals of issue [learn], on the fused model (and fused vs single-task)."""
    fused = runs.get("fused", {}).get("metrics", {})
    rows: list[tuple[str, str, bool | None]] = []

    def add(goal: str, key: str | None, bound: float, value: float | None = None) -> None:
        value = fused.get(key) if value is None else value
        rows.append((goal, "n/a" if value is None else f"{value:.3f}", None if value is None else value >= bound))

    add("NER entity F1 >= 0.65", "ner_f1", 0.65)
    types = {k.removeprefix("ner_f1_"): v for k, v in fused.items() if k.startswith("ner_f1_")}
    weakest = min((v for t, v in types.items() if t != "PHONE_NUMBER"), default=None)
    add("every NER type except PHONE_NUMBER >= 0.3 (weakest)", None, 0.3, weakest)
    add("critical recall >= 0.9 (threshold fitted on this split)", "cls_priority_critical_recall", 0.9)
    add("critical recall >= 0.9 (cross-fitted: calls the threshold was not fitted on)",
        "calib_crossfit_critical_recall", 0.9)
    add("priority accuracy >= 0.60", "cls_priority_accuracy", 0.60)
    add("sub-category accuracy >= 0.35", "cls_sub_category_accuracy", 0.35)
    add("intervention accuracy >= 0.62", "cls_intervention_accuracy", 0.62)
    add("QA mean F1, held-out templates >= 0.85", None, 0.85, _mean(fused, "_f1"))
    qa_f1, qa_trivial = _mean(fused, "_f1"), _mean(fused, "_f1_all_met")
    rows.append(("QA mean F1 above answering met everywhere",
                 "n/a" if qa_f1 is None else f"{qa_f1:.3f} vs {qa_trivial:.3f}",
                 None if qa_f1 is None else qa_f1 > qa_trivial))  # fmt: skip
    for task, key in HEADLINE.items():
        single = runs.get(f"{task}_only", {}).get("metrics", {}).get(key)
        if key in fused and single is not None:
            rows.append((f"fused >= single-task on {key}", f"{fused[key]:.3f} vs {single:.3f}", fused[key] >= single))
    return rows


def format_goals(rows) -> str:
    lines = ["| goal | measured | met |", "|---|---|---|"]
    for goal, measured, met in rows:
        lines.append(f"| {goal} | {measured} | {'yes' if met else 'not measured' if met is None else 'NO'} |")
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    if args.combine:
        return combine(args.combine, Path(args.output))
    shared = ROOT.parent / "shared" / "data"
    if not (shared / "ner_helpline.jsonl").is_file() and "--ner_file" not in args.overrides:
        print(f"bench_quality: the public helpline data is not at {shared}; nothing to measure")
        return 0
    if args.kfold:
        from bench_kfold import kfold_report

        return kfold_report(args, shared / "cases_helpline.json", train_variant, VARIANTS)
    from helpline_fusion.data.synthetic import generate

    Path(args.output).mkdir(parents=True, exist_ok=True)
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Fresh calls from the training templates (another seed than the training data's).
        qa_train_templates = generate(Path(tmp), seed=777, n_ner=1, n_cases=1, n_qa=200, n_qa_heldout=1)["qa_file"]
        for name in args.variants:
            print(f"== training {name} ({', '.join(VARIANTS[name])})", flush=True)
            runs[name] = train_variant(name, VARIANTS[name], args)
            if "qa" in VARIANTS[name]:
                runs[name]["metrics"].update(qa_training_template_scores(runs[name], qa_train_templates))
    table = report(runs, Path(args.output), config=args.config, quick=args.quick)
    if "fused" in runs:
        write_fused_card(runs["fused"], table)
    return 0


def write_fused_card(run: dict, table: str) -> None:
    """The fused model's card, with the side-by-side table in its evaluation section."""
    from helpline_fusion.train.model_card import render_model_card

    trainer, project, training_args = run["trainer"], run["project"], run["training_args"]
    output_dir = Path(training_args.output_dir)
    report = json.loads((output_dir / "data_validation_report.json").read_text())
    model = trainer.accelerator.unwrap_model(trainer.model)
    card = render_model_card(
        model.config, {**run["metrics"]}, repo_id=f"org/{output_dir.name}",
        base_model=model.config.base_model_name, training_args=training_args, validation_report=report,
        sampling_strategy=project.sampling_strategy, license=project.license,
        extra_results="### Fused vs single-task models (same budget per task)\n\n" + table,
    )
    card.save(output_dir / "README.md")
    print(f"model card with the comparison: {output_dir / 'README.md'}")


if __name__ == "__main__":
    sys.exit(main())
