"""Faithfulness of the evidence spans: does removing a decision's evidence move the decision more than removing
the same amount of text at random?

    python bench/bench_evidence.py --model /work/exp/base42 --limit 20 --output bench/results/evidence.json
    python bench/bench_evidence.py --model DIR --cases-file F --qa-file F --split all

For each validation record and each of its decisions (every case head on case records, every quality sub-metric on
call-quality records), `predict(..., evidence=True)` gives the decision and its evidence spans. The bench then
**masks** the tokens of those spans (each token's id replaced by the tokenizer's mask token, `[MASK]`, or its unknown
token when it has none; positions, attention mask and windows unchanged, so only what the tokens say is removed)
and, separately, `--draws` random runs of transcript tokens with the same token counts as the spans (placed
uniformly, not overlapping each other, seeded by `--seed`, the record id, the decision and the draw; they may
overlap the evidence), and reads the probability of the decision's original label again:

- a case head: the window-weighted mean probability of the predicted label (what `predict` scores it by); a priority
  that the safety-first rule made critical: the highest window critical probability (what made it critical);
- a quality sub-metric: the probability of its predicted outcome (`score` when met, `1 - score` when not).

Per decision it reports the mean drop with the evidence masked and with random spans masked (averaged over the
draws), and the share of records where the evidence drop is larger (with counts, and a one-sided sign test: ties
count against the evidence). Rows for each quality head and for all case heads / all quality sub-metrics pool their
decisions. Records are named by id only; no transcript text is printed or written.

Data: by default the public case file (`../shared/data/cases_helpline.json`) and the held-out synthetic calls in
the model folder (`synthetic_data/*/qa_heldout.json`, the training run's quality validation set). `--split
validation` (the default) keeps the records training validated on: the seeded, grouped split of the run
(`run_settings.json`: its seed and `validation_size`, else 42 and 0.1); a `qa_heldout*` file is used whole, as
training used it. Without data it says why and exits 0. CPU model, flags and threads are recorded in the JSON.
The model runs with this checkout's code (`helpline_fusion`), whatever code the folder was saved with.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from bench_common import DEFAULT_DATA, environment  # noqa: E402  (a sibling: `python bench/x.py` and the tests)

CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "fma")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_evidence.py", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a saved helpline-fusion model folder")
    parser.add_argument("--cases-file", help=f"default: {DEFAULT_DATA / 'cases_helpline.json'}")
    parser.add_argument("--qa-file", help="default: the model folder's synthetic_data/*/qa_heldout.json")
    parser.add_argument("--split", choices=("validation", "all"), default="validation",
                        help="validation: the training run's validation records (default); all: every record")
    parser.add_argument("--limit", type=int, help="at most this many records per task")
    parser.add_argument("--tasks", nargs="+", choices=("cls", "qa"), default=["cls", "qa"],
                        help="cls: the case heads on case records; qa: the quality sub-metrics on call-quality records")
    parser.add_argument("--draws", type=int, default=3, help="random span draws per decision (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random spans")
    parser.add_argument("--top-k", type=int, help="evidence spans per decision (default: the model's evidence_top_k)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CPUs with native bf16)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--output", help="write the table and per-record drops (ids only) here as JSON")
    args = parser.parse_args(argv)
    for name in ("limit", "draws", "batch_size", "threads", "top_k"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')}: expected a positive number, got {value}")
    return args


# --------------------------------------------------------------------------- data
def run_split_settings(model_dir: Path) -> tuple[int, float]:
    """The seed and validation share the run recorded (`run_settings.json`), else the training defaults."""
    path = model_dir / "run_settings.json"
    if path.is_file():
        record = json.loads(path.read_text())
        return int(record["training"].get("seed", 42)), float(record["project"].get("validation_size", 0.1))
    return 42, 0.1


def resolve_files(args: argparse.Namespace) -> tuple[dict[str, Path], list[str]]:
    """`{task: file}` to read, and why a task has none. An explicit file that does not exist is an error."""
    files: dict[str, Path] = {}
    notes: list[str] = []
    for task, given, default in (
        ("cls", args.cases_file, DEFAULT_DATA / "cases_helpline.json"),
        ("qa", args.qa_file, next(iter(sorted(Path(args.model).glob("synthetic_data/*/qa_heldout.json"))), None)),
    ):
        if task not in args.tasks:
            continue
        if given:
            if not Path(given).is_file():
                raise ValueError(f"--{'cases' if task == 'cls' else 'qa'}-file {given}: file not found")
            files[task] = Path(given)
        elif default is not None and Path(default).is_file():
            files[task] = Path(default)
        else:
            looked = default or "a synthetic_data/*/qa_heldout.json in the model folder"
            notes.append(f"no {'case' if task == 'cls' else 'call-quality'} data (looked for {looked})")
    return files, notes


def load_records(files: dict[str, Path], config: Any, args: argparse.Namespace) -> dict[str, list[tuple[str, str]]]:
    """`{task: [(record id, text)]}`: the validation records (or all), at most `--limit` per task."""
    import datasets

    from helpline_fusion.data.loaders import load_all
    from helpline_fusion.data.splits import train_validation_split

    datasets.disable_progress_bars()
    loaded, _ = load_all(cases=files.get("cls"), qa=files.get("qa"), config=config, labels_from_data=True)
    seed, validation_size = run_split_settings(Path(args.model))
    records: dict[str, list[tuple[str, str]]] = {}
    for task, dataset in loaded.items():
        if task not in config.tasks or task not in args.tasks:
            continue
        whole = args.split == "all" or (task == "qa" and files["qa"].name.startswith("qa_heldout"))
        if not whole:
            dataset = train_validation_split(dataset, validation_size=validation_size, seed=seed)["validation"]
        rows = list(zip(dataset["id"], dataset["text"]))
        records[task] = rows[: args.limit] if args.limit else rows
    return records


# --------------------------------------------------------------------------- one record
def decisions(result: dict[str, Any], task: str) -> list[tuple[str, dict[str, Any], tuple]]:
    """`(name, decision, key)` for every decision of `task` in a `predict` result; `key` says how to read it back."""
    if task == "cls":
        return [(f"case.{head}", decision, ("cls", head, None)) for head, decision in result["case"].items()]
    return [
        (f"quality.{head}.{name}", decision, ("qa", head, index))
        for head, subs in result["quality"].items()
        for index, (name, decision) in enumerate(subs.items())
    ]


def decision_probability(key: tuple, decision: dict[str, Any], windows, predictions, config) -> float:
    """The probability of `decision`'s label (or outcome) under `predictions` (see the module docstring)."""
    import torch

    from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import (
        aggregate_cls_head,
        aggregate_qa_head,
        qa_window_scope_of,
    )

    task, head, index = key
    sizes = [len(window.content) for window in windows]
    if task == "cls":
        labels = config.case_heads[head]
        probs = torch.stack([p.cls[head] for p in predictions])
        if head == "priority" and decision.get("critical_windows"):
            return float(probs[:, labels.index(config.critical_priority)].max())
        return float(aggregate_cls_head(sizes, probs, labels, 1)[1][labels.index(decision["label"])])
    scope = qa_window_scope_of(config, head)
    mean = float(aggregate_qa_head(sizes, torch.stack([p.qa[head] for p in predictions]), scope)[index])
    return mean if decision["met"] else 1.0 - mean


def span_runs(tokens: list[tuple[int, int]], spans: list[dict[str, Any]]) -> list[list[int]]:
    """The transcript tokens (indices into `tokens`, sorted by offset) each evidence span covers."""
    return [[i for i, (s, e) in enumerate(tokens) if s < span["end"] and e > span["start"]] for span in spans]


def random_runs(n_tokens: int, lengths: list[int], rng: random.Random) -> list[int]:
    """Token indices of runs of `lengths` tokens placed uniformly at random, not overlapping each other."""
    taken = [0] * n_tokens
    for length in sorted(lengths, reverse=True):
        length = min(length, n_tokens)
        before = [0]  # before[i]: tokens taken among the first i
        for value in taken:
            before.append(before[-1] + value)
        starts = [s for s in range(n_tokens - length + 1) if before[s + length] == before[s]]
        start = rng.choice(starts) if starts else rng.randrange(n_tokens - length + 1)
        taken[start : start + length] = [1] * length
    return [index for index, value in enumerate(taken) if value]


def masked(windows, offsets: frozenset, mask_id: int):
    """Copies of `windows` whose tokens at `offsets` carry `mask_id`."""
    from dataclasses import replace

    result = []
    for window in windows:
        ids = list(window.input_ids)
        for position, offset in zip(window.content, window.offsets):
            if offset in offsets:
                ids[position] = mask_id
        result.append(replace(window, input_ids=ids))
    return result


def analyse_record(model, tokenizer, record_id: str, text: str, task: str, args: argparse.Namespace) -> list[dict]:
    """One row per decision of the record: its probability, the drop with its evidence masked and with each
    random draw masked. Masks shared by several decisions run once."""
    from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import (
        decode_transcript,
        encode_windows,
        run_windows,
        window_settings,
    )

    config = model.config
    length, stride = window_settings(config, tokenizer)
    windows = encode_windows([text], tokenizer, length, stride)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    run = dict(batch_size=args.batch_size, bf16=args.bf16, window_length=length, task=task)
    original = run_windows(model, windows, pad_id, pooling_weights=True, **run)
    top_k = args.top_k or getattr(config, "evidence_top_k", 3)
    result = decode_transcript(text, windows, original, config, top_k=1, evidence_top_k=top_k)
    tokens = sorted({offset for window in windows for offset in window.offsets if offset[1] > offset[0]})
    mask_id = mask_token_id(tokenizer)

    plans = []  # (name, decision, key, evidence mask, [random masks]) or an unavailable decision
    for name, decision, key in decisions(result, task):
        if decision.get("evidence") is None:
            plans.append((name, decision, key, None, []))
            continue
        runs = [run_ for run_ in span_runs(tokens, decision["evidence"]) if run_]
        evidence = frozenset(tokens[i] for run_ in runs for i in run_)
        draws = []
        for draw in range(args.draws):
            rng = random.Random(f"{args.seed}/{record_id}/{name}/{draw}")
            draws.append(frozenset(tokens[i] for i in random_runs(len(tokens), [len(r) for r in runs], rng)))
        plans.append((name, decision, key, evidence, draws))
    unique = sorted({mask for plan in plans if plan[3] is not None for mask in [plan[3], *plan[4]]}, key=sorted)
    batch = [window for mask in unique for window in masked(windows, mask, mask_id)]
    outputs = run_windows(model, batch, pad_id, **run) if batch else []
    per_mask = {mask: outputs[i * len(windows) : (i + 1) * len(windows)] for i, mask in enumerate(unique)}

    rows = []
    for name, decision, key, evidence, draws in plans:
        if evidence is None:
            rows.append({"id": record_id, "decision": name, "unavailable": decision.get("evidence_unavailable")})
            continue
        before = decision_probability(key, decision, windows, original, config)
        after = decision_probability(key, decision, windows, per_mask[evidence], config)
        randoms = [before - decision_probability(key, decision, windows, per_mask[m], config) for m in draws]
        rows.append({
            "id": record_id, "decision": name, "probability": before, "drop_evidence": before - after,
            "drop_random": randoms, "masked_tokens": len(evidence), "transcript_tokens": len(tokens),
            "spans": len(decision["evidence"]),
        })  # fmt: skip
    return rows


def mask_token_id(tokenizer) -> int:
    for value in (tokenizer.mask_token_id, tokenizer.unk_token_id, tokenizer.pad_token_id):
        if value is not None:
            return int(value)
    return 0


# --------------------------------------------------------------------------- the table
def sign_test(wins: int, n: int) -> float | None:
    """One-sided p-value of `wins` or more successes in `n` fair coin flips (None without records)."""
    if n == 0:
        return None
    return sum(math.comb(n, k) for k in range(wins, n + 1)) / 2**n


def summarise(rows: list[dict]) -> list[dict[str, Any]]:
    """One summary per decision, then per quality head and per task (all case heads / all quality sub-metrics),
    in the order: case heads, their total, each quality head's sub-metrics and its total, the quality total."""
    groups: dict[str, list[dict]] = defaultdict(list)  # insertion order: the order the rows come in
    unavailable: dict[str, str] = {}
    for row in rows:
        if "unavailable" in row:
            unavailable[row["decision"]] = row["unavailable"]
        else:
            groups[row["decision"]].append(row)
    order: list[str] = []
    for task, total in (("case", "case (all heads)"), ("quality", "quality (all sub-metrics)")):
        names = [name for name in groups if name.split(".")[0] == task]
        heads = list(dict.fromkeys(name.split(".")[1] for name in names))
        for head in heads:
            members = [name for name in names if name.split(".")[1] == head]
            order.extend(members)
            if task == "quality":
                groups[f"quality.{head} (all sub-metrics)"] = [r for name in members for r in groups[name]]
                order.append(f"quality.{head} (all sub-metrics)")
        if names:
            groups[total] = [r for name in names for r in groups[name]]
            order.append(total)
    summary = [_summary_row(name, groups[name]) for name in order]
    summary.extend({"decision": name, "records": 0, "unavailable": why} for name, why in sorted(unavailable.items()))
    return summary


def _summary_row(name: str, members: list[dict]) -> dict[str, Any]:
    n = len(members)
    evidence = [row["drop_evidence"] for row in members]
    randoms = [sum(row["drop_random"]) / len(row["drop_random"]) for row in members]
    wins = sum(e > r for e, r in zip(evidence, randoms))
    p_value = sign_test(wins, n)
    more = p_value is not None and p_value < 0.05 and sum(evidence) > sum(randoms)
    return {
        "decision": name, "records": n, "mean_probability": sum(r["probability"] for r in members) / n,
        "mean_drop_evidence": sum(evidence) / n, "mean_drop_random": sum(randoms) / n,
        "evidence_drops_more": wins, "share_evidence_drops_more": wins / n, "sign_test_p": p_value,
        "masked_token_share": sum(r["masked_tokens"] / max(r["transcript_tokens"], 1) for r in members) / n,
        "verdict": "evidence moves it more" if more else "not shown more faithful than random",
    }  # fmt: skip


def format_table(summary: list[dict[str, Any]]) -> str:
    lines = [
        "| decision | records | p(label) | drop, evidence masked | drop, random masked | evidence drops more | "
        "sign test p | masked share | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary:
        if "unavailable" in row:
            lines.append(f"| {row['decision']} | 0 | | | | | | | no evidence: {row['unavailable']} |")
            continue
        lines.append(
            f"| {row['decision']} | {row['records']} | {row['mean_probability']:.3f} "
            f"| {row['mean_drop_evidence']:+.4f} "
            f"| {row['mean_drop_random']:+.4f} | {row['evidence_drops_more']}/{row['records']} "
            f"({row['share_evidence_drops_more']:.0%}) | {row['sign_test_p']:.3g} | {row['masked_token_share']:.1%} "
            f"| {row['verdict']} |"
        )
    return "\n".join(lines)


def cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                present = set(line.split(":", 1)[1].split())
                return [flag for flag in CPU_FLAGS if flag in present]
    except OSError:
        pass
    return []


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    model_dir = Path(args.model)
    if not (model_dir / "config.json").is_file():
        print(f"bench_evidence: --model {model_dir}: no saved model there (no config.json)", file=sys.stderr)
        return 2
    try:
        files, notes = resolve_files(args)
    except ValueError as error:
        print(f"bench_evidence: {error}", file=sys.stderr)
        return 2
    if not files:
        print(f"bench_evidence: skipped, {'; '.join(notes)}", file=sys.stderr)
        return 0
    import torch
    from transformers import AutoTokenizer

    from helpline_fusion.modeling_attention_fusion import AttentionFusionModel

    torch.set_num_threads(args.threads)
    # This checkout's model code, not the copy saved in the folder: a folder saved before evidence existed holds
    # code that returns no per-head pooling weights.
    model = AttentionFusionModel.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    try:
        records = load_records(files, model.config, args)
    except ValueError as error:
        print(f"bench_evidence: {error}", file=sys.stderr)
        return 2
    if not records:
        print(f"bench_evidence: skipped, the model ({model.config.tasks}) has none of the tasks {args.tasks}",
              file=sys.stderr)  # fmt: skip
        return 0
    started = time.perf_counter()
    rows: list[dict] = []
    for task, items in records.items():
        for record_id, text in items:
            rows.extend(analyse_record(model, tokenizer, record_id, text, task, args))
    seconds = time.perf_counter() - started
    summary = summarise(rows)
    table = format_table(summary)
    print(table)
    counts = {task: len(items) for task, items in records.items()}
    print(f"records: {counts}; {args.draws} random draws per decision; masked with {tokenizer.mask_token or 'unk'}"
          f"; {seconds:.0f} s")  # fmt: skip
    if args.output:
        report = {
            "command": " ".join(["python bench/bench_evidence.py", *(sys.argv[1:] if argv is None else argv)]),
            "date": time.strftime("%Y-%m-%d"), "model": str(model_dir), "split": args.split,
            "files": {task: path.name for task, path in files.items()}, "records": counts, "draws": args.draws,
            "seed": args.seed, "top_k": args.top_k or getattr(model.config, "evidence_top_k", 3),
            "mask": "token ids replaced by the tokenizer's mask token (else unk), positions kept",
            "mask_token": tokenizer.mask_token, "seconds": round(seconds, 1),
            "environment": {**environment(args.threads), "cpu_flags": cpu_flags()},
            "summary": summary, "rows": rows, "notes": notes,
        }  # fmt: skip
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(report, indent=2))
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
