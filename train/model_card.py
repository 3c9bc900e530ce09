"""The model card: the `model_card.md` template (top level; `train/model_card.md` links to it and ships as package
data) rendered with `huggingface_hub.ModelCard`.

Metadata (`library_name`, `pipeline_tag`, `tags`, `base_model`, `datasets`, `license`) and a `model-index`
with one result per task head and metric come from the config and the run's metrics; the body gets the
per-type and per-head tables, hyperparameters and the data validation counts. No transcript text goes in.
"""

from __future__ import annotations

import datetime
import enum
import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..modeling_attention_fusion.labels_attention_fusion import TASK_TITLES

logger = logging.getLogger(__name__)

HYPERPARAMETERS = (
    "learning_rate", "per_device_train_batch_size", "num_train_epochs", "max_steps", "weight_decay",
    "warmup_steps", "lr_scheduler_type", "max_grad_norm", "seed", "bf16",
)
UNRECORDED = {"type": "unrecorded", "name": "validation split of the training data (sources not recorded)"}


def _composite_data(eval_data: dict[str, dict]) -> dict[str, str]:
    """The dataset of the `composite` result: all tasks' validation data together."""
    kinds = {entry["type"] for entry in eval_data.values()}
    if kinds == {"helpline-fusion-synthetic"}:
        seeds = ", ".join(sorted({str(entry.get("seed")) for entry in eval_data.values()}))
        return {"type": "helpline-fusion-synthetic", "name": f"bundled synthetic data (seed {seeds})"}
    names = ", ".join(f"{TASK_TITLES.get(task, task)}: {entry['name']}" for task, entry in eval_data.items())
    return {"type": "mixed", "name": f"validation data of every task ({names})"}


def data_summary(eval_data: dict[str, dict] | None) -> str:
    """One sentence naming what the model was trained and validated on, for the card's summary.

    Example:
        >>> print(data_summary({"ner": {"type": "helpline-fusion-synthetic", "name": "...", "seed": 13}}))
        Trained and validated on the bundled synthetic data (seed 13), not on real helpline calls.
    """
    if not eval_data:
        return "Trained and validated on data this card does not name."
    if all(entry["type"] == "helpline-fusion-synthetic" for entry in eval_data.values()):
        return f"Trained and validated on the {_composite_data(eval_data)['name']}, not on real helpline calls."
    parts = [f"{TASK_TITLES.get(task, task)} on `{entry['name']}`" for task, entry in eval_data.items()]
    return "Trained and validated per task: " + "; ".join(parts) + "."


def _template_text() -> str:
    """The card template, shipped as package data of `helpline_fusion.train` (a wheel or `pip install .` has it)."""
    return resources.files(__package__).joinpath("model_card.md").read_text(encoding="utf-8")


def _strip_prefix(metrics: dict[str, float]) -> dict[str, float]:
    return {key.removeprefix("eval_"): value for key, value in metrics.items() if isinstance(value, (int, float))}


def eval_results(metrics: dict[str, float], config: Any, eval_data: dict[str, dict] | None = None) -> list[EvalResult]:
    """One `EvalResult` per task head and metric (the card's `model-index`).

    Each head is its own `model-index` result (`dataset_config` names the head): the Hub groups results by task
    type, dataset and config, so without it every classification head would sit under the first head's name.
    Each result names the data it was measured on (`eval_data`: task -> `{"type", "name", "split"}`, the bundled
    synthetic set, a file name or a Hub dataset id), so synthetic scores never pass for scores on helpline calls.
    """
    m = _strip_prefix(metrics)
    results: list[EvalResult] = []
    eval_data = eval_data or {}

    def add(task_type: str, head: str, task_name: str, metric_type: str, metric_name: str, key: str) -> None:
        if key not in m:
            return
        task = "all" if head == "all-tasks" else "ner" if task_type == "token-classification" else (
            "qa" if head.startswith("quality-") else "cls")
        data = _composite_data(eval_data) if task == "all" and eval_data else eval_data.get(task, UNRECORDED)
        results.append(
            EvalResult(
                task_type=task_type, task_name=task_name, dataset_type=data["type"], dataset_name=data["name"],
                dataset_config=head, dataset_split=data.get("split", "validation"), metric_type=metric_type,
                metric_name=metric_name, metric_value=round(float(m[key]), 4),
            )
        )

    add("token-classification", "ner", "NER", "f1", "entity-level micro F1", "ner_f1")
    for entity_type in config.ner_entity_types:
        add("token-classification", "ner", "NER", "f1", f"F1 {entity_type}", f"ner_f1_{entity_type}")
    for head in config.case_heads:
        add("text-classification", head, f"case {head}", "accuracy", f"{head} accuracy", f"cls_{head}_accuracy")
        add("text-classification", head, f"case {head}", "f1", f"{head} macro F1", f"cls_{head}_macro_f1")
    add("text-classification", "priority", "case priority", "recall", "critical recall", "cls_priority_critical_recall")
    for head in config.qa_heads:
        add("text-classification", f"quality-{head}", f"quality {head}", "f1", f"{head} micro F1", f"qa_{head}_f1")
    add("text-classification", "all-tasks", "all tasks", "composite", "composite", "composite")
    return results


def render_model_card(
    config: Any,
    metrics: dict[str, float],
    *,
    repo_id: str = "org/helpline-fusion",
    base_model: str | None = None,
    training_args: Any = None,
    validation_report: dict | None = None,
    split_sizes: dict[str, dict[str, int]] | None = None,
    sampling_strategy: str = "shuffled",
    license: str = "mit",
    datasets: list[str] | None = None,
    extra_results: str = "",
    eval_data: dict[str, dict] | None = None,
    distillation: dict[str, Any] | None = None,
    refit_heads_epochs: int = 0,
) -> ModelCard:
    """Render the card for a trained model; `metrics` are the final evaluation metrics (with or without `eval_`).

    `eval_data` names, per task, the data the validation scores were measured on (see `eval_results`); its Hub
    dataset ids also go into the card's `datasets` metadata. `distillation`: `{"teachers": {task: Hub id or
    "local model"}, "alpha", "temperature"}` of a distilled model.
    """
    m = _strip_prefix(metrics)
    hub_datasets = sorted({entry["name"] for entry in (eval_data or {}).values() if entry.get("hub")})
    datasets = datasets or hub_datasets or None
    base_model = base_model or getattr(config, "base_model_name", None)
    card_data = ModelCardData(
        language=["en", "sw"],
        license=license,
        library_name="transformers",
        pipeline_tag="token-classification",
        tags=["helpline-fusion", "multi-task", "ner", "text-classification", "child-helpline", "custom_code"],
        base_model=base_model,
        datasets=datasets,
        # The full repo id, so `retarget_model_card` can aim a saved card at the repo it is published to.
        model_name=repo_id,
        eval_results=eval_results(m, config, eval_data) or None,
    )
    headline = {
        key: m[key]
        for key in ["composite", "ner_f1", "ner_precision", "ner_recall"]
        + [f"cls_{h}_accuracy" for h in config.case_heads]
        + ["cls_priority_critical_recall", "cls_priority_critical_precision", "qa_macro_f1"]
        if key in m
    }
    ner_rows = [
        {"type": t, "f1": m[f"ner_f1_{t}"], "support": int(m.get(f"ner_support_{t}", 0))}
        for t in config.ner_entity_types
        if f"ner_f1_{t}" in m
    ]
    cls_rows = [
        {"head": h, "accuracy": m[f"cls_{h}_accuracy"], "macro_f1": m.get(f"cls_{h}_macro_f1", 0.0),
         "majority": m.get(f"cls_{h}_majority_accuracy", 0.0)}
        for h in config.case_heads
        if f"cls_{h}_accuracy" in m
    ]
    qa_rows = [
        {"head": h, "f1": m[f"qa_{h}_f1"], "accuracy": m.get(f"qa_{h}_accuracy", 0.0),
         "macro_f1": m.get(f"qa_{h}_macro_f1", 0.0), "all_met": m.get(f"qa_{h}_f1_all_met", 0.0)}
        for h in config.qa_heads
        if f"qa_{h}_f1" in m
    ]
    data_rows = []
    for path, entry in ((validation_report or {}).get("files") or {}).items():
        reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(entry.get("reasons", {}).items()))
        data_rows.append({"file": Path(path).name, **{k: entry.get(k, 0) for k in ("task", "read", "kept", "repaired", "rejected")}, "reasons": reasons})
    hyperparameters = {}
    if training_args is not None:
        hyperparameters = {
            name: _plain(getattr(training_args, name)) for name in HYPERPARAMETERS if hasattr(training_args, name)
        }
    return ModelCard.from_template(
        card_data,
        template_str=_template_text(),
        model_name=repo_id,
        repo_id=repo_id,
        base_model=base_model or "unknown",
        tasks=list(config.tasks),
        ner_entity_types=config.ner_entity_types,
        case_heads=config.case_heads,
        qa_heads=config.qa_heads,
        window_length=config.window_length,
        window_stride=config.window_stride,
        critical_threshold=config.critical_threshold,
        headline_metrics=headline,
        ner_type_metrics=ner_rows,
        cls_metrics=cls_rows,
        qa_metrics=qa_rows,
        hyperparameters=hyperparameters,
        sampling_strategy=sampling_strategy,
        data_rows=data_rows,
        split_rows=[{"task": t, **sizes} for t, sizes in (split_sizes or {}).items()],
        extra_results=extra_results,
        distillation=distillation,
        refit_heads_epochs=refit_heads_epochs,
        calibration=_calibration_summary(m),
        data_summary=data_summary(eval_data),
        eval_data_rows=[{"task": TASK_TITLES.get(t, t), **entry} for t, entry in (eval_data or {}).items()],
        year=datetime.date.today().year,
    )


def _calibration_summary(m: dict[str, float]) -> dict[str, Any] | None:
    """The card's calibration paragraph from the flat `calib_*` metrics (see `calibration.calibration_metrics`)."""
    if "calib_critical_threshold" not in m:
        return None

    def pair(before: str, after: str) -> str:
        return f"{m[before]:.3f} → {m[after]:.3f}" if before in m and after in m else "not measured"

    return {
        "critical_threshold": m["calib_critical_threshold"], "target_recall": m.get("calib_target_recall", 0.9),
        "critical_recall": m.get("calib_critical_recall", 0.0),
        "critical_precision": m.get("calib_critical_precision", 0.0),
        "critical_calls": int(m.get("calib_critical_calls", 0)), "records": int(m.get("calib_records", 0)),
        "ece_case": pair("calib_ece_case_before", "calib_ece_case_after"),
        "ece_quality": pair("calib_ece_quality_before", "calib_ece_quality_after"),
        "review_share": m.get("calib_review_case_flagged_share", m.get("calib_review_quality_flagged_share", 0.2)),
        "review_case": pair("calib_review_case_error_rate_flagged", "calib_review_case_error_rate_not_flagged")
        .replace("→", "vs"),
        "review_quality": pair(
            "calib_review_quality_error_rate_flagged", "calib_review_quality_error_rate_not_flagged"
        ).replace("→", "vs"),
    }  # fmt: skip


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value  # SchedulerType.LINEAR -> "linear"


def composite_from_card(card: ModelCard) -> float | None:
    """The `composite` metric recorded in a card's `model-index`, or None."""
    for result in card.data.eval_results or []:
        if result.metric_type == "composite":
            return float(result.metric_value)
    return None


def write_metrics(folder: Path, metrics: dict[str, float]) -> Path:
    path = Path(folder) / "eval_results.json"
    path.write_text(json.dumps(_strip_prefix(metrics), indent=2, sort_keys=True))
    return path


def is_helpline_card(card: ModelCard) -> bool:
    """Whether `card` is a helpline-fusion card (tagged `helpline-fusion`), not e.g. the Trainer's generic draft."""
    return "helpline-fusion" in (card.data.tags or [])


def card_for_repo(card: ModelCard, repo_id: str) -> ModelCard:
    """`card` aimed at `repo_id`: its usage snippets, title and `model-index` name the repo it is published to.

    Example:
        >>> card = card_for_repo(ModelCard.load("out/README.md"), "org/helpline-fusion")  # doctest: +SKIP
    """
    from ..modeling_attention_fusion.modeling_attention_fusion import retarget_model_card  # torch: only here

    return ModelCard(retarget_model_card(str(card), repo_id))
