"""Training-curve PNG from `log_history`: valid image, empty and loss-only histories, which series are plotted."""

from __future__ import annotations

import pytest
from matplotlib.image import imread

from helpline_fusion.train.curves import QA_MACRO_LABEL, QA_MICRO_LABEL, curve_series, plot_training_curves

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _eval_entry(step: int, scale: float) -> dict:
    return {
        "step": step,
        "epoch": step / 20,
        "eval_ner_f1": 0.5 * scale,
        "eval_ner_f1_NAME": 0.4 * scale,
        "eval_ner_support_NAME": 12,
        "eval_ner_support_PHONE_NUMBER": 3,
        "eval_cls_main_category_accuracy": 0.6 * scale,
        "eval_cls_sub_category_accuracy": 0.4 * scale,
        "eval_cls_sub_category_macro_f1": 0.3 * scale,
        "eval_cls_intervention_accuracy": 0.5 * scale,
        "eval_cls_priority_accuracy": 0.7 * scale,
        "eval_cls_priority_critical_recall": 0.8 * scale,
        "eval_qa_listening_f1": 0.6 * scale,
        "eval_qa_listening_macro_f1": 0.5 * scale,
        "eval_qa_hold_f1": 0.8 * scale,
        "eval_qa_hold_macro_f1": 0.7 * scale,
        "eval_composite": 0.55 * scale,
        "eval_runtime": 3.2,
        "eval_samples_per_second": 40.0,
        "eval_steps_per_second": 5.0,
        "eval_epoch": step / 20,
    }


def realistic_history() -> list[dict]:
    history = []
    for step in range(5, 41, 5):
        history.append(
            {
                "step": step,
                "epoch": step / 20,
                "loss": 3.0 - step / 20,
                "loss_ner": 1.5 - step / 40,
                "loss_cls": 1.0 - step / 60,
                "loss_qa": 0.5 - step / 100,
                "grad_norm": 2.0,
                "learning_rate": 5e-5,
            }
        )
        if step in (20, 40):
            history.append(_eval_entry(step, scale=step / 40))
    history.append({"step": 40, "epoch": 2.0, "train_runtime": 12.0, "train_loss": 2.1, "total_flos": 1.0e9})
    return history


def _assert_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    height, width = image.shape[:2]
    assert width > height


def test_realistic_history_writes_a_png(tmp_path):
    path = plot_training_curves(realistic_history(), tmp_path / "nested" / "curves" / "training_curves.png")
    assert path == tmp_path / "nested" / "curves" / "training_curves.png"
    _assert_png(path)


@pytest.mark.parametrize(
    "history",
    [
        [],
        [{"step": 5, "loss": 2.0, "loss_ner": 1.0}, {"step": 10, "loss": 1.5, "loss_ner": 0.8}],
        [{"step": 5, "loss": 2.0}],
        [_eval_entry(40, 1.0)],
    ],
    ids=["empty", "losses-only", "single-loss", "single-eval"],
)
def test_partial_histories_still_write_a_png(tmp_path, history):
    path = plot_training_curves(history, str(tmp_path / "curves.png"))
    _assert_png(path)


def test_curve_series_selects_headline_metrics():
    history = [
        {"step": 5, "loss": 2.0, "loss_qa": 0.5, "loss_ner": 1.5, "learning_rate": 1e-5, "grad_norm": 1.0},
        {
            "step": 5,
            "eval_ner_f1": 0.1,
            "eval_ner_support_NAME": 4,
            "eval_composite": 0.2,
            "eval_runtime": 1.0,
            "eval_samples_per_second": 9.0,
            "eval_steps_per_second": 2.0,
            "eval_epoch": 0.5,
        },
        {"step": 10, "loss": 1.0, "loss_qa": 0.25, "loss_ner": 0.75},
        # Two evaluations at step 10: the second wins.
        {"step": 10, "eval_ner_f1": 0.3, "eval_composite": 0.3, "eval_cls_priority_accuracy": 0.1},
        {
            "step": 10,
            "eval_ner_f1": 0.4,
            "eval_ner_f1_NAME": 0.9,
            "eval_ner_support_NAME": 4,
            "eval_cls_priority_accuracy": 0.5,
            "eval_cls_priority_macro_f1": 0.45,
            "eval_cls_priority_critical_recall": 0.25,
            "eval_cls_intervention_accuracy": 0.75,
            "eval_cls_intervention_majority_accuracy": 0.6,  # a trivial baseline, not a curve
            "eval_qa_hold_f1": 0.9,
            "eval_qa_hold_macro_f1": 0.5,
            "eval_qa_hold_accuracy": 0.95,
            "eval_qa_listening_f1": 0.8,
            "eval_qa_listening_macro_f1": 0.7,
            "eval_composite": 0.5,
            "eval_runtime": 1.0,
        },
        {"step": 10, "train_runtime": 3.0, "train_loss": 1.5, "train_samples_per_second": 10.0},
    ]
    losses, validation = curve_series(history)

    assert losses == {
        "loss": [(5, 2.0), (10, 1.0)],
        "loss_ner": [(5, 1.5), (10, 0.75)],
        "loss_qa": [(5, 0.5), (10, 0.25)],
    }
    assert list(validation) == [
        "ner_f1",
        "cls_intervention_accuracy",
        "cls_priority_accuracy",
        "cls_priority_critical_recall",
        QA_MACRO_LABEL,
        "composite",
    ]
    assert validation["ner_f1"] == [(5, 0.1), (10, 0.4)]
    assert validation["cls_intervention_accuracy"] == [(10, 0.75)]
    assert validation["cls_priority_accuracy"] == [(10, 0.5)]
    assert validation["cls_priority_critical_recall"] == [(10, 0.25)]
    assert validation[QA_MACRO_LABEL] == [(10, pytest.approx(0.6))]
    assert validation["composite"] == [(5, 0.2), (10, 0.5)]


def test_curve_series_falls_back_to_quality_micro_f1():
    history = [{"step": 3, "eval_qa_hold_f1": 0.5, "eval_qa_listening_f1": 1.0, "eval_qa_hold_accuracy": 0.1}]
    losses, validation = curve_series(history)
    assert losses == {}
    assert validation == {QA_MICRO_LABEL: [(3, 0.75)]}


def test_curve_series_of_nothing_is_empty():
    assert curve_series([]) == ({}, {})
    assert curve_series([{"step": 7, "train_runtime": 1.0, "train_loss": 0.3}]) == ({}, {})
