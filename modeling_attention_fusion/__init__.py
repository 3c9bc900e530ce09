"""The attention-fusion model and its config.

Names are imported on first use, so the data tools (`generate`, `validate`) and `--help` do not pay for torch
and transformers. The first access to any of them registers the config and model with the Auto classes (and
for `save_pretrained`, which then writes `auto_map` and copies the remote-code files) and the `helpline-fusion` task
with `transformers.pipeline`. The files that ship to the Hub register nothing when imported.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "AttentionFusionConfig": "configuration_attention_fusion",
    "bio_tags": "labels_attention_fusion",
    "AttentionFusionModel": "modeling_attention_fusion",
    "AttentionFusionOutput": "modeling_attention_fusion",
    "TaskAttentionPooling": "modeling_attention_fusion",
}
_registered = False

__all__ = ["AttentionFusionConfig", "AttentionFusionModel", "AttentionFusionOutput", "TaskAttentionPooling", "bio_tags"]


def register() -> None:
    """Register the config and model with `AutoConfig`/`AutoModel` and the `helpline-fusion` pipeline task
    (idempotent)."""
    global _registered
    if _registered:
        return
    from transformers import AutoConfig, AutoModel

    from .configuration_attention_fusion import AttentionFusionConfig
    from .modeling_attention_fusion import AttentionFusionModel
    from .pipeline_attention_fusion import register_pipeline

    AutoConfig.register(AttentionFusionConfig.model_type, AttentionFusionConfig, exist_ok=True)
    AutoModel.register(AttentionFusionConfig, AttentionFusionModel, exist_ok=True)
    # save_pretrained writes `auto_map` and copies these files so the model loads anywhere with trust_remote_code.
    AttentionFusionConfig.register_for_auto_class("AutoConfig")
    AttentionFusionModel.register_for_auto_class("AutoModel")
    register_pipeline()  # pipeline("helpline-fusion", model=model, ...) for a model object of this process
    _registered = True


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _EXPORTS[name] != "labels_attention_fusion":
        register()
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
