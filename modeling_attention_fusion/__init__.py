"""The attention-fusion model and its config; importing this package registers them with the Auto classes."""

from transformers import AutoConfig, AutoModel

from .configuration_attention_fusion import AttentionFusionConfig, bio_tags
from .modeling_attention_fusion import AttentionFusionModel, AttentionFusionOutput, TaskAttentionPooling

AutoConfig.register(AttentionFusionConfig.model_type, AttentionFusionConfig, exist_ok=True)
AutoModel.register(AttentionFusionConfig, AttentionFusionModel, exist_ok=True)
# save_pretrained writes `auto_map` and copies these files so the model loads anywhere with trust_remote_code.
AttentionFusionConfig.register_for_auto_class("AutoConfig")
AttentionFusionModel.register_for_auto_class("AutoModel")

__all__ = ["AttentionFusionConfig", "AttentionFusionModel", "AttentionFusionOutput", "TaskAttentionPooling", "bio_tags"]
