"""Distillation: three single-task teachers, then the fused student without and with knowledge distillation.

    python bench/bench_distill.py                          # configuration/helpline-cpu.yaml (hours on a CPU)
    python bench/bench_distill.py -- --num_train_epochs 1  # extra settings for every run, after --
    python bench/bench_distill.py --quick                  # a few steps on a little synthetic data: pipeline check

One command for the whole phase, every run in this process with `train/training.py`:

1. trains the three teachers, single-task runs of the config (`--tasks ner`, `cls`, `qa`);
2. trains the fused student without KD (the config as it is);
3. trains the fused student with KD (`--teachers` naming the three teacher folders): its first step computes and
   caches the teachers' outputs on every training window (time and disk reported, `teacher_outputs.json`);
4. prints one table: each teacher vs the student without KD vs the student with KD on every task's validation
   metrics, the goals of issue [kd], and the inference throughput and size of the student against the three
   teachers together (`predict` on the same transcripts: the student serves all three tasks in one pass, the
   teachers one task each).

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
    parser.add_argument("overrides", nargs="*", help="extra settings for every run, e.g. --num_train_epochs 1 (after --)")
    return parser.parse_args(argv)


def train_run(name: str, extra: list[str], args: argparse.Namespace) -> dict:
    from helpline_fusion.train.settings import parse_settings
    from helpline_fusion.train.training import train

    output = Path(args.output) / name
    argv = [args.config, "--output_dir", str(output), "--report_to", "none", *(QUICK if args.quick else []),
            *args.overrides, *extra]  # fmt: skip
    project, training_args = parse_settings(argv)
    print(f"== training {name}", flush=True)
    started = time.perf_counter()
    result = train(project, training_args)
    seconds = time.perf_counter() - started
    teacher_outputs = output / "teacher_outputs.json"
    return {
        "output_dir": str(output),
        "seconds": round(seconds, 1),
        "steps": result["trainer"].state.global_step,
        "metrics": {key.removeprefix("eval_"): value for key, value in result["metrics"].items()},
        "teacher_outputs": json.loads(teacher_outputs.read_text()) if teacher_outputs.is_file() else None,
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
            rows.append((f"KD student >= {task} teacher on {key}", f"{kd[key]:.3f} vs {teacher:.3f}", kd[key] >= teacher))
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
                                             *runs["args"].overrides, "--output_dir", runs["student"]["output_dir"]])  # fmt: skip
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
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
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
        "| run | steps | train + eval seconds |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {run['steps']} | {run['seconds']} |" for name, run in runs.items() if name != "args"]
    cache = runs["student_kd"]["teacher_outputs"] or []
    if cache:
        total_s = sum(entry["seconds"] for entry in cache)
        total_mb = sum(entry["bytes"] or 0 for entry in cache) / 1e6
        per_task = ", ".join(f"{e['task']} {e['windows']} windows {e['seconds']} s {(e['bytes'] or 0) / 1e6:.1f} MB" for e in cache)
        lines += ["", f"teacher-output cache: {total_s:.1f} s, {total_mb:.1f} MB on disk ({per_task})"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shared = ROOT.parent / "shared" / "data"
    if not args.quick and not (shared / "ner_helpline.jsonl").is_file() and "--ner_file" not in args.overrides:
        print(f"bench_distill: the public helpline data is not at {shared}; use --quick or give --ner_file")
        return 0
    Path(args.output).mkdir(parents=True, exist_ok=True)
    runs: dict = {}
    for task in TASKS:
        runs[f"teacher_{task}"] = train_run(f"teacher_{task}", ["--tasks", task], args)
    runs["student"] = train_run("student", ["--tasks", *TASKS], args)
    teachers = {task: runs[f"teacher_{task}"]["output_dir"] for task in TASKS}
    runs["student_kd"] = train_run("student_kd", ["--tasks", *TASKS, "--teachers", json.dumps(teachers)], args)
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
