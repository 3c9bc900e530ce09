"""The `helpline-fusion` pipeline: `transformers.pipeline` around [`AttentionFusionModel.predict`].

Ships to the Hub with the model (imports only transformers, the standard library and its siblings). The config
names the pipeline in `config.custom_pipelines` (`CUSTOM_PIPELINES`), so

    pipe = pipeline(model="folder-or-hub-id", trust_remote_code=True)

builds it with no registration at all. Importing this file changes nothing global: `pipeline("helpline-fusion",
model=model_object, ...)` needs the task registered, which `helpline_fusion` does when it loads the model classes
(`register()`), and a process holding only the Hub files does by calling [`register_pipeline`].
"""

from __future__ import annotations

import logging
from typing import Any

from transformers import AutoModel, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from .configuration_attention_fusion import PIPELINE_TASK

logger = logging.getLogger(__name__)

_PREDICT_OPTIONS = (
    "backend",
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
            options = {**self._forward_params, **options}
            model = self._runner(options)
            return model.predict(list(inputs), self.tokenizer, batch_size=batch_size, **options)
        return super().__call__(inputs, *args, batch_size=batch_size, **kwargs)

    def preprocess(self, text: str, **_: Any) -> dict[str, Any]:
        if not isinstance(text, str):
            raise ValueError(f"{type(self).__name__}: expected a transcript string, found {type(text).__name__}")
        return {"text": text}

    def _forward(self, model_inputs: dict[str, Any], **options: Any) -> dict[str, Any]:
        # `predict` windows, batches and decodes itself; the pipeline's own batching would pad across calls.
        options = dict(options)
        return {"result": self._runner(options).predict(model_inputs["text"], self.tokenizer, **options)}

    def _runner(self, options: dict[str, Any]) -> Any:
        """The PyTorch model, or with `backend="onnx"|"openvino"` the graph `helpline-fusion export` wrote into the
        model's folder (loaded once at the precision asked; `options` loses `backend` and that precision)."""
        backend = options.pop("backend", "torch")
        if backend == "torch":
            return self.model
        from .inference_attention_fusion import ExportedFusionModel

        precision = options.pop("precision", None)
        key = (backend, precision)
        cache = self.__dict__.setdefault("_exported", {})
        if key not in cache:
            cache[key] = ExportedFusionModel.from_pretrained(
                self.model.name_or_path, backend=backend, precision=None if precision == "auto" else precision
            )
        return cache[key]

    def postprocess(self, model_outputs: dict[str, Any], **_: Any) -> dict[str, Any]:
        return model_outputs["result"]


def register_pipeline() -> None:
    """Register `helpline-fusion` with `transformers.pipeline` (idempotent; a reload of the code replaces it).

    Example:
        >>> from transformers.dynamic_module_utils import get_class_from_dynamic_module  # doctest: +SKIP
        >>> get_class_from_dynamic_module("pipeline_attention_fusion.register_pipeline", "org/helpline-fusion")()  # doctest: +SKIP
        >>> pipe = pipeline("helpline-fusion", model=model, tokenizer=tokenizer)  # doctest: +SKIP
    """
    PIPELINE_REGISTRY.supported_tasks.pop(PIPELINE_TASK, None)  # no "already registered" warning on re-registering
    PIPELINE_REGISTRY.register_pipeline(
        PIPELINE_TASK, pipeline_class=HelplineFusionPipeline, pt_model=AutoModel, type="text"
    )


__all__ = ["HelplineFusionPipeline", "PIPELINE_TASK", "register_pipeline"]
