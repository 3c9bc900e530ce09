"""One precision setting: `auto` picks bf16 only where the CPU computes it natively, logs the choice; an explicit
bf16 without native support warns that it is emulated; `--bf16` / `bf16=True` remain as deprecated spellings."""

from __future__ import annotations

import json
import logging

import pytest

from helpline_fusion.modeling_attention_fusion import inference_attention_fusion as inference
from helpline_fusion.train.predict_cli import main

from .test_inference import make_model
from .test_inference import tokenizer as tokenizer  # noqa: F401  (the fixture)

NATIVE = dict.fromkeys(inference.CPU_FLAGS, False) | {"avx2": True, "avx512f": True, "avx512_bf16": True}
AVX2_ONLY = dict.fromkeys(inference.CPU_FLAGS, False) | {"avx2": True}


@pytest.fixture
def cpu(monkeypatch):
    def set_flags(flags):
        monkeypatch.setattr(inference, "cpu_flags", lambda: dict(flags))

    return set_flags


def test_auto_picks_bf16_only_on_a_cpu_with_native_bf16_and_logs_it(cpu, caplog):
    caplog.set_level(logging.INFO, logger=inference.__name__)
    cpu(NATIVE)
    assert inference.resolve_precision("auto") == "bf16"
    assert "precision auto: bf16 on cpu (avx2, avx512f, avx512_bf16)" in caplog.text
    cpu(AVX2_ONLY)
    assert inference.resolve_precision("auto") == "fp32"
    cpu(dict(AVX2_ONLY, amx_bf16=True))
    assert inference.resolve_precision("auto") == "bf16"


def test_explicit_bf16_on_a_cpu_without_it_warns_that_it_is_emulated(cpu, caplog):
    cpu(AVX2_ONLY)
    assert inference.resolve_precision("bf16") == "bf16"
    assert "no native bfloat16" in caplog.text and "emulates" in caplog.text
    caplog.clear()
    cpu(NATIVE)
    assert inference.resolve_precision("bf16") == "bf16" and "emulates" not in caplog.text


def test_the_default_is_fp32_and_bad_values_are_refused():
    assert inference.resolve_precision(None) == "fp32"
    with pytest.raises(ValueError, match=r"precision: expected one of \['auto', 'fp32', 'bf16', 'int8'\], got 'fp16'"):
        inference.resolve_precision("fp16")
    with pytest.warns(FutureWarning, match="bf16=True is deprecated"):
        assert inference.resolve_precision(None, bf16=True) == "bf16"
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="contradicts"):
        inference.resolve_precision("fp32", bf16=True)


def test_predict_runs_what_auto_chose(cpu, monkeypatch, tokenizer):  # noqa: F811
    model = make_model(window_length=24, window_stride=8)
    seen = []
    real = inference.run_windows
    monkeypatch.setattr(inference, "run_windows", lambda *a, **k: seen.append(k["bf16"]) or real(*a, **k))
    text = "my child is 12 years old and he is calling from kisumu town"
    cpu(AVX2_ONLY)
    fp32 = model.predict(text, tokenizer, precision="auto")
    cpu(NATIVE)
    model.predict(text, tokenizer, precision="auto")
    with pytest.warns(FutureWarning):
        model.predict(text, tokenizer, bf16=True)
    assert seen == [False, True, True]
    assert fp32 == model.predict(text, tokenizer)  # the default: fp32
    assert seen[-1] is False
    with pytest.raises(ValueError, match="int8 runs only in an exported int8 model"):
        model.predict(text, tokenizer, precision="int8")


def test_the_predict_command_says_what_auto_chose_and_keeps_bf16_as_an_alias(cpu, model_dir, tmp_path, capsys, caplog):
    source = tmp_path / "calls.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "hello , my name is amina"}) + "\n", encoding="utf-8")
    cpu(AVX2_ONLY)
    assert main(["--model", str(model_dir), str(source), "-o", str(tmp_path / "a.jsonl")]) == 0
    assert "precision auto -> fp32 (CPU flags: avx2)" in capsys.readouterr().err
    assert main(["--model", str(model_dir), str(source), "-o", str(tmp_path / "b.jsonl"), "--bf16"]) == 0
    err = capsys.readouterr().err
    assert "--bf16 is deprecated; use --precision bf16" in err and "emulates" in caplog.text
    code = main(["--model", str(model_dir), str(source), "-o", str(tmp_path / "c.jsonl"), "--bf16", "--precision", "fp32"])
    assert code == 2 and "--bf16 contradicts --precision fp32" in capsys.readouterr().err
