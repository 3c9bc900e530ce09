"""The Python training API's data path: records in, tokenised windows and a run record out.

`MultiTaskTrainer(model=..., args=..., train_datasets={"ner": ..., "cls": ..., "qa": ...})` given records (a
`datasets.Dataset` or `DatasetDict`, a pandas `DataFrame` or a list of dicts, in the formats of `data/loaders.py`)
instead of tokenised windows checks and repairs them with the same loaders as `helpline-fusion train`
(`loaders.as_records`) (the report counts every record,
names records by position, never by text), splits a validation set off each task's training data when
`eval_datasets` does not give one (grouped and stratified, `data/splits.py`), tokenises both with the model's
windows and builds the run the phases write into `args.output_dir` (`phases.RunRecord`).

Example:
    >>> from helpline_fusion import AttentionFusionModel, MultiTaskTrainer, TrainingArguments
    >>> model = AttentionFusionModel.from_encoder_pretrained("distilbert-base-cased")  # doctest: +SKIP
    >>> trainer = MultiTaskTrainer(model=model, args=TrainingArguments("out"), train_datasets={"ner": ner_records})  # doctest: +SKIP
    >>> trainer.train()  # training, refit, calibration, evaluation, curves, card  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from datasets import Dataset

from ..data.loaders import as_records
from ..data.splits import train_validation_split
from ..data.tokenization import tokenize_task
from ..data.validation import ValidationReport
from .phases import RunRecord
from .run_folder import RunFolderWriter, new_run_id
from .run_settings import run_settings, settings_digest

logger = logging.getLogger(__name__)

IN_MEMORY = {"type": "in-memory", "name": "in-memory dataset", "split": "validation"}


def is_tokenised(dataset: Any) -> bool:
    """Whether `dataset` holds tokenised windows (an `input_ids` column) rather than records."""
    return isinstance(dataset, Dataset) and "input_ids" in dataset.column_names


def needs_preparing(*groups: dict | None) -> bool:
    """Whether any dataset of the given `{task: dataset}` groups holds records rather than windows."""
    return any(ds is not None and not is_tokenised(ds) for group in groups for ds in (group or {}).values())


def load_records(group: dict, name: str, config: Any, report: ValidationReport) -> dict[str, Dataset]:
    """Each task's records through its loader (checked and repaired as files are), its file report into `report`."""
    unknown = sorted(set(group) - set(config.tasks))
    if unknown:
        raise ValueError(f"{name}: tasks {unknown} are not among the model's tasks {list(config.tasks)}")
    loaded = {}
    for task, records in group.items():
        where = f"{name}[{task!r}]"
        if is_tokenised(records):
            raise ValueError(f"{where}: tokenised windows mixed with records; give records for every task, or "
                             "windows for every task")  # fmt: skip
        loaded[task], file_report = as_records(records, task, config=config, name=where)
        report.add(file_report)
    return loaded


def prepare_records(model, tokenizer, train: dict, evaluation: dict | None, recipe: Any, args: Any):
    """Records -> (tokenised train windows, tokenised validation windows, the run record). Without `evaluation`,
    each task's validation set is split off its training records (`recipe.validation_size`, `args.seed`)."""
    config = model.config
    report = ValidationReport()
    train_sets = load_records(train, "train_datasets", config, report)
    if evaluation:
        eval_sets = load_records(evaluation, "eval_datasets", config, report)
    else:
        eval_sets = {}
        for task, dataset in train_sets.items():
            parts = train_validation_split(dataset, validation_size=recipe.validation_size, seed=args.seed)
            train_sets[task], eval_sets[task] = parts["train"], parts["validation"]
    windows = {
        part: {task: tokenize_task(task, dataset, tokenizer, config) for task, dataset in sets.items()}
        for part, sets in (("train", train_sets), ("validation", eval_sets))
    }
    balance_priority(recipe, windows["train"], config)
    run = new_run(recipe, args, report)
    run.split_sizes = {task: {"train": len(train_sets[task]), "validation": len(eval_sets.get(task, ()))}
                       for task in train_sets}  # fmt: skip
    run.eval_data = {task: dict(IN_MEMORY) for task in eval_sets}
    return windows["train"], windows["validation"], run


def balance_priority(recipe: Any, train_windows: dict, config: Any) -> None:
    """The case heads' training class frequencies (`case_class_priors`) and, with `balance_priority`, the
    inverse-frequency priority class weights, as `helpline-fusion train` sets them."""
    from .training import apply_balanced_priority, class_priors  # the recipe's rules, in one place

    if "cls" in train_windows:
        config.case_class_priors = class_priors(train_windows["cls"], config)
    if getattr(recipe, "balance_priority", False) and "cls" in train_windows:
        apply_balanced_priority(config, train_windows["cls"])


def new_run(recipe: Any, args: Any, report: ValidationReport | None = None) -> RunRecord:
    settings = run_settings(recipe, args)
    folder = RunFolderWriter(
        Path(args.output_dir), new_run_id(), settings_digest(settings), active=args.process_index == 0
    )
    return RunRecord(folder=folder, settings=settings, report=report)


def default_recipe(tasks: list[str]) -> Any:
    """The recipe's settings as `helpline-fusion train` defaults them (`ProjectArguments`), for these tasks."""
    from .settings import ProjectArguments

    return ProjectArguments(tasks=list(tasks))


def tokenizer_of(model) -> Any:
    """The tokenizer of the model's encoder: the saved model's folder, else the pretrained encoder's."""
    from .sources import load_tokenizer

    source = model.name_or_path or model.encoder.name_or_path
    if not source:
        raise ValueError("MultiTaskTrainer: give processing_class=tokenizer (the model does not say where its "
                         "encoder came from)")  # fmt: skip
    return load_tokenizer(source)
