"""Seeded train/validation(/test) splits: grouped so copies of a transcript never straddle a split, stratified where
the labels allow.

Rules:

- **Groups.** Records whose texts are equal after whitespace normalisation (`loaders.normalise_text`) form one
  group; a group goes wholly to one side. Sizes are counted in groups.
- **Strata.** `stratify_by` is a list of columns tried in order: a group's stratum is its value in the first
  column whose class holds at least `min_groups_per_class` groups (the group's first record decides). A
  group rare in every column falls into one pooled stratum. So for cases (`["sub_category", "priority"]`)
  each sub-category with enough records is split on its own, rarer ones are split by priority, and the rest
  together. Missing values (`None`) count as a class of their own.
- **Allocation.** The validation set gets `round(n_groups * validation_size)` groups (at least one when there are
  two groups or more), shared between strata by largest remainder, never taking every group of a stratum that
  has two or more; the groups taken within a stratum are chosen by a seeded shuffle. Same data + same seed =
  same split.
- **Test.** With `test_size > 0`, `round(n_groups * test_size)` further groups are taken from the groups left for
  training, by the same allocation within the same strata, after validation is chosen: the validation split is the
  one `test_size=0` gives (evaluation figures stay comparable), and training gives up the test groups. With fewer
  than `min_test_groups` such groups (tiny data) no test split is made, with a log line saying so.

`stratify_by="auto"` picks `["sub_category", "priority"]` for cases, `["scenario", "quality_level"]` for QA
and no stratification for NER.
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence

from datasets import Dataset, DatasetDict

from .loaders import normalise_text

logger = logging.getLogger(__name__)

AUTO_STRATA: tuple[tuple[str, ...], ...] = (("sub_category", "priority"), ("scenario", "quality_level"))
_POOLED = ("__pooled__",)
# A test split smaller than this says too little to report on (a handful of critical calls); below it calibration's
# cross-fitted validation figures stand in.
MIN_TEST_GROUPS = 30


def text_groups(texts: Sequence[str]) -> list[int]:
    """Group id of each text: the index of the first text equal to it after whitespace normalisation.

    Example:
        >>> text_groups(["a  b", "c", "a b"])
        [0, 1, 0]
    """
    first: dict[str, int] = {}
    return [first.setdefault(normalise_text(text), index) for index, text in enumerate(texts)]


def _resolve_stratify(dataset: Dataset, stratify_by: str | Sequence[str] | None) -> list[str]:
    if stratify_by is None:
        return []
    if stratify_by == "auto":
        for columns in AUTO_STRATA:
            present = [column for column in columns if column in dataset.column_names]
            if present:
                return present
        return []
    columns = [stratify_by] if isinstance(stratify_by, str) else list(stratify_by)
    missing = [column for column in columns if column not in dataset.column_names]
    if missing:
        raise ValueError(f"stratify_by: no column(s) {missing} in the dataset; columns: {dataset.column_names}")
    return columns


def _strata(
    groups: list[int], dataset: Dataset, columns: list[str], min_groups_per_class: int
) -> dict[tuple, list[int]]:
    """Stratum key -> the group ids in it (each group by its first record)."""
    heads = sorted(set(groups))
    values = {column: list(dataset[column]) for column in columns}
    counts = {column: Counter(values[column][group] for group in heads) for column in columns}
    strata: dict[tuple, list[int]] = defaultdict(list)
    for group in heads:
        key = _POOLED
        for column in columns:
            value = values[column][group]
            if counts[column][value] >= min_groups_per_class:
                key = (column, str(value))
                break
        strata[key].append(group)
    return strata


def _allocate(sizes: dict[tuple, int], target: int, rng: random.Random) -> dict[tuple, int]:
    """Validation groups per stratum: largest remainder, at most n-1 from a stratum of n >= 2."""
    total = sum(sizes.values())
    if not total or not target:
        return dict.fromkeys(sizes, 0)
    caps = {key: (size - 1 if size >= 2 else size) for key, size in sizes.items()}
    quotas = {key: target * size / total for key, size in sizes.items()}
    taken = {key: min(math.floor(quotas[key]), caps[key]) for key in sizes}
    keys = sorted(sizes)
    rng.shuffle(keys)  # seeded tie-break between equal remainders
    keys.sort(key=lambda key: quotas[key] - math.floor(quotas[key]), reverse=True)
    while sum(taken.values()) < target:
        grew = False
        for key in keys:
            if sum(taken.values()) >= target:
                break
            if taken[key] < caps[key]:
                taken[key] += 1
                grew = True
        if not grew:
            break
    return taken


def _take(strata: dict[tuple, list[int]], target: int, rng: random.Random) -> set[int]:
    """`target` groups shared between `strata` by `_allocate`, chosen within each stratum by a seeded shuffle."""
    taken = _allocate({key: len(members) for key, members in strata.items()}, target, rng)
    chosen: set[int] = set()
    for key in sorted(strata):
        members = list(strata[key])
        rng.shuffle(members)
        chosen.update(members[: taken[key]])
    return chosen


def train_validation_split(
    dataset: Dataset,
    validation_size: float = 0.1,
    seed: int = 42,
    stratify_by: str | Sequence[str] | None = "auto",
    min_groups_per_class: int = 2,
    text_column: str = "text",
    test_size: float = 0.0,
    min_test_groups: int = MIN_TEST_GROUPS,
) -> DatasetDict:
    """Split a loaded dataset into `train` and `validation` (and `test`), grouped by transcript and stratified where
    possible.

    Args:
        dataset: a loader's output (any dataset with `text_column`).
        validation_size: the fraction of groups in validation, in (0, 1).
        seed: the seed of every random choice.
        stratify_by: `"auto"`, a column, a list of columns tried in order (see the module docstring), or `None`.
        min_groups_per_class: a class with fewer groups than this is not a stratum of its own.
        text_column: the column whose (whitespace-normalised) equality defines groups.
        test_size: the fraction of groups kept apart as `test` (taken from the training side; 0: no test split).
        min_test_groups: the fewest groups a test split is made with; below it there is no `test` split.

    Example:
        >>> splits = train_validation_split(cases, validation_size=0.1, test_size=0.15, seed=0)  # doctest: +SKIP
        >>> sorted(splits)  # doctest: +SKIP
        ['test', 'train', 'validation']
    """
    _check_split_sizes(validation_size, test_size)
    if text_column not in dataset.column_names:
        raise ValueError(f"no {text_column!r} column to group by; columns: {dataset.column_names}")
    columns = _resolve_stratify(dataset, stratify_by)
    groups = text_groups(list(dataset[text_column]))
    strata = _strata(groups, dataset, columns, max(1, int(min_groups_per_class)))
    n_groups = sum(len(members) for members in strata.values())
    target = round(n_groups * float(validation_size))
    target = min(max(target, 1 if n_groups >= 2 else 0), max(n_groups - 1, 0))
    rng = random.Random(seed)
    validation_groups = _take(strata, target, rng)
    test_groups = _test_groups(strata, validation_groups, n_groups, test_size, min_test_groups, rng)
    validation = [index for index, group in enumerate(groups) if group in validation_groups]
    test = [index for index, group in enumerate(groups) if group in test_groups]
    train = [index for index, group in enumerate(groups) if group not in validation_groups | test_groups]
    logger.info(
        "split %d records (%d groups) into %d train / %d validation / %d test records; seed %d; %d strata by %s",
        len(dataset),
        n_groups,
        len(train),
        len(validation),
        len(test),
        seed,
        len(strata),
        columns or "nothing",
    )
    parts = {"train": dataset.select(train), "validation": dataset.select(validation)}
    if test_groups:
        parts["test"] = dataset.select(test)
    return DatasetDict(parts)


def _check_split_sizes(validation_size: float, test_size: float) -> None:
    """ValueError for a validation fraction outside (0, 1) or a test fraction that leaves training nothing."""
    if not 0.0 < float(validation_size) < 1.0:
        raise ValueError(f"validation_size: {validation_size!r} is not in (0, 1)")
    if not 0.0 <= float(test_size) < 1.0 - float(validation_size):
        raise ValueError(
            f"test_size: {test_size!r} is not in [0, {1.0 - float(validation_size):g}) (1 - validation_size "
            f"{validation_size!r}): training needs the rest"
        )


def _test_groups(
    strata: dict[tuple, list[int]], validation_groups: set[int], n_groups: int, test_size: float,
    min_test_groups: int, rng: random.Random,
) -> set[int]:  # fmt: skip
    """The test split's groups, taken by stratum from those not in validation; none below `min_test_groups`."""
    test_groups: set[int] = set()
    test_target = round(n_groups * float(test_size))
    if test_target and test_target < min_test_groups:
        logger.info(
            "no test split: %d record groups give %d test groups at test_size %s, fewer than %d; calibration reports "
            "cross-fitted validation figures instead", n_groups, test_target, test_size, min_test_groups,
        )  # fmt: skip
    elif test_target:
        left = {key: [g for g in members if g not in validation_groups] for key, members in strata.items()}
        test_groups = _take({key: members for key, members in left.items() if members}, test_target, rng)
    return test_groups


def use_or_split(
    parts: dict[str, Dataset],
    validation_size: float = 0.1,
    seed: int = 42,
    test_size: float = 0.0,
    **kwargs,
) -> DatasetDict:
    """The splits a source already has, used as they are; only what is missing is split off its training records.

    `parts` is `loaders.load_task_splits`' output. A given `validation` split is the validation set and the training
    split is not re-split (no test split is carved from it either: calibration reports its cross-fitted validation
    figures); a given `test` split is the test set, and validation is split from the training records alone. With
    neither: `train_validation_split(parts["train"], ...)`.

    Example:
        >>> splits = use_or_split({"train": train, "validation": dev})  # doctest: +SKIP
        >>> splits["validation"] is dev  # doctest: +SKIP
        True
    """
    if "validation" in parts:
        kept = {name: parts[name] for name in ("train", "validation", "test") if name in parts}
        logger.info(
            "using the data's own splits %s (%s records); not re-split",
            list(kept), ", ".join(f"{name} {len(dataset)}" for name, dataset in kept.items()),
        )  # fmt: skip
        return DatasetDict(kept)
    if "test" in parts:
        split = train_validation_split(parts["train"], validation_size=validation_size, seed=seed, **kwargs)
        logger.info("using the data's own test split (%d records)", len(parts["test"]))
        return DatasetDict({"train": split["train"], "validation": split["validation"], "test": parts["test"]})
    return train_validation_split(parts["train"], validation_size=validation_size, seed=seed, test_size=test_size, **kwargs)


__all__ = ["MIN_TEST_GROUPS", "text_groups", "train_validation_split", "use_or_split"]
