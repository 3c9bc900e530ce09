"""The optimizer's parameter groups: heads at `head_learning_rate`, encoder layers decayed layer by layer."""

from __future__ import annotations

import pytest
from transformers import TrainingArguments

from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from helpline_fusion.train.trainer import MultiTaskTrainer

from .conftest import tiny_bert_config


def _trainer(tmp_path, **kwargs) -> MultiTaskTrainer:
    model = AttentionFusionModel(AttentionFusionConfig(encoder_config=tiny_bert_config(num_hidden_layers=3)))
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-3, weight_decay=0.01, use_cpu=True,
                             report_to=[])  # fmt: skip
    return MultiTaskTrainer(model=model, args=args, **kwargs)


def _rate_of(trainer: MultiTaskTrainer) -> dict[str, float]:
    optimizer = trainer.create_optimizer()
    by_id = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    return {name: by_id[id(p)] for name, p in trainer.model.named_parameters() if p.requires_grad}


def test_layer_decay_gives_each_encoder_layer_its_rate_and_the_heads_theirs(tmp_path):
    rates = _rate_of(_trainer(tmp_path, head_learning_rate=3e-2, layer_learning_rate_decay=0.5))
    assert rates["encoder.embeddings.word_embeddings.weight"] == pytest.approx(1e-3 * 0.5**3)
    assert rates["encoder.encoder.layer.0.attention.self.query.weight"] == pytest.approx(1e-3 * 0.5**2)
    assert rates["encoder.encoder.layer.1.output.dense.bias"] == pytest.approx(1e-3 * 0.5)
    assert rates["encoder.encoder.layer.2.output.dense.weight"] == pytest.approx(1e-3)  # the top layer: the full rate
    heads = {name: rate for name, rate in rates.items() if not name.startswith("encoder.")}
    assert heads and set(heads.values()) == {3e-2}
    every = {id(p) for group in _trainer(tmp_path, layer_learning_rate_decay=0.5).create_optimizer().param_groups
             for p in group["params"]}  # fmt: skip
    assert len(every) == sum(1 for p in _trainer(tmp_path).model.parameters() if p.requires_grad)  # none left out


def test_without_decay_the_encoder_has_one_rate(tmp_path):
    rates = _rate_of(_trainer(tmp_path, head_learning_rate=3e-2))
    assert {rate for name, rate in rates.items() if name.startswith("encoder.")} == {1e-3}
    with pytest.raises(ValueError, match=r"layer_learning_rate_decay: expected a factor in \(0, 1\], got 1.5"):
        _trainer(tmp_path, layer_learning_rate_decay=1.5)
