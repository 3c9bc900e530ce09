"""Benchmark: the accuracy gate of every faster path, on a trained model and its own validation split.

    python bench/bench_gate.py --model outputs/helpline-cpu -- configuration/helpline-cpu.yaml
    python bench/bench_gate.py --model DIR --candidates onnx_int8 -- configuration/helpline-cpu.yaml --seed 43

The settings after `--` are the training command's (`helpline-fusion train CONFIG [--key value ...]`); they must be
the ones the model folder records (`run_settings.json`: the same data files, seed and split settings), so the
validation split rebuilt from them is the one the model never trained on; a folder trained otherwise is refused
with the settings that differ. Each candidate is scored against the fp32 PyTorch model with the gate of
`helpline-fusion export --int8` (`train/export.py: accuracy_gate`): label agreement >= 0.99 per part (NER word
tags, every case head, the critical alert, every quality sub-metric), every validation metric within 0.01,
critical recall never lower. With 65 case narratives and 80 quality calls one record moves a head's accuracy by
1.3-1.5 points, so the metric rule is at the granularity of one record; the agreement column says how many
decisions moved.

Candidates (each where this CPU and the installed runtimes allow it):
- `torch_bf16`: the PyTorch model under bf16 autocast with the weight cache, as `predict(precision="bf16")` runs it
  (CPUs with native bf16 only: elsewhere it is emulated).
- `onnx_fp32` / `onnx_int8`: the fused graph `helpline-fusion export` writes, and its int8 quantisation (ONNX
  Runtime dynamic, per channel, the encoder's MatMuls only; CPUs with VNNI or AMX only).
- `openvino_auto`: the ONNX graph compiled by OpenVINO with its own precision choice (bf16 on native-bf16 CPUs).

Prints the CPU flags, one table per candidate (the agreement rows and every row that fails) and a summary; the full
tables go to JSON in `bench/results/` (gitignored). Skips with a message when the shared data, a runtime or the
model is absent. The records are named by id only in logs (the data layer's rule); nothing of a transcript is
printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
CANDIDATES = ("torch_bf16", "onnx_fp32", "onnx_int8", "openvino_auto")


class Bf16Autocast:
    """A model that runs under bf16 autocast with the weight cache, as `predict(precision="bf16")` does; everything
    else (config, device, eval) is the wrapped model's."""

    def __init__(self, model: Any) -> None:
        self.inner = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=True):
            return self.inner(*args, **kwargs)


def available(name: str) -> str | None:
    """Why candidate `name` cannot run here, or None."""
    from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import native_bf16, native_int8

    if name == "torch_bf16":
        return None if native_bf16() else "no native bf16 on this CPU (emulated bf16 is about 20x slower)"
    if importlib.util.find_spec("onnxscript") is None:  # every exported candidate is made from the ONNX export
        return "the ONNX export needs onnxscript (pip install 'helpline-fusion[onnx]')"
    if name.startswith("onnx") and importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed (pip install 'helpline-fusion[onnx]')"
    if name == "onnx_int8" and not native_int8():
        return "no VNNI or AMX on this CPU"
    if name == "openvino_auto" and importlib.util.find_spec("openvino") is None:
        return "openvino is not installed (pip install 'helpline-fusion[openvino]')"
    return None


def validation_windows(folder: Path, settings_argv: list[str], model: Any, tokenizer: Any) -> dict[str, Any]:
    """The tokenised validation split of the run that trained `folder`, rebuilt from its training settings; refused
    (ValueError) when the folder records other settings."""
    from helpline_fusion.train.run_settings import (
        RUN_SETTINGS_NAME,
        differing_settings,
        read_run_settings,
        run_settings,
    )
    from helpline_fusion.train.settings import parse_settings
    from helpline_fusion.train.training import prepare_data, tokenize_splits

    recorded_path = folder / RUN_SETTINGS_NAME
    if not recorded_path.is_file():
        raise ValueError(f"{folder}: no {RUN_SETTINGS_NAME}, so its validation split cannot be rebuilt and checked")
    # The output folder is a scratch one (the synthetic data is generated there): the model folder is not written.
    with tempfile.TemporaryDirectory(prefix="bench_gate_run_") as scratch:
        argv = [*settings_argv, "--output_dir", scratch, "--report_to", "none"]
        project, training_args = parse_settings(argv)
        differing = differing_settings(read_run_settings(recorded_path), run_settings(project, training_args))
        if differing:
            listed = "; ".join(f"{key}: {theirs!r} there, {mine!r} here" for key, theirs, mine in differing[:8])
            raise ValueError(f"{recorded_path} records other settings than these ({listed}): give the run's own")
        splits, *_ = prepare_data(project, training_args, tokenizer, model.config)
        return tokenize_splits(project, training_args, splits, tokenizer, model.config)["validation"]


def build_candidates(names: list[str], model: Any, workdir: Path) -> dict[str, Any]:
    """Each candidate as a model `accuracy_gate` can score (exported once into `workdir`)."""
    import torch

    from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import (
        ExportedFusionModel,
        _openvino_runner,
        graph_input_names,
        graph_output_names,
    )
    from helpline_fusion.train.export import _runner, export_onnx, quantize_int8

    built: dict[str, Any] = {}
    graph = workdir / "model.onnx"
    if any(name != "torch_bf16" for name in names):
        export_onnx(model, graph)
    for name in names:
        if name == "torch_bf16":
            built[name] = Bf16Autocast(model)
        elif name == "onnx_fp32":
            built[name] = ExportedFusionModel(model.config, _runner(graph, model.config), "onnx", "fp32")
        elif name == "onnx_int8":
            quantize_int8(graph, workdir / "model_int8.onnx")
            built[name] = ExportedFusionModel(model.config, _runner(workdir / "model_int8.onnx", model.config),
                                              "onnx", "int8")  # fmt: skip
        elif name == "openvino_auto":
            config = model.config
            run, chosen = _openvino_runner(str(graph), torch.get_num_threads(), graph_output_names(config), "auto",
                                           graph_input_names(config))  # fmt: skip
            built[name] = ExportedFusionModel(config, run, "openvino", chosen)
    return built


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    settings = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a trained model folder (with its run_settings.json)")
    parser.add_argument("--candidates", nargs="+", choices=CANDIDATES, default=list(CANDIDATES))
    args = parser.parse_args(own)
    if not settings:
        parser.error("give the training settings after --: CONFIG.yaml [--key value ...]")
    return args, settings


def main(argv: list[str] | None = None) -> int:
    args, settings = parse_args(list(sys.argv[1:] if argv is None else argv))
    folder = Path(args.model)
    if not (folder / "config.json").is_file():
        print(f"bench_gate: --model {folder}: no saved model there (no config.json)", file=sys.stderr)
        return 2
    from transformers import AutoTokenizer

    from helpline_fusion.data.collator import MultiTaskCollator
    from helpline_fusion.modeling_attention_fusion import AttentionFusionModel
    from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import cpu_flags
    from helpline_fusion.train.export import accuracy_gate

    flags = cpu_flags()
    print("CPU flags: " + ", ".join(f"{name} {'yes' if present else 'no'}" for name, present in flags.items()))
    names = [name for name in args.candidates if available(name) is None]
    for name in args.candidates:
        if name not in names:
            print(f"bench_gate: {name} skipped, {available(name)}", file=sys.stderr)
    if not names:
        return 0
    model = AttentionFusionModel.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    try:
        windows = validation_windows(folder, settings, model, tokenizer)
    except (ValueError, FileNotFoundError) as error:
        print(f"bench_gate: {error}", file=sys.stderr)
        return 2
    collator = MultiTaskCollator(tokenizer, model.config)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench_gate_") as workdir:
        for name, candidate in build_candidates(names, model, Path(workdir)).items():
            passed, rows = accuracy_gate(model, candidate, windows, collator)
            results[name] = {"passed": passed, "rows": rows, "precision": getattr(candidate, "precision", "bf16")}
            print(f"\n{name} ({results[name]['precision']}): gate {'passed' if passed else 'FAILED'}")
            for check, reference, value, rule, ok in rows:
                if check.startswith("agreement") or not ok:
                    print(f"  {check:<40}{reference:>9.4f}{value:>9.4f}  {rule:<12}{'pass' if ok else 'FAIL'}")
    print("\n| candidate | precision | all-label agreement | lowest part agreement | failing checks | gate |")
    print("|---|---|---|---|---|---|")
    for name, result in results.items():
        agreement = {row[0]: row[2] for row in result["rows"] if row[0].startswith("agreement")}
        failing = [row[0] for row in result["rows"] if not row[4]]
        lowest = min(agreement, key=agreement.get)
        print(f"| {name} | {result['precision']} | {agreement['agreement all_labels']:.4f} | "
              f"{lowest.removeprefix('agreement ')} {agreement[lowest]:.4f} | {len(failing)} | "
              f"{'pass' if result['passed'] else 'FAIL'} |")  # fmt: skip
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"gate_{stamp}.json"
    path.write_text(json.dumps({"date": stamp, "model": str(folder), "settings": settings, "cpu_flags": flags,
                                "windows": {task: len(ds) for task, ds in windows.items()}, "results": results},
                               indent=2, default=str), encoding="utf-8")  # fmt: skip
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
