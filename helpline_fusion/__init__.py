"""helpline-fusion: one encoder for NER, case classification and call-quality scoring.

The checkout's `data/`, `train/` and `modeling_attention_fusion/` folders install as the subpackages
`helpline_fusion.data`, `helpline_fusion.train` and `helpline_fusion.modeling_attention_fusion` (the
`package-dir` mapping in `pyproject.toml`); from a checkout, `pip install -e .` makes them importable.

The Python training API (imported when first used, so `import helpline_fusion` and the command line stay quick):

    >>> from helpline_fusion import AttentionFusionModel, MultiTaskTrainer, TrainingArguments
    >>> model = AttentionFusionModel.from_encoder_pretrained("distilbert-base-cased")  # doctest: +SKIP
    >>> trainer = MultiTaskTrainer(model=model, args=TrainingArguments("out"),
    ...                            train_datasets={"ner": ner_ds, "cls": case_ds, "qa": quality_ds})  # doctest: +SKIP
    >>> trainer.train()        # training, then refit, calibration, evaluation, curves and card  # doctest: +SKIP
    >>> trainer.push_to_hub(repo_id="org/helpline-fusion")  # card, label maps, code; private by default  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_API = {
    "AttentionFusionConfig": "helpline_fusion.modeling_attention_fusion",
    "AttentionFusionModel": "helpline_fusion.modeling_attention_fusion",
    "MultiTaskTrainer": "helpline_fusion.train.trainer",
    "TrainingArguments": "transformers",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'helpline_fusion' has no attribute {name!r}")
