"""Metric keys and values: entity-level NER F1, case heads, masked quality F1, composite, window folding."""

from __future__ import annotations

import numpy as np
import pytest

from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig
from helpline_fusion.train import metrics as M
from helpline_fusion.train.evaluation import fold_cls, fold_ner


def test_ner_f1_is_entity_level_not_token_level():
    gold = [["B-NAME", "I-NAME", "O", "O", "O", "O", "B-AGE"]]
    # One token of the name is wrong: token accuracy is 6/7, but the NAME entity is missed entirely.
    pred = [["B-NAME", "O", "O", "O", "O", "O", "B-AGE"]]
    m = M.ner_metrics(gold, pred, ["NAME", "AGE"])
    assert m["ner_f1"] == pytest.approx(0.5)
    assert m["ner_f1_NAME"] == 0.0 and m["ner_f1_AGE"] == 1.0
    assert m["ner_support_NAME"] == 1


def test_cls_metrics_skip_unlabelled_and_report_critical_recall():
    gold = {"priority": np.array([0, 0, 1, 2, -100]), "sub_category": np.array([-100, -100, -100, -100, -100])}
    pred = {"priority": np.array([0, 1, 1, 2, 0]), "sub_category": np.array([1, 1, 1, 1, 1])}
    m = M.cls_metrics(gold, pred, critical_id=0)
    assert m["cls_priority_accuracy"] == pytest.approx(3 / 4)
    assert m["cls_priority_critical_recall"] == pytest.approx(1 / 2)
    assert "cls_sub_category_accuracy" not in m
    assert m["cls_priority_macro_f1"] == pytest.approx(np.mean([2 / 3, 2 / 3, 1.0]))
    assert m["cls_priority_majority_accuracy"] == pytest.approx(2 / 4)  # always "0": the best constant answer
    assert m["cls_priority_critical_precision"] == pytest.approx(1 / 1)  # one call flagged critical, rightly


def test_qa_metrics_mask_not_applicable():
    gold = {"hold": np.array([[1, 0], [-100, -100], [1, 1]], dtype=float)}
    pred = {"hold": np.array([[1, 0], [0, 0], [1, 0]], dtype=float)}
    m = M.qa_metrics(gold, pred)
    # Masked row ignored: tp=2, fn=1, fp=0 -> F1 = 4/5.
    assert m["qa_hold_f1"] == pytest.approx(0.8)
    # "not met": gold 1 item (row 0), predicted 2 (row 0, row 2 second) -> tp=1, fp=1 -> F1 2/3.
    assert m["qa_hold_macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert m["qa_hold_accuracy"] == pytest.approx(3 / 4)
    # "met" everywhere: tp=3, fp=1 -> F1 6/7; its macro F1 could never pass 0.5.
    assert m["qa_hold_f1_all_met"] == pytest.approx(6 / 7)
    assert m["qa_macro_f1"] == m["qa_hold_macro_f1"]


def test_composite_is_the_mean_of_task_scores():
    metrics = {
        "ner_f1": 0.6, "cls_a_accuracy": 0.8, "cls_b_accuracy": 0.6, "cls_a_majority_accuracy": 0.0,
        "qa_x_f1": 0.1, "qa_x_macro_f1": 0.9, "qa_y_f1": 0.1, "qa_y_macro_f1": 0.7, "qa_macro_f1": 0.0,
    }  # fmt: skip
    # Quality counts by macro F1 (F1 of "met" alone rewards answering "met" everywhere); baselines never count.
    assert M.composite(metrics) == pytest.approx((0.6 + 0.7 + 0.8) / 3)
    assert M.composite({"ner_f1": 0.5}) == 0.5


def test_fold_ner_scores_each_word_once_from_its_most_central_window():
    tags = ["O", "B-NAME", "I-NAME"]
    # Record 0 in two windows of four content tokens; words 2 and 3 appear in both. Window 1 misses word 2 at its
    # left edge, where window 0 sees it with more context; word 3 sits at window 0's right edge and is taken from
    # window 1.
    w0 = {"example_id": 0, "labels": np.array([0, 0, 1, 2]), "pred": np.array([0, 0, 1, 2]),
          "word_ids": np.array([0, 1, 2, 3])}
    w1 = {"example_id": 0, "labels": np.array([1, 2, 0, 0]), "pred": np.array([0, 2, 0, 0]),
          "word_ids": np.array([2, 3, 4, 5])}
    gold, pred = fold_ner([w0, w1], tags)
    assert gold == [["O", "O", "B-NAME", "I-NAME", "O", "O"]]
    assert pred == gold


def test_fold_ner_measures_centrality_by_token_position_not_by_labelled_word():
    tags = ["O", "B-NAME", "I-NAME"]
    # Word 2 sits in the middle of window 0 (token 2 of 5) and at token 4 of 9 in window 1, after a word of four
    # sub-words: by token position (as `predict` folds tokens) window 1 is more central; by rank among labelled
    # words (1 of 6) it would not be.
    w0 = {"example_id": 0, "labels": np.array([0, 0, 1, 0, 0]), "pred": np.array([0, 0, 0, 0, 0]),
          "word_ids": np.array([0, 1, 2, 3, 4])}
    w1 = {"example_id": 0, "labels": np.array([0, -100, -100, -100, 1, 0, 0, 0, 0]),
          "pred": np.array([0, 0, 0, 0, 1, 0, 0, 0, 0]), "word_ids": np.array([1, 1, 1, 1, 2, 3, 4, 5, 6])}
    gold, pred = fold_ner([w0, w1], tags)
    assert gold == [["O", "O", "B-NAME", "O", "O", "O", "O"]]
    assert pred == gold  # word 2 from window 1


def test_fold_cls_priority_is_safety_first():
    config = AttentionFusionConfig(critical_threshold=0.5)
    labels = config.case_heads["priority"]
    critical = labels.index(config.critical_priority)
    routine, alarming = [0.1] * len(labels), [0.1] * len(labels)
    routine[labels.index("3")], alarming[critical] = 0.8, 0.7

    def window(p):
        return {"example_id": 0, "size": 10, "probs": {"priority": np.array(p)}, "gold": {"priority": 0}}

    rows = [window(routine)] * 5 + [window(alarming)]
    gold, pred = fold_cls(rows, config)
    assert pred["critical_alert"].tolist() == [1]  # one critical window is never outvoted...
    assert pred["priority"].tolist() == [labels.index("3")]  # ...and the label stays the call's overall decision
    assert "critical_alert" not in gold
    config.critical_rule = "override"
    assert fold_cls(rows, config)[1]["priority"].tolist() == [critical]  # the earlier rule: the alert overwrites
    config.critical_threshold = 0.75
    gold, pred = fold_cls(rows, config)
    assert pred["priority"].tolist() == [labels.index("3")] and pred["critical_alert"].tolist() == [0]
