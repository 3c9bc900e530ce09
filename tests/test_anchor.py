"""`qa_anchor_weight`: the quality heads' states held near a frozen copy of the encoder, in training only."""

from __future__ import annotations

import pytest
import torch
from transformers import TrainingArguments

from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from helpline_fusion.train.anchor import EncoderAnchor
from helpline_fusion.train.trainer import MultiTaskTrainer

from .conftest import tiny_bert_config


def _model(**config) -> AttentionFusionModel:
    torch.manual_seed(0)
    model = AttentionFusionModel(AttentionFusionConfig(encoder_config=tiny_bert_config(num_hidden_layers=3), **config))
    for module in model.modules():  # training mode (the anchor reads training passes), without dropout's noise
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model.train()


def _qa_batch() -> dict:
    ids = torch.randint(5, 30, (2, 12))
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    turn_ids = torch.tensor([[-1, 0, 0, 0, -1, 1, 1, 1, 1, -1, 2, 2]] * 2)
    return {"input_ids": ids, "attention_mask": mask, "turn_ids": turn_ids, "task": "qa"}


def _anchor_of(model: AttentionFusionModel, batch: dict, weight: float = 2.0) -> tuple[EncoderAnchor, torch.Tensor]:
    anchor = EncoderAnchor(model, weight)
    model(**{k: v for k, v in batch.items()})
    return anchor, anchor.loss(batch)


def test_the_anchor_is_zero_on_the_encoder_it_copied_and_grows_as_the_encoder_moves():
    model = _model(qa_pooling="turns", qa_state_layer=2)
    batch = _qa_batch()
    anchor, loss = _anchor_of(model, batch)
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():  # move layer 1 (read by layer 2's states) and layer 3 (above it: never read)
        model.encoder.encoder.layer[0].output.dense.weight.add_(0.1 * torch.randn(32, 37))
    model(**batch)
    moved = anchor.loss(batch)
    assert float(moved.detach()) > 1e-4
    moved.backward()  # the gradient reaches the trained encoder, never the frozen copy
    assert model.encoder.encoder.layer[0].output.dense.weight.grad is not None
    assert all(p.grad is None and not p.requires_grad for p in anchor.frozen.parameters())
    assert len(anchor.frozen.encoder.layer) == 2  # cut after the layer the quality heads read
    # The weight scales the loss; the relative distance is what it weighs.
    with torch.no_grad():
        model.encoder.encoder.layer[2].output.dense.weight.add_(torch.randn(32, 37))  # above layer 2: not anchored
    model(**batch)
    assert float(anchor.loss(batch).detach()) == pytest.approx(float(moved.detach()), rel=1e-5)


def test_token_pooling_anchors_the_window_mean_and_bad_weights_are_refused():
    model = _model()  # last layer, token pooling: no turn ids
    batch = {k: v for k, v in _qa_batch().items() if k != "turn_ids"}
    anchor, loss = _anchor_of(model, batch)
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-10)
    assert len(anchor.frozen.encoder.layer) == 3
    with pytest.raises(RuntimeError, match="has not run on this batch"):
        anchor.loss(batch)  # the states of one forward are read once
    model.eval()(**batch)
    with pytest.raises(RuntimeError, match="has not run on this batch"):
        anchor.loss(batch)  # an evaluation pass is not kept
    anchor.remove()
    model.train()(**batch)
    with pytest.raises(RuntimeError, match="has not run on this batch"):
        anchor.loss(batch)  # detached after training: nothing kept, no reference to the copy left on the model
    assert not model.encoder._forward_hooks
    anchor.attach()
    model(**batch)
    assert float(anchor.loss(batch).detach()) == pytest.approx(0.0, abs=1e-10)
    for bad in (0, -1.0, True, "1"):
        with pytest.raises(ValueError, match="qa_anchor_weight: expected a positive weight"):
            EncoderAnchor(model, bad)


def test_the_trainer_adds_and_logs_the_anchor_on_quality_batches_only(tmp_path):
    model = _model(qa_pooling="turns", qa_state_layer=2)
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[])
    trainer = MultiTaskTrainer(model=model, args=args, qa_anchor_weight=1.0)
    with torch.no_grad():
        model.encoder.encoder.layer[0].output.dense.weight.add_(0.1 * torch.randn(32, 37))
    batch = _qa_batch()
    labels = {head: torch.zeros(2, len(names)) for head, names in model.config.qa_heads.items()}
    plain = float(model(**batch, labels=labels).loss)
    total = float(trainer.compute_loss(model, {**batch, "labels": labels}))
    assert total > plain and trainer._task_losses["qa_anchor"] == [pytest.approx(total - plain, rel=1e-4)]
    ner = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "task": "ner",
           "labels": torch.zeros_like(batch["input_ids"])}  # fmt: skip
    trainer.compute_loss(model, ner)
    assert len(trainer._task_losses["qa_anchor"]) == 1  # NER steps are not anchored
    assert not any(key.startswith("frozen") for key in model.state_dict())  # the copy is never saved
