"""Benchmark: peak memory of `helpline-fusion predict` as the input grows (it streams JSON Lines, so it should not).

    python bench/bench_predict_memory.py                        # 1,000 and 20,000 transcripts
    python bench/bench_predict_memory.py --sizes 200 2000       # a quick check
    python bench/bench_predict_memory.py --model outputs/quickstart

Each size runs the real command (`python -m helpline_fusion.cli predict`) in a fresh process over a JSON Lines file
of seeded random transcripts; its peak RSS is the kernel's `ru_maxrss` for that one child (`os.wait4`), so it
includes importing torch and transformers and loading the model: a flat peak means the input's size adds nothing.
By default the model is a tiny random one (2 layers, 32 wide) built here, so the measurement is about the input
path, not the encoder; `--model` measures a real one. Every run uses glibc's `MALLOC_MMAP_THRESHOLD_=131072` like
`bench_inference.py`. Results: a table on stdout and JSON in `bench/results/` (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
MALLOC_ARGS = {"MALLOC_MMAP_THRESHOLD_": "131072"}
WORDS = ("the a my is from in at of to and was he she his her call child help you i calling old years school "
         "home mother father police hospital town village neighbour teacher").split()  # fmt: skip


def build_tiny_model(folder: Path) -> Path:
    """A random AttentionFusionModel over a 2-layer, 32-wide BERT and a WordPiece tokenizer of `WORDS`."""
    import torch
    from transformers import BertConfig, BertTokenizerFast

    from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel

    chars = list("abcdefghijklmnopqrstuvwxyz0123456789")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *chars, *".,?!'", *("##" + c for c in chars)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=True, model_max_length=512).save_pretrained(folder)
    torch.manual_seed(0)
    encoder = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=37, max_position_embeddings=512)  # fmt: skip
    config = AttentionFusionConfig(encoder_config=encoder, window_length=128, window_stride=32)
    AttentionFusionModel(config).eval().save_pretrained(folder)
    return folder


def write_transcripts(path: Path, count: int, words: int, seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            text = " ".join(rng.choice(WORDS) for _ in range(words))
            handle.write(json.dumps({"id": f"call-{index}", "text": text}) + "\n")


def measure(model: str, source: Path, output: Path, batch_size: int) -> dict:
    command = [sys.executable, "-m", "helpline_fusion.cli", "predict", "--model", model, str(source),
               "--output", str(output), "--batch-size", str(batch_size)]  # fmt: skip
    env = {**os.environ, **MALLOC_ARGS, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
           "TQDM_DISABLE": "1"}  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"predict failed on {source} (exit {proc.returncode}):\n{stderr[-3000:]}")
    lines = sum(1 for _ in output.open("rb"))
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "seconds": round(seconds, 1), "lines_written": lines,
            "input_mb": round(source.stat().st_size / 2**20, 2), "output_mb": round(output.stat().st_size / 2**20, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 20000], help="transcripts per run")
    parser.add_argument("--words", type=int, default=120, help="words per transcript (default 120)")
    parser.add_argument("--model", help="a saved model folder (default: a tiny random model built here)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_predict_memory_") as tmp:
        tmp = Path(tmp)
        model = args.model or str(build_tiny_model(tmp / "model"))
        rows = {}
        for size in args.sizes:
            source = tmp / f"calls_{size}.jsonl"
            write_transcripts(source, size, args.words, args.seed)
            rows[size] = measure(model, source, tmp / f"out_{size}.jsonl", args.batch_size)
            assert rows[size]["lines_written"] == size
    first = rows[args.sizes[0]]["peak_rss_mb"]
    print(f"{'transcripts':>11}  {'input MB':>8}  {'output MB':>9}  {'peak RSS MB':>11}  {'vs first':>8}  {'s':>6}")
    for size, row in rows.items():
        print(f"{size:>11,}  {row['input_mb']:>8}  {row['output_mb']:>9}  {row['peak_rss_mb']:>11}  "
              f"{row['peak_rss_mb'] / first:>7.2f}x  {row['seconds']:>6}")  # fmt: skip
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / "predict_memory.json"
    path.write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "model": args.model or "tiny random",
        "words_per_transcript": args.words, "batch_size": args.batch_size, "malloc_env": MALLOC_ARGS,
        "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "runs": {str(size): row for size, row in rows.items()},
    }, indent=2))  # fmt: skip
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
