"""Downstream fine-tuning: start from a trained (e.g. published) helpline-fusion model with new label lists.

A helpline with other categories loads the published model with its own `case_heads` (or entity types, or
quality heads); every head whose label list is unchanged keeps its trained weights, and each head whose list
differs is re-initialised, with one log line per head saying so. The encoder is always kept.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from ..modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel

logger = logging.getLogger(__name__)


def _changed_heads(old: AttentionFusionConfig, new: AttentionFusionConfig) -> list[str]:
    changed = []
    if old.ner_entity_types != new.ner_entity_types or old.ner_head != new.ner_head:
        changed.append("ner")
    for head in new.case_heads:
        if old.case_heads.get(head) != new.case_heads[head]:
            changed.append(f"cls.{head}")
    for head in new.qa_heads:
        if old.qa_heads.get(head) != new.qa_heads[head]:
            changed.append(f"qa.{head}")
    return changed


def load_for_finetuning(name_or_path: str, revision: str | None = None, **config_overrides: Any) -> AttentionFusionModel:
    """Load a trained model for further training with `config_overrides` (label lists, tasks, dropout, ...).

    Example:
        >>> model = load_for_finetuning("org/helpline-fusion",
        ...     case_heads={**published.case_heads, "sub_category": ["Abuse", "Neglect", "Other"]})  # doctest: +SKIP
        INFO ... re-initialising head cls.sub_category: its labels differ from the trained model's (77 -> 3 classes)
    """
    trained = AttentionFusionModel.from_pretrained(name_or_path, revision=revision)
    old = trained.config
    values = old.to_dict()
    for key in ("auto_map", "architectures", "transformers_version", "id2label", "label2id", "model_type"):
        values.pop(key, None)
    values["encoder_config"] = old.encoder_config
    # Fitted on the parent's validation data for its label lists: the new training run fits its own.
    for key in ("case_class_weights", "case_prior_correction", "case_class_priors", "case_prior_mix", "temperatures",
                "review_thresholds"):
        values.pop(key, None)
    values.update({key: value for key, value in config_overrides.items() if value is not None})
    new = AttentionFusionConfig(**values)
    changed = _changed_heads(old, new)
    model = AttentionFusionModel(new, encoder=trained.encoder)
    state = trained.state_dict()
    own = model.state_dict()
    kept = {
        name: tensor for name, tensor in state.items()
        if name in own and own[name].shape == tensor.shape and not _in_changed_head(name, changed)
    }
    with torch.no_grad():
        model.load_state_dict(kept, strict=False)
    for head in changed:
        before, after = _sizes(old, head), _sizes(new, head)
        logger.info(
            "re-initialising head %s: its labels differ from the trained model's (%s -> %s labels)", head, before, after
        )
    return model


def _sizes(config: AttentionFusionConfig, head: str) -> int:
    if head == "ner":
        return len(config.ner_labels)
    kind, name = head.split(".", 1)
    return len((config.case_heads if kind == "cls" else config.qa_heads).get(name, []))


def _in_changed_head(parameter: str, changed: list[str]) -> bool:
    for head in changed:
        if head == "ner" and parameter.startswith(("ner_head.classifier.", "ner_head.dense.")):
            return True
        if "." in head:
            kind, name = head.split(".", 1)
            if parameter.startswith(f"{kind}_head.heads.{name}."):
                return True
    return False
