"""The card is written through the Trainer's public `create_model_card`, from the card data a `ModelCardCallback`
gathered; the shipped payload holds no card, push or upload code."""

from __future__ import annotations

import ast
from pathlib import Path

import torch
from huggingface_hub import ModelCard
from transformers import PreTrainedModel, TrainingArguments

from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from helpline_fusion.train.model_card import (
    HelplineFusionModelCardData,
    ModelCardCallback,
    composite_from_card,
    is_helpline_card,
    render_model_card,
)
from helpline_fusion.train.trainer import MultiTaskTrainer

from .conftest import tiny_bert_config

PAYLOAD = Path(__file__).resolve().parents[1] / "modeling_attention_fusion"


def test_create_model_card_writes_the_card_data_the_callback_gathered(tmp_path):
    torch.manual_seed(0)
    model = AttentionFusionModel(AttentionFusionConfig(encoder_config=tiny_bert_config()))
    args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True, learning_rate=3e-4,
                             hub_model_id="org/card-callback")  # fmt: skip
    callback = ModelCardCallback(HelplineFusionModelCardData(license="apache-2.0"))
    trainer = MultiTaskTrainer(model=model, args=args, callbacks=[callback])
    trainer.callback_handler.on_train_begin(args, trainer.state, trainer.control)
    trainer.callback_handler.on_evaluate(args, trainer.state, trainer.control, metrics={"eval_composite": 0.42})
    trainer.callback_handler.on_evaluate(args, trainer.state, trainer.control, metrics={"eval_ner_f1": 0.5})

    # What Trainer.push_to_hub passes (model_name, ...) is ignored; a card data field overrides the gathered one.
    trainer.create_model_card(model_name="the Trainer's name", extra_results="Refit note.")
    card = ModelCard.load(tmp_path / "out" / "README.md")
    assert is_helpline_card(card) and card.data.license == "apache-2.0"
    assert composite_from_card(card) == 0.42  # both evaluations are in the card
    assert 'AutoModel.from_pretrained("org/card-callback", revision=' in card.text
    assert "0.0003" in card.text and "Refit note." in card.text  # the training arguments, the override
    assert "the Trainer's name" not in card.text
    assert str(card) == str(render_model_card(
        model.config, {"eval_composite": 0.42, "eval_ner_f1": 0.5}, repo_id="org/card-callback", license="apache-2.0",
        training_args=args, extra_results="Refit note.",
    ))  # fmt: skip


def test_the_payload_has_no_card_push_or_upload_code():
    # The model relies on no private transformers hook: push_to_hub is transformers' own.
    assert AttentionFusionModel._upload_modified_files is PreTrainedModel._upload_modified_files
    assert "save_pretrained" not in vars(AttentionFusionModel) and "push_to_hub" not in vars(AttentionFusionModel)
    for path in sorted(PAYLOAD.glob("*_attention_fusion.py")):
        tree = ast.parse(path.read_text())
        names = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        found = {name for name in names if any(word in name.lower() for word in ("card", "upload", "push"))}
        assert not found, f"{path.name}: {sorted(found)}"
