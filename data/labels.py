"""Label maps of the three tasks, and the normalisation of case labels.

The label sets a model learns live in its config (`AttentionFusionConfig`: `ner_entity_types`, `case_heads`,
`qa_heads`, `sub_to_main`). They are either taken from a config (the label reference is the default) or
built deterministically from loaded data with [`build_label_maps`]:

- NER entity types, sub-categories, main categories and interventions: sorted;
- priorities: numeric order, so `"1"` (critical), `"2"`, `"3"`;
- QA heads: the reference's heads keep the reference's order and sub-metric names (the position of a value in
  a list is its meaning); heads unknown to the reference follow, sorted, with sub-metrics named
  `<head>_1`, `<head>_2`, ...

Decisions about case labels:

- Sub-category → main category by the config's `sub_to_main` table; a sub-category absent from it maps to
  `Unknown`.
- Near-duplicate sub-categories (`Legal issues` / `Legal Issues`, `School related issues` /
  `School Related Issues`) are kept **distinct**: the reference files them under different main categories
  (Advice and Counselling / Information), so folding case would silently change main-category targets.
  Only surrounding whitespace is stripped from category labels.
- Interventions: the text is split on `,` `;` `|` and line breaks, never on `/` (the reference label
  `Awareness/Information Provided` contains one). Each piece is matched to a known label ignoring case,
  spaces and punctuation, plus a few known misspellings (`Counseling` → `Counselling`). Multi-valued
  interventions ("Counselling, Referral"): the **first listed** (primary) intervention is the learned
  single-label target; the full normalised list is kept in the `interventions` column.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..modeling_attention_fusion.labels_attention_fusion import (
    CASE_HEADS,
    INTERVENTIONS,
    NER_ENTITY_TYPES,
    QA_HEADS,
    SUB_TO_MAIN_CATEGORY,
    UNKNOWN_CATEGORY,
    bio_tags,
)

logger = logging.getLogger(__name__)

CASE_HEAD_NAMES: tuple[str, ...] = ("main_category", "sub_category", "intervention", "priority")
CLS_PREFIX = "cls_"
QA_PREFIX = "qa_"

_INTERVENTION_SEPARATORS = re.compile(r"[,;|\r\n]+")
# Known misspellings, keyed like `_label_key` keys them.
_INTERVENTION_ALIASES: dict[str, str] = {
    "counseling": "Counselling",
    "counsellng": "Counselling",
    "referal": "Referral",
    "followup": "Follow-up",
    "signposted": "Signposting",
    "awarenessinformation": "Awareness/Information Provided",
}


def _label_key(label: str) -> str:
    return re.sub(r"[^0-9a-z]", "", label.casefold())


def normalise_interventions(value: Any, known: Iterable[str] = INTERVENTIONS) -> tuple[list[str], bool]:
    """Split and normalise an intervention field.

    Returns the normalised list (first listed first, duplicates removed) and whether any spelling changed.
    Pieces that match no known label are kept as written (stripped); a schema check catches them later.

    Example:
        >>> normalise_interventions("Counseling\\nReferral")
        (['Counselling', 'Referral'], True)
        >>> normalise_interventions("Awareness/Information Provided")
        (['Awareness/Information Provided'], False)
    """
    if value is None:
        return [], False
    lookup = {_label_key(label): label for label in known}
    for alias, label in _INTERVENTION_ALIASES.items():
        lookup.setdefault(alias, label)
    out: list[str] = []
    changed = False
    for piece in _INTERVENTION_SEPARATORS.split(str(value)):
        piece = piece.strip()
        if not piece:
            continue
        label = lookup.get(_label_key(piece), piece)
        changed |= label != piece
        if label not in out:
            out.append(label)
    return out, changed


def main_category_of(sub_category: str | None, sub_to_main: dict[str, str] = SUB_TO_MAIN_CATEGORY) -> str | None:
    """Main category of a sub-category (`Unknown` when the table lacks it, `None` when there is none)."""
    if sub_category is None:
        return None
    return sub_to_main.get(sub_category, UNKNOWN_CATEGORY)


def _priority_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def sort_labels(head: str, labels: Iterable[str]) -> list[str]:
    """The deterministic order of a head's labels built from data: numeric for `priority`, else sorted."""
    labels = set(labels)
    return sorted(labels, key=_priority_key) if head == "priority" else sorted(labels)


@dataclass
class LabelMaps:
    """The label sets of every task head.

    Example:
        >>> maps = LabelMaps.from_config(None)
        >>> maps.ner_labels[:3], maps.case_heads["priority"]
        (['O', 'B-NAME', 'I-NAME'], ['1', '2', '3'])
    """

    ner_entity_types: list[str] = field(default_factory=lambda: list(NER_ENTITY_TYPES))
    case_heads: dict[str, list[str]] = field(default_factory=lambda: {k: list(v) for k, v in CASE_HEADS.items()})
    qa_heads: dict[str, list[str]] = field(default_factory=lambda: {k: list(v) for k, v in QA_HEADS.items()})
    sub_to_main: dict[str, str] = field(default_factory=lambda: dict(SUB_TO_MAIN_CATEGORY))

    @classmethod
    def from_config(cls, config: Any | None) -> LabelMaps:
        """From an `AttentionFusionConfig` (or anything with the same attributes); `None` = the reference."""
        if config is None:
            return cls()
        if isinstance(config, LabelMaps):
            return config
        return cls(
            ner_entity_types=list(config.ner_entity_types),
            case_heads={head: list(labels) for head, labels in config.case_heads.items()},
            qa_heads={head: list(names) for head, names in config.qa_heads.items()},
            sub_to_main=dict(getattr(config, "sub_to_main", SUB_TO_MAIN_CATEGORY)),
        )

    @property
    def ner_labels(self) -> list[str]:
        """The BIO tags: `O`, then `B-X`, `I-X` per entity type."""
        return bio_tags(self.ner_entity_types)

    @property
    def ner_label2id(self) -> dict[str, int]:
        return {tag: i for i, tag in enumerate(self.ner_labels)}

    def cls_label2id(self, head: str) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.case_heads[head])}

    @property
    def qa_sizes(self) -> dict[str, int]:
        return {head: len(names) for head, names in self.qa_heads.items()}

    def to_config_kwargs(self) -> dict[str, Any]:
        """`AttentionFusionConfig` keyword arguments: `ner_entity_types`, `case_heads`, `qa_heads`."""
        return {
            "ner_entity_types": list(self.ner_entity_types),
            "case_heads": {head: list(labels) for head, labels in self.case_heads.items()},
            "qa_heads": {head: list(names) for head, names in self.qa_heads.items()},
        }


def _column(dataset: Any, name: str) -> list[Any]:
    return list(dataset[name]) if name in dataset.column_names else []


def build_label_maps(
    ner: Any | None = None,
    cases: Any | None = None,
    qa: Any | None = None,
    base: Any | None = None,
) -> LabelMaps:
    """Build the label maps from loaded datasets (the loaders' output), deterministically.

    A task without data keeps `base`'s labels (a config, a `LabelMaps`, or `None` for the reference); so does a
    case head whose column holds no label at all.

    Args:
        ner: a NER dataset with an `entities` column.
        cases: a case dataset with `main_category`, `sub_category`, `intervention`, `priority` columns.
        qa: a QA dataset with one `qa_<head>` column per quality head.
        base: where the labels of tasks without data, `sub_to_main` and QA sub-metric names come from.

    Example:
        >>> from datasets import Dataset
        >>> ner = Dataset.from_list([{"text": "Amina", "entities": [{"start": 0, "end": 5, "label": "NAME"}]}])
        >>> build_label_maps(ner=ner).ner_entity_types
        ['NAME']
    """
    maps = LabelMaps.from_config(base)
    maps = LabelMaps(
        ner_entity_types=list(maps.ner_entity_types),
        case_heads={head: list(labels) for head, labels in maps.case_heads.items()},
        qa_heads={head: list(names) for head, names in maps.qa_heads.items()},
        sub_to_main=dict(maps.sub_to_main),
    )
    if ner is not None:
        types = {span["label"] for spans in _column(ner, "entities") for span in spans}
        if types:
            maps.ner_entity_types = sorted(types)
    if cases is not None:
        for head in cases.column_names:
            if head not in maps.case_heads and head not in CASE_HEAD_NAMES:
                continue
            values = [value for value in _column(cases, head) if value is not None]
            if values:
                maps.case_heads[head] = sort_labels(head, values)
    if qa is not None:
        sizes: dict[str, int] = {}
        for column in qa.column_names:
            if column.startswith(QA_PREFIX):
                rows = _column(qa, column)
                sizes[column[len(QA_PREFIX) :]] = max((len(row) for row in rows if row is not None), default=0)
        if sizes:
            known = [head for head in maps.qa_heads if head in sizes]
            unknown = sorted(head for head in sizes if head not in maps.qa_heads)
            qa_heads: dict[str, list[str]] = {}
            for head in known + unknown:
                names = list(maps.qa_heads.get(head, []))[: sizes[head]]
                names += [f"{head}_{i + 1}" for i in range(len(names), sizes[head])]
                qa_heads[head] = names
            maps.qa_heads = qa_heads
    return maps


def config_kwargs_from_data(
    ner: Any | None = None, cases: Any | None = None, qa: Any | None = None, base: Any | None = None
) -> dict[str, Any]:
    """`AttentionFusionConfig` kwargs (`ner_entity_types`, `case_heads`, `qa_heads`) built from the data.

    Example:
        >>> config = AttentionFusionConfig(**config_kwargs_from_data(ner=ner_ds, cases=case_ds))  # doctest: +SKIP
    """
    return build_label_maps(ner=ner, cases=cases, qa=qa, base=base).to_config_kwargs()


def check_labels_in_schema(head: str, values: Sequence[str | None], allowed: Sequence[str], where: str) -> None:
    """Raise a `ValueError` naming the record when a label is outside the head's schema."""
    for value in values:
        if value is not None and value not in allowed:
            shown = list(allowed) if len(allowed) <= 20 else f"{len(allowed)} labels ({', '.join(allowed[:5])}, ...)"
            raise ValueError(
                f"{where}: {head} {value!r} is not one of the config's {head} labels {shown}; fix the data, extend "
                "the config's case_heads, or build the label maps from the data (labels_from_data=True)"
            )


__all__ = [
    "CASE_HEAD_NAMES",
    "CLS_PREFIX",
    "QA_PREFIX",
    "LabelMaps",
    "build_label_maps",
    "check_labels_in_schema",
    "config_kwargs_from_data",
    "main_category_of",
    "normalise_interventions",
    "sort_labels",
]
