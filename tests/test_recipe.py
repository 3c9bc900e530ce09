"""The training recipe's parts: the heads' own learning rate through the Trainer's optimizer, the NER head kinds,
and the class-weighted priority loss with its inverse-frequency weights counted per record."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset
from torch.nn import functional as F
from transformers import TrainingArguments

from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from helpline_fusion.modeling_attention_fusion.modeling_attention_fusion import cls_loss
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
    assert cls_loss(logits, labels, {"priority": weights}) == pytest.approx(float(expected))
    assert cls_loss(logits, labels) == pytest.approx(float(F.cross_entropy(logits["priority"], labels["priority"])))


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


def test_pool_layer_norm_makes_the_heads_blind_to_the_encoders_output_scale():
    """Encoders differ by an order of magnitude in the scale of their token states; with the LayerNorm before the
    pooling, the case and quality heads (and so the learning rate they need) see the same input either way."""
    torch.manual_seed(0)
    hidden, mask = torch.randn(2, 6, 32) * 0.08, torch.ones(2, 6, dtype=torch.long)
    normed, plain = _model(), _model(pool_layer_norm=False)
    assert normed.cls_head.norm is not None and normed.qa_head.norm is not None and plain.cls_head.norm is None
    normed.eval()
    small, _ = normed.cls_head(hidden, mask)
    large, _ = normed.cls_head(hidden * 12.5, mask)
    for head in small:
        torch.testing.assert_close(small[head], large[head], atol=1e-3, rtol=1e-2)  # LayerNorm's eps
    plain_small, _ = plain.eval().cls_head(hidden, mask)
    plain_large, _ = plain.cls_head(hidden * 12.5, mask)
    assert not torch.allclose(plain_small["sub_category"], plain_large["sub_category"], atol=1e-2, rtol=1e-1)
    # Saved and reloaded with the config (the default is on).
    assert AttentionFusionConfig.from_dict(normed.config.to_dict()).pool_layer_norm is True
    assert AttentionFusionConfig.from_dict(plain.config.to_dict()).pool_layer_norm is False


def test_pool_per_head_gives_each_head_and_sub_metric_its_own_attention_pooling():
    """With `pool_per_head` every case head and every quality sub-metric pools the window with its own token
    scores: changing one sub-metric's scores changes that sub-metric's logit only, and a loss on one case head
    trains that head's scores only."""
    model, plain = _model(pool_per_head=True), _model()
    assert plain.qa_head.pooler.attention.score.out_features == 1 and plain.config.pool_per_head is False
    assert model.cls_head.pooler.attention.score.out_features == len(model.config.case_heads)
    sub_metrics = [(head, i) for head, names in model.config.qa_heads.items() for i in range(len(names))]
    assert model.qa_head.pooler.attention.score.out_features == len(sub_metrics) > len(model.config.qa_heads)
    model.eval()
    ids, mask = torch.tensor([[2, 5, 7, 9, 11, 3, 0]]), torch.tensor([[1, 1, 1, 1, 1, 1, 0]])
    before = model(input_ids=ids, attention_mask=mask)
    assert before.pooling_weights is None
    target = sub_metrics.index(("listening", 2))
    with torch.no_grad():
        model.qa_head.pooler.attention.score.weight[target].normal_(0.0, 5.0)
    after = model(input_ids=ids, attention_mask=mask, output_pooling_weights=True)
    for head, i in sub_metrics:
        changed = not torch.allclose(after.qa_logits[head][:, i], before.qa_logits[head][:, i], atol=1e-5)
        assert changed == ((head, i) == ("listening", 2)), (head, i)
    for head in model.config.case_heads:
        torch.testing.assert_close(after.cls_logits[head], before.cls_logits[head])
    # Without dropout the per-output logits are the head's own linear layer applied to that output's pooling.
    hidden = model.qa_head.norm(model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state)
    pooled, _ = model.qa_head.pooler(hidden, mask)
    layer = model.qa_head.heads["listening"]
    torch.testing.assert_close(after.qa_logits["listening"][0, 2], layer(pooled[0, target])[2])
    weights = after.pooling_weights["qa"]
    assert weights.shape == (1, 7) and weights[0, 6] == 0  # averaged over the queries; padding gets nothing
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(1))
    # A loss on the priority head alone reaches the priority query's scores and no other query's.
    model.train()
    labels = {head: torch.tensor([0 if head == "priority" else -100]) for head in model.config.case_heads}
    model(input_ids=ids, attention_mask=mask, task="cls", labels=labels).loss.backward()
    grad = model.cls_head.pooler.attention.score.weight.grad.abs().sum(dim=-1)
    row = list(model.config.case_heads).index("priority")
    assert grad[row] > 0 and all(grad[i] == 0 for i in range(len(grad)) if i != row)
    assert AttentionFusionConfig.from_dict(model.config.to_dict()).pool_per_head is True


@pytest.mark.parametrize("encoder_config", ["bert", "distilbert"])
def test_pool_layer_mix_lets_the_sentence_heads_read_every_layer(encoder_config):
    """With `pool_layer_mix` the case and quality heads pool a learned mix of the embeddings and every layer (each
    normalised), the NER head keeps the last layer, and the mix weights learn from the case loss."""
    from .conftest import tiny_distilbert_config

    encoder = tiny_bert_config() if encoder_config == "bert" else tiny_distilbert_config()
    torch.manual_seed(0)
    model = AttentionFusionModel(AttentionFusionConfig(encoder_config=encoder, pool_layer_mix=True))
    plain = _model()
    assert plain.cls_head.mix is None and plain.config.pool_layer_mix is False  # off by default
    layers = 2  # the tiny configs' depth: embeddings + 2 layers
    assert model.cls_head.mix.logits.shape == (layers + 1,) and model.qa_head.mix is not None
    assert torch.count_nonzero(model.cls_head.mix.logits) == 0  # starts as the plain mean of the layers
    model.eval()
    ids, mask = torch.tensor([[2, 5, 7, 9, 3]]), torch.ones(1, 5, dtype=torch.long)
    states = model.encoder(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
    # All weight on the embeddings: the heads see the (normalised) embedding output, not the last layer.
    with torch.no_grad():
        model.cls_head.mix.logits.copy_(torch.tensor([30.0] + [0.0] * layers))
    out = model(input_ids=ids, attention_mask=mask)
    expected, _ = model.cls_head(tuple(F.layer_norm(s, s.shape[-1:]) for s in states[:1]) * (layers + 1), mask)
    for head, logits in out.cls_logits.items():
        torch.testing.assert_close(logits, expected[head], atol=1e-4, rtol=1e-3)
    last_only, _ = plain.eval().cls_head(states[-1], mask)
    assert not torch.allclose(out.cls_logits["sub_category"], last_only["sub_category"], atol=1e-3)
    torch.testing.assert_close(out.ner_logits, model.ner_head(states[-1]))  # NER reads the last layer
    # The mix learns from the case loss; NER batches do not touch it.
    model.train()
    labels = {head: torch.tensor([0]) for head in model.config.case_heads}
    model(input_ids=ids, attention_mask=mask, task="cls", labels=labels).loss.backward()
    assert model.cls_head.mix.logits.grad is not None and model.cls_head.mix.logits.grad.abs().sum() > 0
    assert model.qa_head.mix.logits.grad is None
    # Saved with the config.
    assert AttentionFusionConfig.from_dict(model.config.to_dict()).pool_layer_mix is True
