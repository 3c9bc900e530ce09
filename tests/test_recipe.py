"""The training recipe's parts: the heads' own learning rate through the Trainer's optimizer, the NER head kinds,
and the class-weighted priority loss with its inverse-frequency weights counted per record."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset
from torch.nn import functional as F
from transformers import TrainingArguments

from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from helpline_fusion.modeling_attention_fusion.modeling_attention_fusion import case_loss
from helpline_fusion.train.trainer import MultiTaskTrainer
from helpline_fusion.train.training import balanced_class_weights

from .conftest import tiny_bert_config


def _model(**kwargs) -> AttentionFusionModel:
    torch.manual_seed(0)
    return AttentionFusionModel(AttentionFusionConfig(encoder_config=tiny_bert_config(), **kwargs))


@pytest.mark.parametrize("head_lr", [None, 5e-3])
def test_heads_get_their_own_learning_rate(tmp_path, head_lr):
    model = _model()
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-4, weight_decay=0.01, use_cpu=True,
                             report_to=[])  # fmt: skip
    trainer = MultiTaskTrainer(model=model, args=args, head_learning_rate=head_lr)
    optimizer = trainer.create_optimizer()
    lr_of = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    decay_of = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    named = dict(model.named_parameters())
    assert set(lr_of) == {id(p) for p in named.values()}  # every parameter, once
    for name, param in named.items():
        expected = 1e-4 if name.startswith("encoder.") or head_lr is None else head_lr
        assert lr_of[id(param)] == expected, name
    assert decay_of[id(named["ner_head.classifier.bias"])] == 0.0
    assert decay_of[id(named["ner_head.classifier.weight"])] == 0.01
    assert decay_of[id(named["encoder.embeddings.LayerNorm.weight"])] == 0.0


def test_ner_head_kinds():
    linear, mlp = _model(ner_head="linear"), _model(ner_head="mlp")
    assert linear.ner_head.dense is None and mlp.ner_head.dense is not None
    ids = torch.tensor([[2, 5, 7, 3]])
    assert linear(input_ids=ids, task="ner").ner_logits.shape == mlp(input_ids=ids, task="ner").ner_logits.shape
    with pytest.raises(ValueError, match="ner_head: unknown NER head 'crf'"):
        AttentionFusionConfig(ner_head="crf")


def test_priority_class_weights_weight_the_loss():
    logits = {"priority": torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 3.0]])}
    labels = {"priority": torch.tensor([1, 1, 0])}
    weights = [3.0, 0.5, 1.0]
    expected = F.cross_entropy(logits["priority"], labels["priority"], weight=torch.tensor(weights))
    assert case_loss(logits, labels, {"priority": weights}) == pytest.approx(float(expected))
    assert case_loss(logits, labels) == pytest.approx(float(F.cross_entropy(logits["priority"], labels["priority"])))


def test_balanced_weights_count_records_not_windows():
    config = AttentionFusionConfig(encoder_config=tiny_bert_config())
    # Records 0 and 1 are critical ("1" = id 0); record 1 has three windows, which must not make it count thrice.
    windows = Dataset.from_dict({
        "example_id": [0, 1, 1, 1, 2, 3, 4, 5],
        "cls_priority": [0, 0, 0, 0, 1, 1, 1, -100],
    })  # fmt: skip
    weights = balanced_class_weights(windows, config, ["priority"])["priority"]
    # 5 labelled records, 2 classes present: n / (classes x n_class); "3" absent -> 1.
    assert weights == pytest.approx([5 / (2 * 2), 5 / (2 * 3), 1.0], abs=1e-4)
