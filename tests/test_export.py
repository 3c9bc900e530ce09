"""`helpline-fusion export`: one ONNX graph (dynamic batch and sequence) that gives PyTorch's outputs, predicts with
the PyTorch path's windowing and decoding, runs in a clean process with only the runtime, is published with the
model, and writes int8 only through the accuracy gate; quality heads that pool over counsellor turns
(`qa_pooling: "turns"`) export with a third input, `turn_ids`, and predict as in PyTorch too."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="the onnx extra (pip install 'helpline-fusion[onnx]') is not installed")
pytest.importorskip("onnxscript", reason="the onnx extra (pip install 'helpline-fusion[onnx]') is not installed")

from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import (  # noqa: E402
    EXPORT_FILES,
    ExportedFusionModel,
    encode_windows,
    graph_input_names,
    graph_output_names,
)
from helpline_fusion.modeling_attention_fusion.speakers_attention_fusion import quality_speakers  # noqa: E402
from helpline_fusion.train import export as export_module  # noqa: E402

from .test_inference import VOCAB, make_model  # noqa: E402

TEXTS = [
    "my child is 12 years old and he is calling from kisumu town about danger " * 3,
    "hello , my name is amina",
    "the child is calling about danger from town",
]
# Speaker-labelled calls for the turn-pooled model: several counsellor turns over several windows, a call where
# the counsellor never speaks (its windows have no turn), and an unlabelled call (one turn per window).
TURN_TEXTS = [
    "Caller: my child is 12 years old\nCounsellor: is he calling from town\nCaller: he is from kisumu town\n"
    "Counsellor: the danger is routine\nCaller: my name is amina\nCounsellor: call about the child " * 2,
    "Caller: hello , my name is amina and the child is from town",
    "the child is calling about danger from town",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny random model saved with its tokenizer, exported to ONNX once for the module."""
    folder = tmp_path_factory.mktemp("exported")
    model = make_model(window_length=32, window_stride=8)
    tokenizer = _save(folder, model)
    written = export_module.export_model(folder, "onnx")
    return folder, model, tokenizer, written


def _save(folder, model):
    from transformers import BertTokenizerFast

    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    tokenizer = BertTokenizerFast.from_pretrained(folder, do_lower_case=True, model_max_length=512)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return tokenizer


@pytest.fixture(scope="module")
def exported_turns(tmp_path_factory):
    """A tiny random model whose quality heads pool over counsellor turns, exported to ONNX once for the module."""
    folder = tmp_path_factory.mktemp("exported_turns")
    model = make_model(window_length=32, window_stride=8, qa_pooling="turns")
    tokenizer = _save(folder, model)
    written = export_module.export_model(folder, "onnx")
    return folder, model, tokenizer, written


def _reference(out):
    return {"ner_logits": out.ner_logits, **{f"cls.{h}": v for h, v in out.cls_logits.items()},
            **{f"qa.{h}": v for h, v in out.qa_logits.items()}}  # fmt: skip


def test_the_graph_gives_pytorchs_outputs_for_any_batch_and_length(exported):
    import onnxruntime

    folder, model, _, written = exported
    assert written["files"][0] == str(folder / EXPORT_FILES["onnx"]["fp32"])
    session = onnxruntime.InferenceSession(str(folder / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    assert sorted(names) == sorted(graph_output_names(model.config))  # a saved config lists heads alphabetically
    generator = torch.Generator().manual_seed(0)
    for batch, length in ((1, 5), (3, 32), (7, 19)):  # none of them the export's example shape (2, 16)
        ids = torch.randint(5, len(VOCAB), (batch, length), generator=generator)
        mask = torch.ones_like(ids)
        mask[0, length - 2 :] = 0  # padding in one row
        values = dict(zip(names, session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})))
        with torch.no_grad():
            reference = _reference(model(input_ids=ids, attention_mask=mask))
        for name, value in values.items():
            np.testing.assert_allclose(value, reference[name].numpy(), atol=1e-4, rtol=1e-4, err_msg=name)


def _decisions(result):
    return {
        "entities": [(e["label"], e["start"], e["end"]) for e in result["entities"]],
        "case": {head: decision["label"] for head, decision in result["case"].items()},
        "quality": {head: {name: d["met"] for name, d in subs.items()} for head, subs in result["quality"].items()},
        "needs_review": result["needs_review"],
        "num_windows": result["num_windows"],
    }


def test_predict_on_the_exported_graph_decides_as_pytorch(exported):
    folder, model, tokenizer, _ = exported
    onnx_model = ExportedFusionModel.from_pretrained(str(folder), backend="onnx")
    ours, theirs = onnx_model.predict(TEXTS, tokenizer, batch_size=2), model.predict(TEXTS, tokenizer, batch_size=2)
    assert [_decisions(r) for r in ours] == [_decisions(r) for r in theirs]
    assert ours[0]["num_windows"] > 1
    for a, b in zip(ours, theirs):
        assert a["case"]["priority"]["score"] == pytest.approx(b["case"]["priority"]["score"], abs=1e-4)
    with pytest.raises(ValueError, match="no onnx int8 export in this folder"):
        ExportedFusionModel.from_pretrained(str(folder), backend="onnx", precision="int8")
    with pytest.raises(ValueError, match="evidence: the exported graph returns no pooling weights"):
        onnx_model.predict(TEXTS[:1], tokenizer, evidence=True)


def test_an_exported_folder_predicts_in_a_clean_process_without_the_exporter(exported, tmp_path):
    folder, model, tokenizer, _ = exported
    source = tmp_path / "calls.jsonl"
    source.write_text("".join(json.dumps({"id": f"c{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS)), "utf-8")
    out = tmp_path / "out.jsonl"
    script = textwrap.dedent(f"""
        import sys
        from helpline_fusion.train.predict_cli import main
        code = main(["--model", {str(folder)!r}, {str(source)!r}, "-o", {str(out)!r}, "--backend", "onnx"])
        loaded = sorted(name for name in ("onnxscript", "onnx", "torch.onnx") if name in sys.modules)
        print("LOADED", loaded)
        sys.exit(code)
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-2000:]
    assert "LOADED []" in child.stdout  # the runtime alone: no exporter, no onnx package
    assert "backend onnx, precision fp32" in child.stderr
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    expected = model.predict(TEXTS, tokenizer)
    assert [_decisions(row) for row in rows] == [_decisions(r) for r in expected]


def _reuse_graph(monkeypatch, folder):
    """Export without tracing again: the module's graph is copied (these tests are about what happens around it)."""
    import shutil

    def copy(model, path, opset=None):
        path.parent.mkdir(parents=True, exist_ok=True)
        if path != folder / "onnx" / "model.onnx":
            shutil.copyfile(folder / "onnx" / "model.onnx", path)
        return graph_output_names(model.config)

    monkeypatch.setattr(export_module, "export_onnx", copy)


def test_export_is_recorded_in_the_run_manifest_and_published(exported, tmp_path, monkeypatch):
    import shutil

    from helpline_fusion.train.publish import hub_files
    from helpline_fusion.train.run_folder import check_run_folder, write_manifest

    folder, _, _, _ = exported
    _reuse_graph(monkeypatch, folder)
    run = tmp_path / "run"
    shutil.copytree(folder, run, ignore=shutil.ignore_patterns("onnx"))
    (run / "label_maps.json").write_text("{}", "utf-8")
    (run / "README.md").write_text("card", "utf-8")
    write_manifest(run, "run-1", "digest", ["train"])
    export_module.export_model(run, "onnx")
    manifest = check_run_folder(run)
    assert {"onnx/model.onnx", "onnx/export.json"} <= set(manifest["files"])
    assert {"onnx/model.onnx", "onnx/export.json"} <= set(hub_files(run))
    (run / "onnx" / "model.onnx").write_bytes(b"not the run's graph")
    with pytest.raises(ValueError, match="differs from the file run run-1 wrote"):
        check_run_folder(run)


def test_int8_keeps_the_heads_in_fp32_and_is_written_only_through_the_gate(exported, tmp_path, monkeypatch):
    folder, model, tokenizer, _ = exported
    target = tmp_path / "int8.onnx"
    quantised = export_module.quantize_int8(folder / "onnx" / "model.onnx", target)
    layers = model.config.encoder_config.num_hidden_layers
    assert len(quantised) == 6 * layers  # q, k, v, output, intermediate, output of every layer; no head
    int8 = ExportedFusionModel(model.config, export_module._runner(target, model.config), "onnx", "int8")
    assert [_decisions(r)["num_windows"] for r in int8.predict(TEXTS, tokenizer)] == [3, 1, 1]

    from helpline_fusion.data.collator import MultiTaskCollator
    from helpline_fusion.data.synthetic import generate
    from helpline_fusion.train.evaluate_cli import tokenized_files

    files = generate(tmp_path / "data", seed=3, n_ner=3, n_cases=3, n_qa=3, n_qa_heldout=0)
    tokenized, _ = tokenized_files(model, tokenizer, files["ner_file"], files["cases_file"], files["qa_file"],
                                   window_length=256, window_stride=32)  # fmt: skip
    collator = MultiTaskCollator(tokenizer, model.config)
    passed, rows = export_module.accuracy_gate(model, model, tokenized, collator)
    assert passed and {row[0] for row in rows} >= {"agreement all_labels", "cls_priority_critical_recall"}

    class Flipped(ExportedFusionModel):  # a candidate that gets every case decision wrong
        def __call__(self, *args, **kwargs):
            out = super().__call__(*args, **kwargs)
            out.cls_logits = {head: -value for head, value in out.cls_logits.items()}
            return out

    flipped = Flipped(model.config, export_module._runner(folder / "onnx" / "model.onnx", model.config), "onnx", "int8")
    passed, rows = export_module.accuracy_gate(model, flipped, tokenized, collator)
    table = export_module.format_gate(rows, passed)
    assert not passed and "gate: FAILED" in table
    assert any(row[0].startswith("agreement cls.") and not row[4] for row in rows)

    _reuse_graph(monkeypatch, folder)
    monkeypatch.setattr(export_module, "accuracy_gate", lambda *a: (False, rows))
    gate = {"ner": files["ner_file"], "cases": files["cases_file"], "qa": files["qa_file"]}
    written = export_module.export_model(folder, "onnx", int8=True, gate=gate, force_int8=True)
    assert written["gate_passed"] is False and "gate: FAILED" in written["gate_table"]
    assert not (folder / EXPORT_FILES["onnx"]["int8"]).exists()
    assert not list((folder / "onnx").glob("*.candidate"))


def test_openvino_runs_the_converted_graph_with_pytorchs_decisions(exported):
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    folder, model, tokenizer, _ = exported
    written = export_module.export_model(folder, "openvino")  # converts the module's ONNX graph
    assert str(folder / EXPORT_FILES["openvino"]["fp32"]) in written["files"]
    ours = ExportedFusionModel.from_pretrained(str(folder), backend="openvino", precision="fp32")
    assert ours.precision == "fp32"
    expected = model.predict(TEXTS, tokenizer)
    assert [_decisions(r) for r in ours.predict(TEXTS, tokenizer)] == [_decisions(r) for r in expected]
    auto = ExportedFusionModel.from_pretrained(str(folder), backend="openvino")
    from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import native_bf16

    assert auto.precision == ("bf16" if native_bf16() else "fp32")  # OpenVINO's own choice, native bf16 only


# --------------------------------------------------------------------------- quality heads pooling over turns
def _turn_ids(batch: int, length: int) -> torch.Tensor:
    """Counsellor turns of a batch: rows with 3, 0, 1, 5 and 2 turns (in turn), between -1 tokens."""
    turn_ids = torch.full((batch, length), -1, dtype=torch.long)
    for row in range(batch):
        turns = (3, 0, 1, 5, 2)[row % 5]
        for position in range(1, length - 1):
            chunk = (position - 1) * 2 * turns // (length - 2)
            turn_ids[row, position] = chunk // 2 if chunk % 2 == 0 and turns else -1
    return turn_ids


def _quality_scores(result):
    return {f"{head}.{name}": d["score"] for head, subs in result["quality"].items() for name, d in subs.items()}


def test_a_turn_pooled_graph_takes_turn_ids_and_gives_pytorchs_outputs(exported_turns):
    import onnxruntime

    folder, model, _, _ = exported_turns
    session = onnxruntime.InferenceSession(str(folder / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    assert [i.name for i in inputs] == graph_input_names(model.config) == ["input_ids", "attention_mask", "turn_ids"]
    assert all(i.type == "tensor(int64)" and i.shape == ["batch", "sequence"] for i in inputs)
    names = [output.name for output in session.get_outputs()]
    generator = torch.Generator().manual_seed(1)
    for batch, length in ((5, 19), (4, 32), (1, 7)):  # windows of 3, 0, 1, 5 and 2 turns side by side
        ids = torch.randint(5, len(VOCAB), (batch, length), generator=generator)
        mask, turn_ids = torch.ones_like(ids), _turn_ids(batch, length)
        mask[0, length - 3 :] = 0  # padding in one row (its turn ids there are masked out)
        feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy(), "turn_ids": turn_ids.numpy()}
        values = dict(zip(names, session.run(None, feeds)))
        with torch.no_grad():
            reference = _reference(model(input_ids=ids, attention_mask=mask, turn_ids=turn_ids))
        for name, value in values.items():
            np.testing.assert_allclose(value, reference[name].numpy(), atol=1e-4, rtol=1e-4, err_msg=name)
    # The graph reads the turns: fed none (all -1), the quality logits change and nothing else does.
    dropped = dict(zip(names, session.run(None, {**feeds, "turn_ids": np.full_like(feeds["turn_ids"], -1)})))
    assert max(np.abs(dropped[name] - values[name]).max() for name in names if name.startswith("qa.")) > 1e-2
    for name in (name for name in names if not name.startswith("qa.")):
        np.testing.assert_allclose(dropped[name], values[name], atol=1e-6, err_msg=name)


def test_predict_on_a_turn_pooled_graph_decides_as_pytorch(exported_turns):
    folder, model, tokenizer, _ = exported_turns
    windows = encode_windows(TURN_TEXTS, tokenizer, 32, 8, quality_speakers(model.config))
    counts = [len({turn for turn in window.turn_ids if turn >= 0}) for window in windows]
    assert 0 in counts and len(set(counts)) >= 3  # batches mix windows of different turn counts, and none
    onnx_model = ExportedFusionModel.from_pretrained(str(folder), backend="onnx")
    ours = onnx_model.predict(TURN_TEXTS, tokenizer, batch_size=3)
    theirs = model.predict(TURN_TEXTS, tokenizer, batch_size=3)
    assert [_decisions(r) for r in ours] == [_decisions(r) for r in theirs]
    assert ours[0]["num_windows"] > 1
    assert [_quality_scores(r) for r in ours] == [pytest.approx(_quality_scores(r), abs=1e-4) for r in theirs]

    class Dropped(ExportedFusionModel):  # a runtime that lost the turns: what the comparison above must catch
        def __call__(self, *args, **kwargs):
            return super().__call__(*args, **{**kwargs, "turn_ids": torch.full_like(kwargs["turn_ids"], -1)})

    lost = Dropped(model.config, onnx_model._run, "onnx", "fp32").predict(TURN_TEXTS, tokenizer, batch_size=3)
    assert [_quality_scores(r) for r in lost] != [pytest.approx(_quality_scores(r), abs=1e-3) for r in theirs]
    ids = torch.tensor([windows[0].input_ids])
    with pytest.raises(ValueError, match=r"turn_ids: this model's qa heads pool over counsellor turns and need"):
        onnx_model(ids, torch.ones_like(ids))
    with torch.no_grad():  # one task's windows without turns (the gate's NER data): the NER logits are PyTorch's
        expected = model(input_ids=ids, attention_mask=torch.ones_like(ids), task="ner").ner_logits
    got = onnx_model(ids, torch.ones_like(ids), task="ner")
    torch.testing.assert_close(got.ner_logits, expected, atol=1e-4, rtol=1e-4)
    assert got.qa_logits == {} and got.cls_logits == {}


def test_a_graph_without_the_turn_ids_input_is_refused_for_a_turn_pooled_model(exported, exported_turns):
    from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import _onnx_runner

    config = exported_turns[1].config
    needs = r"graph inputs \['input_ids', 'attention_mask'\] do not match what the config needs \['input_ids', "
    with pytest.raises(ValueError, match=needs + r"'attention_mask', 'turn_ids'\]; export it again"):
        _onnx_runner(str(exported[0] / "onnx" / "model.onnx"), 1, graph_output_names(config), graph_input_names(config))


def test_the_int8_gate_feeds_a_turn_pooled_candidate_its_turns(exported_turns, tmp_path):
    from helpline_fusion.data.collator import MultiTaskCollator
    from helpline_fusion.data.synthetic import generate
    from helpline_fusion.train.evaluate_cli import tokenized_files

    folder, model, tokenizer, _ = exported_turns
    target = tmp_path / "int8.onnx"
    assert len(export_module.quantize_int8(folder / "onnx" / "model.onnx", target)) == 6 * 2  # the turn head stays fp32
    files = generate(tmp_path / "data", seed=3, n_ner=3, n_cases=3, n_qa=3, n_qa_heldout=0)
    tokenized, _ = tokenized_files(model, tokenizer, files["ner_file"], files["cases_file"], files["qa_file"])
    assert "turn_ids" in tokenized["qa"].column_names and "turn_ids" not in tokenized["ner"].column_names
    collator = MultiTaskCollator(tokenizer, model.config)
    fp32 = ExportedFusionModel(model.config, export_module._runner(folder / "onnx" / "model.onnx", model.config),
                               "onnx", "fp32")  # fmt: skip
    passed, rows = export_module.accuracy_gate(model, fp32, tokenized, collator)
    agreement = {row[0]: row[2] for row in rows if row[0].startswith("agreement ")}
    assert passed and any(name.startswith("agreement qa.") for name in agreement)
    assert set(agreement.values()) == {1.0}
    int8 = ExportedFusionModel(model.config, export_module._runner(target, model.config), "onnx", "int8")
    passed, rows = export_module.accuracy_gate(model, int8, tokenized, collator)  # runs; the tiny model may fail it
    assert any(row[0].startswith("agreement qa.") for row in rows)


def test_openvino_runs_a_turn_pooled_graph_with_pytorchs_decisions(exported_turns):
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    folder, model, tokenizer, _ = exported_turns
    written = export_module.export_model(folder, "openvino")
    assert str(folder / EXPORT_FILES["openvino"]["fp32"]) in written["files"]
    ours = ExportedFusionModel.from_pretrained(str(folder), backend="openvino", precision="fp32")
    got = ours.predict(TURN_TEXTS, tokenizer, batch_size=3)
    expected = model.predict(TURN_TEXTS, tokenizer, batch_size=3)
    assert [_decisions(r) for r in got] == [_decisions(r) for r in expected]
    assert [_quality_scores(r) for r in got] == [pytest.approx(_quality_scores(r), abs=1e-4) for r in expected]


def test_the_command_explains_what_is_missing(tmp_path, monkeypatch, capsys):
    assert export_module.main([str(tmp_path / "nowhere")]) == 2
    assert "model folder not found" in capsys.readouterr().err
    assert export_module.main([str(tmp_path), "--int8"]) == 2
    assert "--int8 needs validation files" in capsys.readouterr().err
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    (tmp_path / "config.json").write_text("{}", "utf-8")
    assert export_module.main([str(tmp_path), "--format", "openvino"]) == 2
    assert "export needs openvino: pip install 'helpline-fusion[openvino]'" in capsys.readouterr().err


def test_openvino_names_each_output_by_its_head_when_a_port_carries_several_names():
    """OpenVINO's compiled model can fuse a head's logits with an inner tensor (seen for the quality heads of a
    trained `pool_per_head` model: one port named {'einsum_2', 'qa.closing'}); `get_any_name` then returns the inner
    name, so the runner takes the head's own name from the port's names."""
    from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import _port_name

    class Port:
        def __init__(self, *names):
            self.names = names

        def get_names(self):
            return set(self.names)

        def get_any_name(self):
            return self.names[0]

    heads = ["ner_logits", "qa.closing", "qa.opening"]
    assert _port_name(Port("einsum_2", "qa.closing"), heads) == "qa.closing"
    assert _port_name(Port("qa.opening"), heads) == "qa.opening"
    assert _port_name(Port("einsum_9"), heads) == "einsum_9"  # no head's name: left for the graph check to refuse


def test_openvino_runs_a_pool_per_head_model_with_pytorchs_decisions(tmp_path):
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    model = make_model(window_length=32, window_stride=8, pool_per_head=True)
    tokenizer = _save(tmp_path, model)
    export_module.export_model(tmp_path, "openvino")
    ours = ExportedFusionModel.from_pretrained(str(tmp_path), backend="openvino", precision="fp32")
    expected = model.predict(TEXTS, tokenizer)
    assert [_decisions(r) for r in ours.predict(TEXTS, tokenizer)] == [_decisions(r) for r in expected]
