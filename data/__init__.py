"""Data layer of helpline-fusion: loaders, validation report, label maps, splits, tokenisation and collator.

Installed as `helpline_fusion.data`. Names are imported lazily, so `import helpline_fusion.data.synthetic`
(or the `validate` command) does not pay for torch.

Example:
    >>> from helpline_fusion.data import load_ner, tokenize_ner, MultiTaskCollator  # doctest: +SKIP
    >>> ner, report = load_ner("ner.jsonl")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    # loaders
    "load_ner": "loaders",
    "load_cases": "loaders",
    "load_qa": "loaders",
    "load_task": "loaders",
    "load_all": "loaders",
    "load_all_splits": "loaders",
    "load_task_splits": "loaders",
    "as_records": "loaders",
    "read_records": "loaders",
    "normalise_text": "loaders",
    # validation report
    "MASKED": "validation",
    "DataFileError": "validation",
    "FileReport": "validation",
    "ValidationReport": "validation",
    "format_report": "validation",
    "log_report": "validation",
    "write_report": "validation",
    # label maps
    "LabelMaps": "labels",
    "build_label_maps": "labels",
    "config_kwargs_from_data": "labels",
    "normalise_interventions": "labels",
    "main_category_of": "labels",
    # splits
    "train_validation_split": "splits",
    "use_or_split": "splits",
    "text_groups": "splits",
    # tokenisation
    "tokenize_ner": "tokenization",
    "tokenize_cases": "tokenization",
    "tokenize_qa": "tokenization",
    "tokenize_task": "tokenization",
    "bio_to_char_spans": "tokenization",
    # collator
    "MultiTaskCollator": "collator",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
