"""Helpers of `bench/bench_training_speed.py` (the earlier design's fixed padding) and
`bench/bench_inference_flops.py` (the analytic FLOP count, length bucketing) and `bench/bench_gate.py` (its refusal
of a folder whose split it cannot rebuild, its bf16 candidate), on a tiny random encoder (no real weights, no
data), and `bench/bench_kfold.py`'s majority fallback on hand-made out-of-fold decisions."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch

from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel

from .conftest import tiny_bert_config

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"


def _bench_module(name: str):
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH_DIR))  # as `python bench/<script>.py` runs: its siblings importable
        return importlib.import_module(name)


@pytest.fixture(scope="module")
def speed():
    return _bench_module("bench_training_speed")


@pytest.fixture(scope="module")
def bench():
    return _bench_module("bench_inference_flops")


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    model = AttentionFusionModel(AttentionFusionConfig(encoder_config=tiny_bert_config())).eval()
    model.encoder.set_attn_implementation("eager")  # FlopCounterMode counts eager attention's matmuls
    return model


def test_pad_batch_to_pads_ner_labels_with_ignore_index(speed):
    batch = {
        "task": "ner",
        "input_ids": torch.tensor([[2, 7, 3], [2, 3, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1], [1, 1, 0]]),
        "labels": torch.tensor([[-100, 4, -100], [-100, -100, -100]]),
    }
    out = speed.pad_batch_to(batch, 6, pad_token_id=0)
    assert out["input_ids"].tolist() == [[2, 7, 3, 0, 0, 0], [2, 3, 0, 0, 0, 0]]
    assert out["attention_mask"].tolist() == [[1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0]]
    assert out["labels"].tolist()[0] == [-100, 4, -100, -100, -100, -100]
    assert batch["input_ids"].shape == (2, 3)  # the collator's batch is left as it was


def test_pad_batch_to_truncates_and_keeps_case_labels(speed):
    labels = {"priority": torch.tensor([1, 0])}
    batch = {
        "task": "cls",
        "input_ids": torch.arange(10).reshape(2, 5),
        "attention_mask": torch.ones(2, 5),
        "labels": labels,
    }
    out = speed.pad_batch_to(batch, 3, pad_token_id=0)
    assert out["input_ids"].tolist() == [[0, 1, 2], [5, 6, 7]]
    assert out["attention_mask"].shape == (2, 3)
    assert out["labels"] is labels


def test_flop_parameters_split_token_and_pooled_linears(bench, tiny_model):
    params = bench.flop_parameters(tiny_model)
    config = tiny_model.config
    per_sequence = 32 * (
        sum(len(v) for v in config.case_heads.values()) + sum(len(v) for v in config.qa_heads.values())
    )
    assert params["per_sequence"] == per_sequence
    # encoder: 2 layers of Q, K, V, output (32x32 each) and FFN (32x37 twice); the linear NER head 32xtags;
    # 2 attention-pooling scorers 32x1
    encoder = 2 * (4 * 32 * 32 + 2 * 32 * 37)
    assert params["per_token"] == encoder + 32 * len(config.ner_labels) + 2 * 32


@pytest.mark.parametrize("shape", [(1, 7), (3, 12)])
def test_inference_flops_match_flop_counter(bench, tiny_model, shape):
    batch = {"input_ids": torch.randint(5, 90, shape), "attention_mask": torch.ones(shape, dtype=torch.long)}
    analytic = bench.inference_flops(tiny_model, [shape[1]] * shape[0])
    assert analytic == bench.counted_flops(tiny_model, batch)


def test_attention_term_grows_with_the_square_of_the_length(bench, tiny_model):
    one, two = bench.inference_flops(tiny_model, [100]), bench.inference_flops(tiny_model, [200])
    # f(L) = a L + b L^2 + c: f(200) - f(100) = 100 a + 30000 b exceeds 2 (f(100) - f(50)) = 100 a + 15000 b iff b > 0
    assert two - one > 2 * (one - bench.inference_flops(tiny_model, [50]))
    assert bench.inference_flops(tiny_model, [100, 100]) == 2 * one


def test_length_batches_bucket_by_length(bench):
    windows = [{"input_ids": [0] * n} for n in (5, 50, 7, 48, 6, 49)]
    batches = bench.length_batches(windows, 3)
    assert [[len(w["input_ids"]) for w in batch] for batch in batches] == [[50, 49, 48], [7, 6, 5]]


def test_split_linear_bias_keeps_the_outputs(bench, tiny_model):
    import copy

    batch = {"input_ids": torch.randint(5, 90, (2, 9)), "attention_mask": torch.ones(2, 9, dtype=torch.long)}
    split = bench.split_linear_bias(copy.deepcopy(tiny_model))
    assert all(
        "forward" in vars(module) for module in split.modules() if isinstance(module, torch.nn.Linear)
    )  # every linear patched
    with torch.inference_mode():
        expected, got = tiny_model(**batch, task=None), split(**batch, task=None)
    torch.testing.assert_close(got.ner_logits, expected.ner_logits)
    torch.testing.assert_close(got.cls_logits["priority"], expected.cls_logits["priority"])


# --------------------------------------------------------------------------- bench_gate
QUICKSTART = Path(__file__).resolve().parents[1] / "configuration" / "quickstart.yaml"


def test_bench_gate_refuses_a_folder_whose_split_it_cannot_rebuild(tmp_path):
    """The gate scores a trained model on its own validation split, rebuilt from the training settings: a folder
    with no settings record, or one trained with other settings (another seed splits otherwise), is refused before
    any data is read, with the file and the settings that differ."""
    from helpline_fusion.train.run_settings import run_settings, write_run_settings
    from helpline_fusion.train.settings import parse_settings

    gate = _bench_module("bench_gate")
    with pytest.raises(ValueError, match=r"no run_settings\.json, so its validation split cannot be rebuilt"):
        gate.validation_windows(tmp_path, [str(QUICKSTART)], model=None, tokenizer=None)
    write_run_settings(tmp_path, run_settings(*parse_settings([str(QUICKSTART), "--output_dir", str(tmp_path)])))
    refused = r"run_settings\.json records other settings than these \(seed: 42 there, 43 here\): give the run's own"
    with pytest.raises(ValueError, match=refused):
        gate.validation_windows(tmp_path, [str(QUICKSTART), "--seed", "43"], model=None, tokenizer=None)


def test_bench_gate_bf16_candidate_runs_the_model_under_autocast(tiny_model):
    gate = _bench_module("bench_gate")
    candidate = gate.Bf16Autocast(tiny_model)
    assert candidate.config is tiny_model.config  # everything but the call is the model's
    ids = torch.randint(5, 100, (2, 12), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        got = candidate(input_ids=ids, attention_mask=mask).ner_logits
        with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=True):
            expected = tiny_model(input_ids=ids, attention_mask=mask).ner_logits
        fp32 = tiny_model(input_ids=ids, attention_mask=mask).ner_logits
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert (got.float() - fp32).abs().max() > 0  # bf16 arithmetic, not the fp32 model's


def _decision(fold: int, gold: str, predicted: str, score: float) -> dict:
    other = "b" if predicted == "a" else "a"
    return {"fold": fold, "h": {"gold": gold, "predicted": predicted, "probs": {predicted: score, other: 1 - score}}}


def test_majority_fallback_takes_the_majority_where_the_model_is_unsure_and_wrong():
    kfold = _bench_module("bench_kfold")
    # Majority "a"; the model is right when sure (0.9) and wrong when unsure (0.55): a threshold between them,
    # fitted on the other folds, answers "a" for the unsure ones.
    records = []
    for fold in range(3):
        records += [_decision(fold, "a", "a", 0.9), _decision(fold, "b", "b", 0.9), _decision(fold, "a", "b", 0.55),
                    _decision(fold, "a", "b", 0.55), _decision(fold, "a", "a", 0.9)]
    figures = kfold.majority_fallback(records, heads=("h",))["h"]
    assert figures["shipped"] == pytest.approx(3 / 5)
    assert figures["majority"] == pytest.approx(4 / 5)
    assert figures["fallback"] == pytest.approx(1.0)


def test_majority_fallback_fits_each_fold_on_the_other_folds_only():
    kfold = _bench_module("bench_kfold")
    right = [_decision(fold, gold, gold, 0.6) for fold in range(3) for gold in ("a", "a", "b")]
    assert kfold.majority_fallback(right, heads=("h",))["h"] == {"shipped": 1.0, "fallback": 1.0,
                                                                 "majority": pytest.approx(2 / 3)}
    # Folds 0 and 1: the model is always right, their majority "a". Fold 2: all "b", the model says "a" (wrong).
    # Fold 2 is decided by a threshold fitted on folds 0-1 (t = 0, the model: 3 errors) with their majority "a"
    # (3 misses); fold 0 by one fitted on folds 1-2 (majority "b"; t = 0.9 keeps only the sure answer: 2 of 3
    # right), fold 1 likewise. Fitting on the held fold, or a majority over all folds (overall "b") or over the
    # held fold, gives other figures.
    records = [_decision(fold, gold, gold, score) for fold in (0, 1) for gold, score in (("a", 0.9), ("a", 0.6),
                                                                                        ("b", 0.6))]
    records += [_decision(2, "b", "a", 0.6) for _ in range(3)]
    figures = kfold.majority_fallback(records, heads=("h",))["h"]
    assert figures["shipped"] == pytest.approx(6 / 9)
    assert figures["fallback"] == pytest.approx(4 / 9)
    assert figures["majority"] == pytest.approx(2 / 9)


def test_majority_fallback_can_answer_the_majority_everywhere_and_names_a_bad_record():
    kfold = _bench_module("bench_kfold")
    # Every score equal and the model worse than the majority: only a threshold above every score helps.
    records = [_decision(fold, "a", "a" if i == 0 else "b", 0.7) for fold in range(3) for i in range(3)]
    assert kfold.majority_fallback(records, heads=("h",))["h"]["fallback"] == pytest.approx(1.0)
    broken = [dict(r) for r in records]
    del broken[4]["h"]
    broken[4]["id"] = "case-17"
    with pytest.raises(ValueError, match=r"record 4 \(id case-17\): expected \['h'\]"):
        kfold.majority_fallback(broken, heads=("h",))
    with pytest.raises(ValueError, match="at least 2 folds"):
        kfold.majority_fallback([r for r in records if r["fold"] == 0], heads=("h",))
