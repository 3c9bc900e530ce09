"""The `helpline-fusion` pipeline: `transformers.pipeline` around [`AttentionFusionModel.predict`].

Ships to the Hub with the model (imports only transformers and the standard library). The model's
`save_pretrained` records the pipeline in `config.custom_pipelines`, so

    pipe = pipeline(model="folder-or-hub-id", trust_remote_code=True)

builds it, and importing the model code registers the task for `pipeline("helpline-fusion", model=model, ...)`.
"""

from __future__ import annotations

import logging
from typing import Any

from transformers import AutoModel, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

logger = logging.getLogger(__name__)

PIPELINE_TASK = "helpline-fusion"
_PREDICT_OPTIONS = (
    "precision",
    "bf16",
    "window_length",
    "window_stride",
    "top_k",
    "pad_to_multiple_of",
    "evidence",
    "evidence_top_k",
)


class HelplineFusionPipeline(Pipeline):
    """Entities, case labels, call-quality scores and a review flag for each transcript.

    A list of transcripts is analysed in one call to `model.predict` (windows of all transcripts sorted by
    length and batched `batch_size` at a time); a single string gives a single result.

    Example:
        >>> pipe = HelplineFusionPipeline(model=model, tokenizer=tokenizer, precision="auto")  # doctest: +SKIP
        >>> pipe(["Hello, I am calling about a child ..."], batch_size=8)[0]["case"]["priority"]  # doctest: +SKIP
    """

    _load_tokenizer = True
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_video_processor = False

    def _sanitize_parameters(self, **kwargs: Any) -> tuple[dict, dict, dict]:
        unknown = sorted(set(kwargs) - set(_PREDICT_OPTIONS))
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown options {unknown}; valid: {list(_PREDICT_OPTIONS)}")
        return {}, dict(kwargs), {}

    def __call__(self, inputs: str | list[str], *args: Any, batch_size: int | None = None, **kwargs: Any) -> Any:
        if isinstance(inputs, (list, tuple)):
            if not inputs:
                return []
            _, options, _ = self._sanitize_parameters(**kwargs)
            batch_size = batch_size or self._batch_size or 8
            return self.model.predict(list(inputs), self.tokenizer, batch_size=batch_size,
                                      **{**self._forward_params, **options})  # fmt: skip
        return super().__call__(inputs, *args, batch_size=batch_size, **kwargs)

    def preprocess(self, text: str, **_: Any) -> dict[str, Any]:
        if not isinstance(text, str):
            raise ValueError(f"{type(self).__name__}: expected a transcript string, found {type(text).__name__}")
        return {"text": text}

    def _forward(self, model_inputs: dict[str, Any], **options: Any) -> dict[str, Any]:
        # `predict` windows, batches and decodes itself; the pipeline's own batching would pad across calls.
        return {"result": self.model.predict(model_inputs["text"], self.tokenizer, **options)}

    def postprocess(self, model_outputs: dict[str, Any], **_: Any) -> dict[str, Any]:
        return model_outputs["result"]


def custom_pipelines_entry() -> dict[str, Any]:
    """The `config.custom_pipelines` entry that lets `pipeline(..., trust_remote_code=True)` find this class."""
    return {"impl": f"{__name__.split('.')[-1]}.{HelplineFusionPipeline.__name__}", "pt": ["AutoModel"],
            "type": "text"}  # fmt: skip


def register_pipeline() -> None:
    """Register `helpline-fusion` with `transformers.pipeline` (idempotent; a reload of the code replaces it)."""
    PIPELINE_REGISTRY.supported_tasks.pop(PIPELINE_TASK, None)  # no "already registered" warning on re-import
    PIPELINE_REGISTRY.register_pipeline(
        PIPELINE_TASK, pipeline_class=HelplineFusionPipeline, pt_model=AutoModel, type="text"
    )


register_pipeline()

__all__ = ["HelplineFusionPipeline", "PIPELINE_TASK", "custom_pipelines_entry", "register_pipeline"]
