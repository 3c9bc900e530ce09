"""Calibration after training: temperatures that recover a known miscalibration, the critical threshold that
reaches its recall target, review thresholds that flag the share asked for, and `predict` using them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from helpline_fusion.train.calibration import (
    _share_thresholds,
    choose_critical_threshold,
    cross_fitted_critical,
    expected_calibration_error,
    fit_temperature,
)

from .conftest import tiny_bert_config


def test_temperature_recovers_a_known_overconfidence():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 1.5, size=(4000, 5))
    probs = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(5, p=p) for p in probs])
    labels[:100] = -100  # ignored
    assert fit_temperature(true_logits * 3.0, labels) == pytest.approx(3.0, rel=0.1)
    assert fit_temperature(true_logits, labels) == pytest.approx(1.0, rel=0.1)


def test_binary_temperature_and_masked_sub_metrics():
    rng = np.random.default_rng(1)
    true_logits = rng.normal(0, 2.0, size=(3000, 3))
    labels = (rng.random((3000, 3)) < 1 / (1 + np.exp(-true_logits))).astype(float)
    labels[::7, 1] = -100
    assert fit_temperature(true_logits / 2.0, labels, binary=True) == pytest.approx(0.5, rel=0.1)
    assert fit_temperature(np.zeros((2, 2)), np.full((2, 2), -100.0), binary=True) == 1.0


def test_expected_calibration_error():
    assert expected_calibration_error(np.array([0.9, 0.9, 0.6, 0.6]), np.array([1, 1, 1, 0])) == pytest.approx(0.1)
    rng = np.random.default_rng(2)
    confidence = rng.uniform(0.5, 1.0, 20000)
    assert expected_calibration_error(confidence, rng.random(20000) < confidence) < 0.02
    assert expected_calibration_error(confidence, np.ones(20000)) > 0.2


class _Config:
    case_heads = {"priority": ["1", "2", "3"]}
    sub_to_main: dict = {}
    critical_priority = "1"
    critical_threshold = 0.5


def _record(gold: int, critical_peaks: list[float]) -> dict:
    windows = np.array([[p, 1 - p - 0.01, 0.01] for p in critical_peaks])
    return {"gold": {"priority": gold}, "windows": {"priority": windows}, "mean": {"priority": windows.mean(0)}}


def test_critical_threshold_is_the_highest_that_reaches_the_target():
    peaks = [0.45, 0.4, 0.3, 0.2, 0.05, 0.04, 0.03, 0.02, 0.01, 0.005]  # ten critical calls
    records = [_record(0, [p]) for p in peaks] + [_record(1, [0.25]), _record(1, [0.1]), _record(2, [0.01])]
    found = choose_critical_threshold(records, _Config(), critical_id=0, target=0.9)
    # 9 of 10 critical calls need every peak down to 0.01; the three other calls (0.25, 0.1, 0.01) are flagged too.
    # The threshold sits halfway between that peak and the next lower one (0.005).
    assert found["critical_threshold"] == pytest.approx(0.0075)
    assert found["critical_recall"] == pytest.approx(0.9)
    assert found["critical_precision"] == pytest.approx(9 / 12)
    assert found["critical_calls"] == 10 and found["records"] == 13
    easy = choose_critical_threshold(records, _Config(), critical_id=0, target=0.3)
    assert easy["critical_threshold"] == pytest.approx(0.275) and easy["critical_recall"] == pytest.approx(0.3)


def test_critical_threshold_keeps_a_margin_below_the_peak_it_must_catch():
    # A peak with more than 6 decimals: a threshold equal to it, rounded to 6 decimals, would be above it.
    peak = 0.2857147
    records = [_record(0, [0.45]), _record(0, [peak]), _record(1, [0.2]), _record(2, [0.01])]
    found = choose_critical_threshold(records, _Config(), critical_id=0, target=1.0)
    assert 0.2 < found["critical_threshold"] < peak and found["critical_threshold"] == round(found["critical_threshold"], 6)
    assert found["critical_recall"] == 1.0 and found["critical_precision"] == 1.0


def test_critical_threshold_never_above_the_default():
    records = [_record(0, [0.99]), _record(0, [0.98]), _record(1, [0.01])]
    found = choose_critical_threshold(records, _Config(), critical_id=0, target=0.9)
    assert found["critical_threshold"] == 0.5 and found["critical_recall"] == 1.0


def test_cross_fitted_critical_recall_scores_calls_the_threshold_was_not_fitted_on():
    # Five critical calls, one of which the model barely sees (0.02); in-sample a threshold of 0.02 finds all five.
    records = [_record(0, [p]) for p in (0.45, 0.4, 0.35, 0.3, 0.02)]
    records += [_record(1, [0.25]), _record(2, [0.01]), _record(2, [0.01])]
    assert choose_critical_threshold(records, _Config(), critical_id=0, target=1.0)["critical_recall"] == 1.0
    held_out = cross_fitted_critical(records, _Config(), critical_id=0, target=1.0, folds=5)
    # Held out, the 0.02 call meets a threshold fitted on the other four (0.3) and is missed; every other fold's
    # threshold is 0.02, which also flags the 0.25 non-critical call of fold 0.
    assert held_out["crossfit_critical_recall"] == pytest.approx(0.8)
    assert held_out["crossfit_critical_precision"] == pytest.approx(4 / 5)
    assert held_out["crossfit_folds"] == 5
    assert cross_fitted_critical(records[4:], _Config(), critical_id=0, target=1.0) == {}  # one critical call


def test_review_thresholds_flag_the_share_asked_for():
    rng = np.random.default_rng(3)
    confidences = {"case.a": rng.random(500), "case.b": rng.random(500), "case.c": rng.random(500)}
    thresholds, share = _share_thresholds(confidences, 0.2)
    flagged = np.stack([confidences[g] < thresholds[g] for g in confidences], 1).any(1)
    assert share == pytest.approx(0.2, abs=0.01) and flagged.mean() == pytest.approx(share)
    assert set(thresholds) == set(confidences)


def test_predict_uses_the_fitted_temperatures(tiny_tokenizer):
    torch.manual_seed(0)
    config = AttentionFusionConfig(encoder_config=tiny_bert_config(), window_length=32, window_stride=8)
    model = AttentionFusionModel(config).eval()
    text = "my child is calling from the old help"
    before = model.predict(text, tiny_tokenizer)["case"]["sub_category"]["score"]
    model.config.temperatures = {"cls": {"sub_category": 1e-3}}  # near-argmax: the top class gets all the mass
    after = model.predict(text, tiny_tokenizer)["case"]["sub_category"]["score"]
    assert before < 0.5 < after
    assert AttentionFusionConfig.from_dict(model.config.to_dict()).temperatures == model.config.temperatures
