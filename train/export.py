"""`helpline-fusion export DIR --format onnx|openvino [--int8 --cases-file F ...]`: the fused encoder and every head as
one graph with dynamic batch and sequence, written into the model folder.

    helpline-fusion export outputs/quickstart --format onnx            # onnx/model.onnx
    helpline-fusion export outputs/quickstart --format openvino        # openvino/openvino_model.xml (+ .bin)
    helpline-fusion export outputs/quickstart --format onnx --int8 --cases-file val_cases.json --ner-file val.jsonl

The graph takes `input_ids` and `attention_mask` (int64, `(batch, sequence)`, both dynamic), and for quality
heads that pool over counsellor turns (`qa_pooling: "turns"`) also `turn_ids` (int64, `(batch, sequence)`: each
token's counsellor turn in its window, -1 elsewhere; `inference_attention_fusion.graph_input_names`), and returns
`ner_logits`, `cls.<head>` and `qa.<head>` (`inference_attention_fusion.graph_output_names`); `predict --backend
onnx|openvino` and `ExportedFusionModel` run it with the PyTorch path's windowing, turn ids, batching,
temperatures and decoding. A traced graph cannot size the turn vectors by the batch's largest turn id (data), so
it keeps one turn slot per token position (`modeling_attention_fusion.turn_vectors`); the slots no token falls in
are absent turns, masked out as PyTorch masks a window's missing turns, so the outputs are PyTorch's.

The export is `torch.onnx.export(..., dynamo=True)` (torch.export + onnxscript): transformers 5's
`transformers.exporters.OnnxExporter` is built on the same call but for models with standard outputs; optimum does
not support transformers 5. OpenVINO converts the ONNX graph (`openvino.convert_model`).

**int8** (ONNX Runtime dynamic quantisation, per-channel int8 weights of the encoder's MatMuls; the NER classifier,
the poolings and the heads stay fp32) is offered only where the CPU has VNNI or AMX (elsewhere int8 is slower or
less exact), and written only when it passes the accuracy gate on the validation files given: label agreement with
the fp32 PyTorch model >= 99% (entities' word tags, every case head, every quality sub-metric), every validation
metric within 0.01, and critical recall never lower. The gate's table is printed; a failed gate writes nothing.

Needs the `onnx` extra (`pip install 'helpline-fusion[onnx]'`: onnxruntime, onnx, onnxscript) or `openvino`.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

FORMATS = ("onnx", "openvino")
GATE = {"label_agreement": 0.99, "metric_tolerance": 0.01}
CRITICAL_RECALL = "cls_priority_critical_recall"


class ExportError(ValueError):
    """A model that cannot be exported, or a missing runtime: one line for the command."""


def _require(*modules: str, extra: str) -> None:
    import importlib.util

    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise ExportError(f"export needs {', '.join(missing)}: pip install 'helpline-fusion[{extra}]'")


def fusion_graph(model: Any) -> tuple[Any, list[str]]:
    """The model as a module of plain tensors: `(input_ids, attention_mask[, turn_ids]) -> (ner_logits, cls...,
    qa...)` in the order of `graph_output_names` (`turn_ids` read by heads that pool over counsellor turns)."""
    import torch

    from ..modeling_attention_fusion.inference_attention_fusion import graph_output_names

    names = graph_output_names(model.config)

    class FusionGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, turn_ids: torch.Tensor | None = None
        ) -> tuple[torch.Tensor, ...]:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, turn_ids=turn_ids)
            values = {"ner_logits": out.ner_logits}
            values.update({f"cls.{head}": value for head, value in (out.cls_logits or {}).items()})
            values.update({f"qa.{head}": value for head, value in (out.qa_logits or {}).items()})
            return tuple(values[name] for name in names)

    return FusionGraph().eval(), names


def example_inputs(config: Any) -> dict[str, Any]:
    """The tensors the export traces with, one per graph input (`graph_input_names`): two windows of 16 tokens;
    `turn_ids` gives the first window two counsellor turns and the second none (-1 throughout)."""
    import torch

    from ..modeling_attention_fusion.inference_attention_fusion import graph_input_names

    length = min(16, int(getattr(config, "window_length", 512) or 512))
    input_ids = torch.full((2, length), 5, dtype=torch.long)
    turn_ids = torch.full_like(input_ids, -1)
    turn_ids[0, 1 : length - 1] = torch.arange(length - 2) * 2 // max(length - 2, 1)  # turns 0 and 1
    tensors = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "turn_ids": turn_ids}
    return {name: tensors[name] for name in graph_input_names(config)}


def export_onnx(model: Any, path: Path, opset: int | None = None) -> list[str]:
    """Write `model` as one ONNX graph at `path` (dynamic batch and sequence); returns its output names."""
    import torch
    from torch.export import Dim

    graph, names = fusion_graph(model)
    inputs = example_inputs(model.config)
    length = int(getattr(model.config, "window_length", 512) or 512)
    batch, sequence = Dim("batch", min=1, max=4096), Dim("sequence", min=2, max=max(length, 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        program = torch.onnx.export(
            graph, tuple(inputs.values()), dynamo=True, input_names=list(inputs), output_names=names,
            dynamic_shapes={name: {0: batch, 1: sequence} for name in inputs}, optimize=True, opset_version=opset,
            verbose=False,
        )  # fmt: skip
    program.save(str(path))
    return names


def quantize_int8(source: Path, target: Path) -> list[str]:
    """ONNX Runtime dynamic quantisation of `source`: per-channel int8 weights for the encoder's MatMuls; every
    other node (the NER classifier, poolings, heads) stays fp32. Returns the quantised node names."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    initializers = {init.name for init in graph.initializer}
    encoder, others = [], []
    for node in graph.node:
        if node.op_type not in ("MatMul", "Gemm"):
            continue
        scopes = next((prop.value for prop in node.metadata_props if prop.key == "pkg.torch.onnx.name_scopes"), "[]")
        scopes = ast.literal_eval(scopes) if scopes.startswith("[") else []
        inside = any(scope.startswith("model.encoder.") for scope in scopes) and not any("_head" in s for s in scopes)
        weighted = any(name in initializers for name in node.input)  # activations x activations stay fp32
        (encoder if inside and weighted else others).append(node.name)
    if not encoder:
        raise ExportError(f"{source}: found no encoder MatMul to quantise (node scopes not recorded by the export)")
    quantize_dynamic(
        str(source), str(target), weight_type=QuantType.QInt8, per_channel=True, nodes_to_quantize=encoder,
        op_types_to_quantize=["MatMul", "Gemm"],
    )  # fmt: skip
    return encoder


# --------------------------------------------------------------------------- the accuracy gate
def _agreement(reference: dict[str, tuple[Any, Any]], candidate: dict[str, tuple[Any, Any]]) -> dict[str, float]:
    """Share of equal decisions per part: NER word tags, each case head, each quality head's sub-metrics."""
    import numpy as np

    from .tasks import task_spec

    shares: dict[str, float] = {}
    same = total = 0
    for task, (_, ref) in reference.items():
        got = candidate[task][1]
        if task_spec(task).token_level:  # word-level tag sequences
            pairs = [(a, b) for ref_seq, got_seq in zip(ref, got) for a, b in zip(ref_seq, got_seq)]
            parts = {f"{task}.word_tags": (sum(a == b for a, b in pairs), len(pairs))}
        else:
            parts = {f"{task}.{head}": (int(np.sum(np.asarray(ref[head]) == np.asarray(got[head]))),
                                        int(np.asarray(ref[head]).size)) for head in ref}  # fmt: skip
        for name, (equal, count) in parts.items():
            shares[name] = equal / count if count else 1.0
            same, total = same + equal, total + count
    shares["all_labels"] = same / total if total else 1.0
    return shares


def accuracy_gate(reference: Any, candidate: Any, tokenized: dict, collator: Any) -> tuple[bool, list[list[Any]]]:
    """Whether `candidate` (the int8 graph) may replace `reference` (fp32 PyTorch) on the tokenised validation
    sets, and the table that says why: label agreement per part (>= 99%), every metric (within 0.01) and critical
    recall (never lower)."""
    from .evaluation import record_decisions
    from .metrics import composite
    from .tasks import TASK_SPECS

    def scored(model: Any) -> tuple[dict, dict[str, float]]:
        decisions = record_decisions(model, tokenized, collator)
        metrics: dict[str, float] = {}
        for task, (gold, pred) in decisions.items():
            metrics.update(TASK_SPECS[task].metrics(gold, pred, model.config))
        metrics["composite"] = composite(metrics)
        return decisions, metrics

    ref_decisions, ref_metrics = scored(reference)
    got_decisions, got_metrics = scored(candidate)
    rows: list[list[Any]] = []
    passed = True
    for name, share in _agreement(ref_decisions, got_decisions).items():
        ok = share >= GATE["label_agreement"]
        passed &= ok
        rows.append([f"agreement {name}", 1.0, share, ">= 0.99", ok])
    for name, value in ref_metrics.items():
        if "support" in name or not isinstance(value, float):
            continue
        other = got_metrics.get(name, float("nan"))
        ok = other >= value if name == CRITICAL_RECALL else abs(other - value) <= GATE["metric_tolerance"]
        passed &= bool(ok)
        rows.append([name, value, other, "never lower" if name == CRITICAL_RECALL else "within 0.01", bool(ok)])
    return passed, rows


def format_gate(rows: list[list[Any]], passed: bool) -> str:
    lines = [f"{'check':<44}{'fp32':>9}{'int8':>9}  {'rule':<12}result"]
    lines += [f"{name:<44}{ref:>9.4f}{got:>9.4f}  {rule:<12}{'pass' if ok else 'FAIL'}" for name, ref, got, rule, ok in rows]
    lines.append(f"gate: {'passed' if passed else 'FAILED'}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the command
def export_model(
    folder: str | Path,
    fmt: str = "onnx",
    int8: bool = False,
    gate: dict[str, Any] | None = None,
    force_int8: bool = False,
) -> dict[str, Any]:
    """Export the model in `folder` (see the module docstring) and return what was written.

    `gate`: `{"ner": path, "cases": path, "qa": path}` validation files for the int8 accuracy gate; `gate=None`
    with `int8=True` writes the int8 file ungated (benchmarks only). `force_int8` skips the VNNI/AMX check.

    Raises:
        ExportError: an unknown format, a missing runtime, int8 on a CPU without VNNI/AMX or without validation
            files, a model that cannot be exported.
    """
    from ..modeling_attention_fusion.inference_attention_fusion import EXPORT_FILES
    from .predict_cli import load_model

    folder = Path(folder)
    _check_export_request(fmt, int8, force_int8)
    if (folder / "run_manifest.json").is_file():
        from .run_folder import check_run_folder

        check_run_folder(folder, allow_unfinished=True)  # the weights exported are the run's
    model, tokenizer = load_model(str(folder), "cpu", setting="export")
    model.eval()
    written: dict[str, Any] = {"folder": str(folder), "format": fmt, "files": []}
    onnx_path = folder / EXPORT_FILES["onnx"]["fp32"]
    if fmt == "onnx" or not onnx_path.is_file():
        written["outputs"] = export_onnx(model, onnx_path)
        written["files"].append(str(onnx_path))
    if fmt == "openvino":
        import openvino

        target = folder / EXPORT_FILES["openvino"]["fp32"]
        target.parent.mkdir(parents=True, exist_ok=True)
        openvino.save_model(openvino.convert_model(str(onnx_path)), str(target), compress_to_fp16=False)
        written["files"] += [str(target), str(target.with_suffix(".bin"))]
    if int8 and not _export_int8(model, tokenizer, folder, onnx_path, gate, written):
        return written
    (folder / fmt).mkdir(exist_ok=True)
    (folder / fmt / "export.json").write_text(json.dumps(
        {key: value for key, value in written.items() if key not in {"folder", "gate_table"}}, indent=2,
    ) + "\n", encoding="utf-8")  # fmt: skip
    record_in_manifest(folder, [*written["files"], str(folder / fmt / "export.json")])
    return written


def _check_export_request(fmt: str, int8: bool, force_int8: bool) -> None:
    """`ExportError` for an unknown format, a missing runtime, or int8 where it is not offered or would not pay."""
    from ..modeling_attention_fusion.inference_attention_fusion import cpu_flags, native_int8

    if fmt not in FORMATS:
        raise ExportError(f"--format: expected one of {list(FORMATS)}, got {fmt!r}")
    _require("onnx", "onnxscript", extra="onnx")
    if fmt == "openvino":
        _require("openvino", extra="openvino")
        if int8:
            raise ExportError("--int8: the int8 export is ONNX Runtime's (--format onnx --int8)")
    if int8:
        _require("onnxruntime", extra="onnx")
        if not (native_int8() or force_int8):
            flags = ", ".join(name for name, present in cpu_flags().items() if present)
            raise ExportError(f"--int8: this CPU has no VNNI or AMX (flags: {flags}); int8 would not pay here")


def _export_int8(
    model: Any, tokenizer: Any, folder: Path, onnx_path: Path, gate: dict[str, Any] | None, written: dict[str, Any]
) -> bool:
    """Quantise the fp32 graph and, with `gate`, keep it only if it passes the accuracy gate (recorded in
    `written`); False when the gate failed and the int8 file was not written."""
    from ..modeling_attention_fusion.inference_attention_fusion import EXPORT_FILES, ExportedFusionModel

    target = folder / EXPORT_FILES["onnx"]["int8"]
    candidate = target.with_name(target.name + ".candidate")
    written["int8_nodes"] = len(quantize_int8(onnx_path, candidate))
    if gate is not None:
        from ..data.collator import MultiTaskCollator
        from .evaluate_cli import tokenized_files

        tokenized, _ = tokenized_files(model, tokenizer, gate.get("ner"), gate.get("cases"), gate.get("qa"))
        if not tokenized:
            candidate.unlink()
            raise ExportError("--int8: the gate needs validation files (--ner-file, --cases-file, --qa-file)")
        int8_model = ExportedFusionModel(model.config, _runner(candidate, model.config), "onnx", "int8")
        passed, rows = accuracy_gate(model, int8_model, tokenized, MultiTaskCollator(tokenizer, model.config))
        written.update(gate_passed=passed, gate=rows, gate_table=format_gate(rows, passed))
        if not passed:
            candidate.unlink()
            return False
        candidate.replace(target)
    else:
        candidate.replace(target)
    written["files"].append(str(target))
    return True


def record_in_manifest(folder: Path, files: list[str]) -> None:
    """Add the exported files to the folder's run manifest (when it has one), so `publish` uploads them as this
    run's: the folder is checked to hold one run first, so the graph was made from that run's weights."""
    from .run_folder import RUN_MANIFEST, check_run_folder, write_manifest

    if not (folder / RUN_MANIFEST).is_file():
        return
    manifest = check_run_folder(folder, allow_unfinished=True)
    names = [str(Path(path).resolve().relative_to(folder.resolve())) for path in files]
    names += [name for name in (f"{name}.data" for name in names) if (folder / name).is_file()]
    write_manifest(
        folder, manifest["run_id"], manifest.get("settings_digest", ""), manifest.get("phases_done", []),
        phases_pending=manifest.get("phases_pending", []), files=[*manifest["files"], *names],
    )  # fmt: skip


def _runner(path: Path, config: Any) -> Any:
    import torch

    from ..modeling_attention_fusion.inference_attention_fusion import (
        _onnx_runner,
        graph_input_names,
        graph_output_names,
    )

    return _onnx_runner(str(path), torch.get_num_threads(), graph_output_names(config), graph_input_names(config))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="helpline-fusion export", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="a saved model folder (the export is written into it)")
    parser.add_argument("--format", choices=FORMATS, default="onnx", help="onnx (default) or openvino")
    parser.add_argument("--int8", action="store_true", help="also write onnx/model_int8.onnx if it passes the gate")
    parser.add_argument("--ner-file", default=None, help="validation NER file for the int8 gate")
    parser.add_argument("--cases-file", default=None, help="validation case file for the int8 gate")
    parser.add_argument("--qa-file", default=None, help="validation quality file for the int8 gate")
    args = parser.parse_args(argv)
    gate = None
    if args.int8:
        gate = {"ner": args.ner_file, "cases": args.cases_file, "qa": args.qa_file}
        if not any(gate.values()):
            print("helpline-fusion export: --int8 needs validation files for its accuracy gate (--ner-file, "
                  "--cases-file, --qa-file)", file=sys.stderr)  # fmt: skip
            return 2
    if not (args.model / "config.json").is_file():
        print(f"helpline-fusion export: model folder not found: {args.model}", file=sys.stderr)
        return 2
    try:
        written = export_model(args.model, args.format, int8=args.int8, gate=gate)
    except (ExportError, ValueError, OSError) as error:
        print(f"helpline-fusion export: {error}", file=sys.stderr)
        return 2
    if "gate_table" in written:
        print(written["gate_table"])
    for path in written["files"]:
        print(f"wrote {path}")
    if args.int8 and not written.get("gate_passed", True):
        print("helpline-fusion export: int8 failed the accuracy gate; no int8 file written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
