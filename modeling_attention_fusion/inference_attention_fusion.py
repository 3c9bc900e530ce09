"""Prediction with the attention-fusion model: all three tasks from one encoder pass per window.

Ships to the Hub with the model (imports only torch, transformers and the standard library).
"""

from __future__ import annotations


class FusionPredictorMixin:
    """Adds `predict` to [`AttentionFusionModel`] (filled in by the inference work)."""
