"""The custom handler of a Hugging Face Inference Endpoint: published beside the model as `handler.py`.

The endpoint runtime imports `handler.py` from the repository, builds `EndpointHandler(path=<the downloaded
repository>)` once and calls it with each request's JSON:

    {"inputs": "Counsellor: Child helpline ..."}                  -> [result]
    {"inputs": ["...", "..."], "parameters": {"evidence": true}}   -> [result, result]

Each result is exactly what `model.predict()` returns (entities, case, quality, needs_review, review_reasons and,
with `"evidence": true`, each decision's evidence spans). `parameters` takes `evidence`, `evidence_top_k`, `top_k`,
`batch_size` and `precision` (`auto`, `fp32`, `bf16`).

The model loads with the installed `helpline-fusion` classes when the package is there (add it to the endpoint's
`requirements.txt`); without it, with the repository's own code files (`trust_remote_code`), which are the files
published beside this handler: the handler is itself code from the repository, so nothing from elsewhere runs.
This file imports nothing but the standard library, torch and transformers.
"""

from __future__ import annotations

from typing import Any

PARAMETERS = ("evidence", "evidence_top_k", "top_k", "batch_size", "precision")


class EndpointHandler:
    """Loads the model once; `__call__` analyses `data["inputs"]` (one transcript or a list)."""

    def __init__(self, path: str = "") -> None:
        from transformers import AutoTokenizer

        try:
            from helpline_fusion.modeling_attention_fusion import AttentionFusionModel
        except ModuleNotFoundError as error:  # the package is not installed on the endpoint: the repository's code
            if error.name not in ("helpline_fusion", "helpline_fusion.modeling_attention_fusion"):
                raise  # installed but broken (a missing dependency): say so, never fall back to downloaded code
            from transformers import AutoModel

            self.model = AutoModel.from_pretrained(path, trust_remote_code=True)
            self.source = "repository code"
        else:
            self.model = AttentionFusionModel.from_pretrained(path)
            self.source = "installed helpline-fusion"
        self.model.eval()
        self.tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)

    def __call__(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        if not isinstance(data, dict) or "inputs" not in data:
            raise ValueError("expected a JSON object with 'inputs': a transcript or a list of transcripts")
        inputs = data["inputs"]
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, list) or not texts:
            raise ValueError("inputs: expected a transcript or a non-empty list of transcripts")
        for index, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"inputs[{index}]: expected a non-empty transcript string, found "
                                 f"{type(text).__name__}")  # fmt: skip
        parameters = data.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise ValueError("parameters: expected a JSON object")
        unknown = sorted(set(parameters) - set(PARAMETERS))
        if unknown:
            raise ValueError(f"parameters: unknown {unknown}; expected some of {list(PARAMETERS)}")
        return self.model.predict(texts, self.tokenizer, **parameters)
