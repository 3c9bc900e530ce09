"""Distillation: three single-task teachers, then the fused student without and with knowledge distillation.

    python bench/bench_distill.py                          # configuration/helpline-cpu.yaml (hours on a CPU)
    python bench/bench_distill.py -- --num_train_epochs 1  # extra settings for every run, after --
    python bench/bench_distill.py --quick                  # a few steps on a little synthetic data: pipeline check

    # the cheaper way: the teachers and the student without KD are bench_quality's single-task and fused runs
    python bench/bench_quality.py -- --num_train_epochs 1
    python bench/bench_distill.py --reuse-from bench/results/quality -- --num_train_epochs 1

One command for the whole phase, every run in this process with `train/training.py`:

1. trains the three teachers, single-task runs of the config (`--tasks ner`, `cls`, `qa`);
2. trains the fused student without KD (the config as it is);
3. trains the fused student with KD (`--teachers` naming the three teacher folders): its first step computes and
   caches the teachers' outputs on every training window (time and disk reported, `teacher_outputs.json`);
4. prints one table: each teacher vs the student without KD vs the student with KD on every task's validation
   metrics, the goals of issue [kd], and the inference throughput and size of the student against the three
   teachers together (`predict` on the same transcripts: the student serves all three tasks in one pass, the
   teachers one task each).

With `--reuse-from DIR` the teachers and the student without KD are not trained: the finished runs of
`bench/bench_quality.py` in DIR stand in for them (`ner_only`, `cls_only`, `qa_only` for the teachers, `fused` for
the student; same config, same data per task, same epochs), their validation metrics read from their
`eval_results.json`. Each is checked first against the settings this script would train it with, from the
`run_settings.json` training writes (`train/run_settings.py`; only where runs were written and reported to may
differ): any other difference is refused, naming the folder and the settings. Only the student with KD is trained.

Writes `distill.json` into the output folder. `--quick` replaces the data by 60 synthetic records a task and
trains 4 steps a model: it checks the pipeline, its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASKS = ("ner", "cls", "qa")
HEADLINE = {"ner": "ner_f1", "cls": "cls_sub_category_accuracy", "qa": "qa_macro_f1"}
QUICK = [
    "--max_steps", "4", "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
    "--ner_file", "", "--cases_file", "", "--synthetic", "true", "--synthetic_size", "60", "--max_train_examples",
    "24", "--calibrate", "false", "--window_length", "128", "--window_stride", "32", "--per_device_train_batch_size",
    "4", "--logging_steps", "2",
]  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configuration" / "helpline-cpu.yaml"))
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "distill"))
    parser.add_argument("--quick", action="store_true", help="a few steps per model on little synthetic data")
    parser.add_argument("--transcripts", type=int, default=120, help="transcripts for the throughput measurement")
    parser.add_argument(
        "--reuse-from",
        metavar="DIR",
        help="a bench_quality output folder whose finished runs "
        "stand in for the teachers and the student without KD (checked to have the same settings)",
    )
    parser.add_argument(
        "--accept-unrecorded",
        action="store_true",
        help="with --reuse-from: accept runs written "
        "before run_settings.json existed, whose settings can only partly be checked "
        "(training_args.bin and config.json); the unchecked settings are listed in the report",
    )
    parser.add_argument(
        "overrides", nargs="*", help="extra settings for every run, e.g. --num_train_epochs 1 (after --)"
    )
    return parser.parse_args(argv)


# The run of bench/bench_quality.py that stands in for each role with --reuse-from (its VARIANTS).
REUSED_AS = {"teacher_ner": "ner_only", "teacher_cls": "cls_only", "teacher_qa": "qa_only", "student": "fused"}


class ReuseRefused(ValueError):
    """A run given to --reuse-from was trained otherwise than this script would train it (or cannot be checked)."""


def run_extra(name: str, teachers: dict[str, str] | None = None) -> list[str]:
    """The settings that make each role: a teacher is a single-task run of the config, the students fused runs."""
    if name.startswith("teacher_"):
        return ["--tasks", name.removeprefix("teacher_")]
    return ["--tasks", *TASKS, *(["--teachers", json.dumps(teachers)] if name == "student_kd" else [])]


def build_settings(name: str, args: argparse.Namespace, teachers: dict[str, str] | None = None):
    """(project settings, TrainingArguments) of role `name`: the config, then --quick, the overrides, the role."""
    from helpline_fusion.train.settings import parse_settings

    output = Path(args.output) / name
    argv = [args.config, "--output_dir", str(output), "--report_to", "none", *(QUICK if args.quick else []),
            *args.overrides, *run_extra(name, teachers)]  # fmt: skip
    return parse_settings(argv)


def check_one_difference(args: argparse.Namespace, teachers: dict[str, str]) -> None:
    """The KD student is the student without KD plus `teachers`, nothing else (the comparison differs in one thing)."""
    from helpline_fusion.train.run_settings import differing_settings, run_settings

    plain = run_settings(*build_settings("student", args))
    kd = run_settings(*build_settings("student_kd", args, teachers))
    differing = [key for key, _, _ in differing_settings(kd, plain)]
    if differing != ["teachers"]:
        raise ReuseRefused(f"the students with and without KD would differ in {differing}, not only in teachers")


def reuse_run(name: str, args: argparse.Namespace) -> dict:
    """The finished bench_quality run standing in for role `name`, after checking it was trained as `name` would be.

    Raises:
        ReuseRefused: naming the folder and each differing setting (recorded vs this script's value).
    """
    from helpline_fusion.train.run_settings import differing_settings, run_settings, settings_from_folder

    folder = Path(args.reuse_from) / REUSED_AS[name]
    expected = run_settings(*build_settings(name, args))
    try:
        recorded, unrecovered = settings_from_folder(folder, expected)
    except ValueError as error:
        raise ReuseRefused(f"--reuse-from: cannot stand in for {name}: {error}") from error
    differing = differing_settings(recorded, expected)
    if differing:
        listed = "; ".join(f"{key}: {theirs!r} there, {mine!r} here" for key, theirs, mine in differing)
        raise ReuseRefused(f"--reuse-from: {folder} was trained with other settings than {name} would be: {listed}")
    if unrecovered and not args.accept_unrecorded:
        raise ReuseRefused(
            f"--reuse-from: {folder} has no run_settings.json (trained before it was recorded); training_args.bin "
            f"and config.json match, but these settings cannot be checked: {', '.join(unrecovered)}. Retrain it, "
            "or pass --accept-unrecorded to use it anyway (the report lists them)"
        )
    metrics = {
        key.removeprefix("eval_"): value
        for key, value in json.loads((folder / "eval_results.json").read_text()).items()
        if key != "run_id"  # the training run's id, not a metric
    }
    summary = Path(args.reuse_from) / "quality.json"  # bench_quality's steps and times, when it wrote them
    timing = json.loads(summary.read_text()).get("runs", {}).get(REUSED_AS[name], {}) if summary.is_file() else {}
    checked = f"{len(unrecovered)} settings not recorded, accepted" if unrecovered else "settings checked"
    print(f"== {name}: reusing {folder} ({checked})", flush=True)
    return {
        "output_dir": str(folder),
        "reused_from": str(folder),
        "unchecked_settings": unrecovered,
        "seconds": timing.get("seconds"),
        "steps": timing.get("steps"),
        "metrics": metrics,
        "teacher_outputs": None,
    }


def train_run(name: str, args: argparse.Namespace, teachers: dict[str, str] | None = None) -> dict:
    from helpline_fusion.train.training import train

    output = Path(args.output) / name
    project, training_args = build_settings(name, args, teachers)
    print(f"== training {name}", flush=True)
    started = time.perf_counter()
    result = train(project, training_args)
    seconds = time.perf_counter() - started
    teacher_outputs = output / "teacher_outputs.json"
    return {
        "output_dir": str(output),
        "reused_from": None,
        "seconds": round(seconds, 1),
        "steps": result["trainer"].state.global_step,
        "metrics": {key.removeprefix("eval_"): value for key, value in result["metrics"].items()},
        "teacher_outputs": json.loads(teacher_outputs.read_text())["teachers"] if teacher_outputs.is_file() else None,
    }


def metric_keys(metrics: dict, task: str) -> list[str]:
    """The validation metrics of one task the table shows (headline first; no supports or calibration)."""
    prefix = f"{task}_"
    keys = [k for k in metrics if k.startswith(prefix) and "support" not in k and not k.endswith("_all_met")]
    return sorted(keys, key=lambda k: (k != HEADLINE[task], k))


def comparison_rows(runs: dict) -> list[tuple[str, float | None, float | None, float | None]]:
    rows = []
    plain, kd = runs["student"]["metrics"], runs["student_kd"]["metrics"]
    for task in TASKS:
        teacher = runs[f"teacher_{task}"]["metrics"]
        for key in metric_keys({**teacher, **plain}, task):
            rows.append((key, teacher.get(key), plain.get(key), kd.get(key)))
    return rows


def goal_rows(runs: dict) -> list[tuple[str, str, bool | None]]:
    plain, kd = runs["student"]["metrics"], runs["student_kd"]["metrics"]
    rows: list[tuple[str, str, bool | None]] = []
    better = 0
    for task, key in HEADLINE.items():
        teacher = runs[f"teacher_{task}"]["metrics"].get(key)
        if teacher is not None and key in kd:
            rows.append(
                (f"KD student >= {task} teacher on {key}", f"{kd[key]:.3f} vs {teacher:.3f}", kd[key] >= teacher)
            )
        if key in kd and key in plain:
            better += kd[key] > plain[key]
    rows.append(("KD student > student without KD on >= 2 of 3 headline metrics", f"{better} of 3", better >= 2))
    return rows


def _texts(runs: dict, limit: int) -> list[str]:
    """Transcripts for the throughput measurement: the student's validation data (NER texts and case narratives)."""
    from helpline_fusion.data.loaders import load_all
    from helpline_fusion.train.settings import parse_settings
    from helpline_fusion.train.training import resolve_sources

    project, training_args = parse_settings([runs["args"].config, *(QUICK if runs["args"].quick else []),
                                             *runs["args"].overrides, "--output_dir", runs["student_kd"]["output_dir"]])  # fmt: skip
    sources = resolve_sources(project, Path(training_args.output_dir))
    loaded, _ = load_all(ner=sources.get("ner"), cases=sources.get("cls"), labels_from_data=True)
    texts = [text for ds in loaded.values() for text in ds["text"][: limit // 2]]
    return texts[:limit]


def speed_and_size(runs: dict, texts: list[str]) -> dict:
    """`predict` on the same transcripts: the student once, then each teacher (one task each); weights on disk."""
    import torch
    from transformers import AutoTokenizer

    from helpline_fusion.modeling_attention_fusion import AttentionFusionModel

    def measure(folder: str) -> tuple[float, int, int]:
        model = AttentionFusionModel.from_pretrained(folder).eval()
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        model.predict(texts[:2], tokenizer)  # warm-up
        started = time.perf_counter()
        with torch.inference_mode():
            model.predict(texts, tokenizer, batch_size=16)
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in Path(folder).glob("*.safetensors"))
        return seconds, sum(p.numel() for p in model.parameters()), size

    student = measure(runs["student_kd"]["output_dir"])
    teachers = [measure(runs[f"teacher_{task}"]["output_dir"]) for task in TASKS]
    teacher_seconds = sum(t[0] for t in teachers)
    return {
        "transcripts": len(texts),
        "torch_threads": torch.get_num_threads(),
        "student_transcripts_per_s": round(len(texts) / student[0], 2),
        "teachers_transcripts_per_s": round(len(texts) / teacher_seconds, 2),
        "throughput_ratio": round(teacher_seconds / student[0], 2),
        "student_parameters": student[1],
        "teachers_parameters": sum(t[1] for t in teachers),
        "student_bytes": student[2],
        "teachers_bytes": sum(t[2] for t in teachers),
    }


def format_report(runs: dict, rows, goals, speed: dict) -> str:
    def show(value):
        return f"{value:.4f}" if isinstance(value, (int, float)) else ""

    lines = ["| metric | teacher (single-task) | student without KD | student with KD |", "|---|---|---|---|"]
    lines += [f"| {key} | {show(t)} | {show(p)} | {show(k)} |" for key, t, p, k in rows]
    lines += ["", "| goal | measured | met |", "|---|---|---|"]
    lines += [f"| {goal} | {measured} | {'yes' if met else 'NO'} |" for goal, measured, met in goals]
    ratio = speed["throughput_ratio"]
    lines += [
        "",
        "| serving all three tasks | transcripts/s | parameters | weights MB |",
        "|---|---|---|---|",
        f"| fused student (one encoder pass) | {speed['student_transcripts_per_s']} | {speed['student_parameters']:,} | "
        f"{speed['student_bytes'] / 1e6:.1f} |",
        f"| three teachers together | {speed['teachers_transcripts_per_s']} | {speed['teachers_parameters']:,} | "
        f"{speed['teachers_bytes'] / 1e6:.1f} |",
        "",
        f"throughput student / teachers: **{ratio}x** (goal 2.8x: {'met' if ratio >= 2.8 else 'NOT met'}); size "
        f"{speed['student_bytes'] / max(speed['teachers_bytes'], 1):.2f}x; {speed['transcripts']} transcripts, "
        f"{speed['torch_threads']} torch threads",
        "",
        "| run | steps | train + eval seconds | trained |",
        "|---|---|---|---|",
    ]
    for name, run in runs.items():
        if name != "args":
            where = f"reused: {run['reused_from']}" if run["reused_from"] else "here"
            steps, seconds = ("n/a" if run[key] is None else run[key] for key in ("steps", "seconds"))
            lines.append(f"| {name} | {steps} | {seconds} | {where} |")
    unchecked = {
        name: run["unchecked_settings"]
        for name, run in runs.items()
        if name != "args" and run.get("unchecked_settings")
    }
    if unchecked:
        lines += ["", "settings of reused runs not checked (no run_settings.json): "
                  + "; ".join(f"{name}: {', '.join(keys)}" for name, keys in unchecked.items())]  # fmt: skip
    cache = cache_summary(runs["student_kd"]["teacher_outputs"])
    if cache:
        lines += ["", cache]
    return "\n".join(lines)


def cache_summary(entries: list[dict] | None) -> str:
    """The cost of the teachers' outputs: time of the map pass and disk of the cache, in total and per task."""
    if not entries:
        return ""
    total_s = sum(entry["seconds"] for entry in entries)
    total_mb = sum(entry["bytes"] or 0 for entry in entries) / 1e6
    per_task = ", ".join(
        f"{e['task']} {e['windows']} windows {e['seconds']} s {(e['bytes'] or 0) / 1e6:.1f} MB"
        + (" (read from an earlier cache)" if e.get("cached") else "")
        for e in entries
    )
    return f"teacher-output cache: {total_s:.1f} s, {total_mb:.1f} MB on disk ({per_task})"


def reused_runs(args: argparse.Namespace) -> dict:
    """With --reuse-from, the checked runs standing in for the teachers and the student without KD (else none)."""
    if not args.reuse_from:
        return {}
    if not Path(args.reuse_from).is_dir():
        raise ReuseRefused(f"--reuse-from: {args.reuse_from} is not a folder")
    return {name: reuse_run(name, args) for name in REUSED_AS}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shared = ROOT.parent / "shared" / "data"
    if not args.quick and not (shared / "ner_helpline.jsonl").is_file() and "--ner_file" not in args.overrides:
        print(f"bench_distill: the public helpline data is not at {shared}; use --quick or give --ner_file")
        return 0
    try:
        runs = reused_runs(args)  # every check before any training
    except ReuseRefused as error:
        print(f"bench_distill: {error}", file=sys.stderr)
        return 2
    Path(args.output).mkdir(parents=True, exist_ok=True)
    for name in REUSED_AS:
        if name not in runs:
            runs[name] = train_run(name, args)
    teachers = {task: runs[f"teacher_{task}"]["output_dir"] for task in TASKS}
    check_one_difference(args, teachers)
    runs["student_kd"] = train_run("student_kd", args, teachers)
    print(cache_summary(runs["student_kd"]["teacher_outputs"]), flush=True)
    runs["args"] = args
    texts = _texts(runs, 8 if args.quick else args.transcripts)
    speed = speed_and_size(runs, texts)
    rows, goals = comparison_rows(runs), goal_rows(runs)
    report = format_report(runs, rows, goals, speed)
    print(report)
    summary = {
        "command": " ".join(sys.argv),
        "config": args.config,
        "quick": args.quick,
        "reuse_from": args.reuse_from,
        "runs": {name: run for name, run in runs.items() if name != "args"},
        "comparison": [{"metric": k, "teacher": t, "student": p, "student_kd": d} for k, t, p, d in rows],
        "goals": [{"goal": g, "measured": v, "met": m} for g, v, m in goals],
        "speed_and_size": speed,
    }
    out = Path(args.output) / "distill.json"
    out.write_text(json.dumps(summary, indent=2))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
