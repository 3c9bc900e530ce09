"""The fused model: shapes, losses, routing, gradients, freezing and SDPA."""

from __future__ import annotations

import pytest
import torch

from helpline_fusion.modeling_attention_fusion import (
    AttentionFusionConfig,
    AttentionFusionModel,
    TaskAttentionPooling,
)

from .conftest import tiny_bert_config

BATCH, SEQ = 3, 11


def make_model(encoder_config=None, **kwargs) -> AttentionFusionModel:
    torch.manual_seed(0)
    config = AttentionFusionConfig(encoder_config=encoder_config or tiny_bert_config(), **kwargs)
    return AttentionFusionModel(config).eval()


def make_inputs(vocab_size: int = 50):
    torch.manual_seed(1)
    input_ids = torch.randint(5, vocab_size, (BATCH, SEQ))
    attention_mask = torch.ones(BATCH, SEQ, dtype=torch.long)
    attention_mask[1, 7:] = 0  # a padded row
    return input_ids, attention_mask


def make_labels(config: AttentionFusionConfig):
    torch.manual_seed(2)
    ner = torch.randint(0, len(config.ner_labels), (BATCH, SEQ))
    ner[:, 0] = -100
    cls = {head: torch.randint(0, len(labels), (BATCH,)) for head, labels in config.case_heads.items()}
    qa = {head: torch.randint(0, 2, (BATCH, len(names))).float() for head, names in config.qa_heads.items()}
    return {"ner": ner, "cls": cls, "qa": qa}


def test_shapes_per_task_and_for_all_tasks(tiny_encoder_config):
    model = make_model(tiny_encoder_config)
    config = model.config
    input_ids, attention_mask = make_inputs()

    ner = model(input_ids=input_ids, attention_mask=attention_mask, task="ner")
    assert ner.ner_logits.shape == (BATCH, SEQ, 19) and ner.cls_logits is None and ner.qa_logits is None

    cls = model(input_ids=input_ids, attention_mask=attention_mask, task="cls")
    assert cls.ner_logits is None and cls.qa_logits is None
    assert {head: tuple(v.shape) for head, v in cls.cls_logits.items()} == {
        head: (BATCH, len(labels)) for head, labels in config.case_heads.items()
    }

    qa = model(input_ids=input_ids, attention_mask=attention_mask, task="qa")
    assert {head: tuple(v.shape) for head, v in qa.qa_logits.items()} == {
        "opening": (BATCH, 1), "listening": (BATCH, 5), "proactiveness": (BATCH, 3),
        "resolution": (BATCH, 5), "hold": (BATCH, 2), "closing": (BATCH, 1),
    }

    every = model(input_ids=input_ids, attention_mask=attention_mask)
    assert every.ner_logits.shape == (BATCH, SEQ, 19)
    assert set(every.cls_logits) == set(config.case_heads) and set(every.qa_logits) == set(config.qa_heads)
    assert every.loss is None


def test_one_pass_equals_three_routed_passes():
    model = make_model()
    input_ids, attention_mask = make_inputs()
    with torch.no_grad():
        every = model(input_ids=input_ids, attention_mask=attention_mask)
        routed = {task: model(input_ids=input_ids, attention_mask=attention_mask, task=task) for task in ("ner", "cls", "qa")}
    torch.testing.assert_close(every.ner_logits, routed["ner"].ner_logits)
    for head in model.config.case_heads:
        torch.testing.assert_close(every.cls_logits[head], routed["cls"].cls_logits[head])
    for head in model.config.qa_heads:
        torch.testing.assert_close(every.qa_logits[head], routed["qa"].qa_logits[head])


def test_one_pass_runs_the_encoder_once():
    model = make_model()
    calls = []
    model.encoder.register_forward_hook(lambda *args: calls.append(1))
    model(*make_inputs())
    assert len(calls) == 1


def test_losses_are_finite_with_labels_and_absent_without(tiny_encoder_config):
    model = make_model(tiny_encoder_config)
    input_ids, attention_mask = make_inputs()
    labels = make_labels(model.config)
    for task in ("ner", "cls", "qa"):
        out = model(input_ids=input_ids, attention_mask=attention_mask, task=task, labels=labels[task])
        assert out.loss is not None and torch.isfinite(out.loss) and out.loss > 0
        assert set(out.task_losses) == {task}
        assert model(input_ids=input_ids, attention_mask=attention_mask, task=task).loss is None
    out = model(
        input_ids=input_ids, attention_mask=attention_mask,
        ner_labels=labels["ner"], cls_labels=labels["cls"], qa_labels=labels["qa"],
    )  # fmt: skip
    assert set(out.task_losses) == {"ner", "cls", "qa"}
    torch.testing.assert_close(out.loss, sum(out.task_losses.values()))


def test_typed_labels_are_the_labels_of_a_one_task_batch():
    model = make_model().eval()
    input_ids, attention_mask = make_inputs()
    labels = make_labels(model.config)
    for task in ("ner", "cls", "qa"):
        routed = model(input_ids=input_ids, attention_mask=attention_mask, task=task, labels=labels[task])
        typed = model(input_ids=input_ids, attention_mask=attention_mask, task=task, **{f"{task}_labels": labels[task]})
        torch.testing.assert_close(routed.loss, typed.loss)
        with pytest.raises(ValueError, match=f"labels: given both labels and {task}_labels for task '{task}'; pass one"):
            model(input_ids=input_ids, attention_mask=attention_mask, task=task, labels=labels[task],
                  **{f"{task}_labels": labels[task]})  # fmt: skip
    # Typed labels of one task, with every head run: only that task's loss.
    out = model(input_ids=input_ids, attention_mask=attention_mask, cls_labels=labels["cls"])
    assert set(out.task_losses) == {"cls"} and out.ner_logits is not None
    with pytest.raises(ValueError, match="labels: give `task` with `labels`"):
        model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)


def test_unlabelled_case_head_adds_no_loss():
    model = make_model()
    input_ids, attention_mask = make_inputs()
    labels = make_labels(model.config)["cls"]
    without_intervention = {head: value for head, value in labels.items() if head != "intervention"}
    masked = dict(labels, intervention=torch.full((BATCH,), -100))
    loss_masked = model(input_ids=input_ids, attention_mask=attention_mask, task="cls", labels=masked).loss
    loss_without = model(input_ids=input_ids, attention_mask=attention_mask, task="cls", labels=without_intervention).loss
    loss_all = model(input_ids=input_ids, attention_mask=attention_mask, task="cls", labels=labels).loss
    torch.testing.assert_close(loss_masked, loss_without)
    assert loss_all > loss_masked


def test_not_applicable_quality_sub_metric_adds_no_loss():
    model = make_model()
    input_ids, attention_mask = make_inputs()
    labels = make_labels(model.config)["qa"]
    not_applicable = dict(labels, hold=torch.full((BATCH, 2), -100.0))
    flipped = dict(not_applicable)
    loss = model(input_ids=input_ids, attention_mask=attention_mask, task="qa", labels=not_applicable).loss
    # Whatever the hold logits say, a masked hold head cannot move the loss; scoring it as 0 would.
    as_zero = dict(labels, hold=torch.zeros(BATCH, 2))
    loss_as_zero = model(input_ids=input_ids, attention_mask=attention_mask, task="qa", labels=as_zero).loss
    without_hold = {head: value for head, value in labels.items() if head != "hold"}
    loss_without = model(input_ids=input_ids, attention_mask=attention_mask, task="qa", labels=without_hold).loss
    torch.testing.assert_close(loss, loss_without)
    assert not torch.allclose(loss, loss_as_zero)
    # Partly masked rows: one sub-metric of one row.
    partly = dict(flipped, hold=torch.tensor([[1.0, -100.0], [0.0, 1.0], [-100.0, -100.0]]))
    assert torch.isfinite(model(input_ids=input_ids, attention_mask=attention_mask, task="qa", labels=partly).loss)


def test_ner_loss_ignores_minus_100_and_all_ignored_is_zero():
    model = make_model()
    input_ids, attention_mask = make_inputs()
    labels = torch.full((BATCH, SEQ), -100)
    out = model(input_ids=input_ids, attention_mask=attention_mask, task="ner", labels=labels)
    assert out.loss.item() == 0.0 and out.loss.requires_grad


@pytest.mark.parametrize("task", ["ner", "cls", "qa"])
def test_routed_step_puts_gradients_on_encoder_and_that_head_only(task):
    model = make_model().train()
    input_ids, attention_mask = make_inputs()
    labels = make_labels(model.config)[task]
    model(input_ids=input_ids, attention_mask=attention_mask, task=task, labels=labels).loss.backward()
    heads = {"ner": model.ner_head, "cls": model.cls_head, "qa": model.qa_head}
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    for name, head in heads.items():
        grads = [p.grad for p in head.parameters()]
        if name == task:
            assert all(g is not None for g in grads)
        else:
            assert all(g is None for g in grads), f"{name} head got gradients from a {task} step"


def test_attention_pooling_masks_padding_and_survives_an_empty_row():
    pooling = TaskAttentionPooling(4)
    hidden = torch.randn(2, 5, 4)
    mask = torch.tensor([[1, 1, 0, 0, 0], [0, 0, 0, 0, 0]])
    pooled, weights = pooling(hidden, mask)
    assert torch.isfinite(pooled).all() and torch.isfinite(weights).all()
    assert weights[0, 2:].abs().sum() == 0 and torch.isclose(weights[0].sum(), torch.tensor(1.0))
    assert weights[1].abs().sum() == 0 and pooled[1].abs().sum() == 0
    # Padding content cannot change the pooled vector.
    changed = hidden.clone()
    changed[0, 2:] = 100.0
    torch.testing.assert_close(pooling(changed, mask)[0][0], pooled[0])


@pytest.mark.parametrize("pooling", ["attention", "cls", "mean"])
def test_each_pooling_kind_reads_the_positions_it_names(pooling):
    model = make_model(pooling=pooling)
    input_ids, mask = make_inputs()
    mask = mask.clone()
    mask[0, SEQ // 2 :] = 0  # the first row is half padding
    out = model(input_ids, mask, output_pooling_weights=True)
    assert set(out.pooling_weights) == {"cls", "qa"}
    weights = out.pooling_weights["cls"].float()
    assert weights.shape == (BATCH, SEQ)
    torch.testing.assert_close(weights.sum(-1), torch.ones(BATCH))
    assert (weights[0, SEQ // 2 :] == 0).all()  # padding never pooled
    if pooling == "cls":  # the first position only
        expected = torch.zeros(BATCH, SEQ)
        expected[:, 0] = 1.0
        torch.testing.assert_close(weights, expected)
    elif pooling == "mean":  # the plain average over the real tokens
        torch.testing.assert_close(weights, mask.float() / mask.sum(-1, keepdim=True))
    else:
        assert model.cls_head.pooler.attention is not None
        assert not torch.allclose(weights[1], torch.full((SEQ,), 1.0 / SEQ))  # learned scores, not a mean
    # The pooled vector is the weighted sum of the encoder's hidden states.
    with torch.no_grad():
        hidden = model.encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
        pooled, _ = model.cls_head.pooler(hidden, mask.bool())
    torch.testing.assert_close(pooled, torch.einsum("bs,bsh->bh", weights, hidden), rtol=1e-5, atol=1e-5)


def test_single_task_model_has_only_its_head():
    model = make_model(tasks=["cls"])
    assert model.ner_head is None and model.qa_head is None
    out = model(*make_inputs())
    assert out.ner_logits is None and out.qa_logits is None and set(out.cls_logits) == set(model.config.case_heads)
    with pytest.raises(ValueError, match=r"this model has no 'ner' head; it was built for tasks \['cls'\]"):
        model(*make_inputs(), task="ner")


def test_unknown_task_is_a_clear_error():
    model = make_model()
    with pytest.raises(ValueError, match=r"task: unknown task 'pos'; valid: \['ner', 'cls', 'qa'\]"):
        model(*make_inputs(), task="pos")


def test_freezing_options():
    model = make_model()
    model.freeze_embeddings()
    assert not any(p.requires_grad for p in model.encoder.embeddings.parameters())
    assert all(p.requires_grad for p in model.encoder.encoder.parameters())
    model.freeze_head("qa")
    assert not any(p.requires_grad for p in model.qa_head.parameters())
    assert all(p.requires_grad for p in model.cls_head.parameters())
    model.freeze_encoder()
    assert not any(p.requires_grad for p in model.encoder.parameters())
    model.freeze_encoder(False)
    assert all(p.requires_grad for p in model.encoder.parameters())


def test_sdpa_and_eager_attention_agree():
    input_ids, attention_mask = make_inputs()
    outputs = []
    for implementation in ("eager", "sdpa"):
        torch.manual_seed(0)
        config = AttentionFusionConfig(encoder_config=tiny_bert_config())
        model = AttentionFusionModel._from_config(config, attn_implementation=implementation).eval()
        assert model.encoder.config._attn_implementation == implementation
        with torch.no_grad():
            outputs.append(model(input_ids=input_ids, attention_mask=attention_mask).ner_logits)
    torch.testing.assert_close(outputs[0][attention_mask.bool()], outputs[1][attention_mask.bool()], atol=1e-5, rtol=1e-4)


def test_heads_are_initialised_but_a_given_encoder_is_kept():
    from transformers import AutoModel

    torch.manual_seed(3)
    encoder = AutoModel.from_config(tiny_bert_config())
    before = {name: p.detach().clone() for name, p in encoder.named_parameters()}
    model = AttentionFusionModel(AttentionFusionConfig(encoder_config=encoder.config), encoder=encoder)
    for name, param in model.encoder.named_parameters():
        torch.testing.assert_close(param, before[name])
    assert model.ner_head.classifier.bias.abs().sum() == 0
    assert 0 < model.ner_head.classifier.weight.std() < 0.1
