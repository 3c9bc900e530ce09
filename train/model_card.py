"""The model card: the `model_card.md` template (top level; `train/model_card.md` links to it and ships as package
data) rendered with `huggingface_hub.ModelCard`.

Metadata (`library_name`, `pipeline_tag`, `tags`, `base_model`, `datasets`, `license`) and a `model-index`
with one result per task head and metric come from the config and the run's metrics; the body gets the
per-type and per-head tables, hyperparameters and the data validation counts. No transcript text goes in.

The safety figures come first and are the honest ones: those of the calibration report's `held_out` part (the test
split, or cross-fitted validation where the data has none; `calibration.calibrate`), with the number of critical
calls they rest on and the false alarms per 100 calls; the in-sample figures (fitted on the same records) stand
beside them, labelled so. The usage snippets pin a revision: the tag being published (`card_for_repo(...,
revision=tag)`), else `REVISION_PLACEHOLDER`, which `helpline-fusion publish` fills.
"""

from __future__ import annotations

import datetime
import enum
import json
import logging
import re
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..modeling_attention_fusion.labels_attention_fusion import TASK_TITLES
from .report import software_versions

logger = logging.getLogger(__name__)

HYPERPARAMETERS = (
    "learning_rate", "per_device_train_batch_size", "num_train_epochs", "max_steps", "weight_decay",
    "warmup_steps", "lr_scheduler_type", "max_grad_norm", "seed", "bf16",
)
UNRECORDED = {"type": "unrecorded", "name": "validation split of the training data (sources not recorded)"}
# The revision the usage snippets pin until the card is published (publish fills in the version tag).
REVISION_PLACEHOLDER = "<version-tag>"
IN_SAMPLE = "in-sample (fitted on these records)"


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


def eval_results(
    metrics: dict[str, float], config: Any, eval_data: dict[str, dict] | None = None, calibration: dict | None = None
) -> list[EvalResult]:
    """One `EvalResult` per task head and metric (the card's `model-index`).

    Each head is its own `model-index` result (`dataset_config` names the head): the Hub groups results by task
    type, dataset and config, so without it every classification head would sit under the first head's name.
    Each result names the data it was measured on (`eval_data`: task -> `{"type", "name", "split"}`, the bundled
    synthetic set, a file name or a Hub dataset id), so synthetic scores never pass for scores on helpline calls.
    With a `calibration` report, the critical recall and false alarms on held-out records are results of their
    own (split `test`, or `validation` with "cross-fitted" in the name), beside the validation figure.
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
    # Held-out critical figures first: a results list read by task name keeps the validation result (listed last).
    held = ((calibration or {}).get("held_out") or {}).get("case") or {}
    if held.get("critical", {}).get("critical_calls"):
        data = eval_data.get("cls", UNRECORDED)
        on_test = held["evaluated_on"] == "test"
        where = "test split" if on_test else "cross-fitted on validation"
        for metric_type, name, key in (("recall", "critical recall", "critical_recall"),
                                       ("false_alarms_per_100_calls", "false alarms per 100 calls",
                                        "false_alarms_per_100_calls")):  # fmt: skip
            results.append(EvalResult(
                task_type="text-classification", task_name="case priority", dataset_type=data["type"],
                dataset_name=data["name"], dataset_config="priority", dataset_split="test" if on_test else "validation",
                metric_type=metric_type, metric_name=f"{name} ({where})",
                metric_value=round(float(held["critical"][key]), 4),
            ))  # fmt: skip
    for head in config.case_heads:
        add("text-classification", head, f"case {head}", "accuracy", f"{head} accuracy", f"cls_{head}_accuracy")
        add("text-classification", head, f"case {head}", "f1", f"{head} macro F1", f"cls_{head}_macro_f1")
    # After calibration the validation's critical recall is the one the threshold was fitted to reach: say so.
    calibrated = bool((calibration or {}).get("critical")) or "calib_critical_threshold" in m
    in_sample = f"critical recall, {IN_SAMPLE}" if calibrated else "critical recall"
    add("text-classification", "priority", "case priority", "recall", in_sample, "cls_priority_critical_recall")
    for head in config.qa_heads:
        add("text-classification", f"quality-{head}", f"quality {head}", "f1", f"{head} micro F1", f"qa_{head}_f1")
    add("text-classification", "all-tasks", "all tasks", "composite", "composite", "composite")
    return results


@dataclass
class HelplineFusionModelCardData:
    """What the card says about one training run, gathered while it runs (the SpanMarker / SetFit pattern): a
    [`ModelCardCallback`] records the training arguments when training begins and the metrics of every evaluation;
    the run's phases add the rest (data, refit, calibration). [`to_model_card`] renders it with the model's config.

    Args:
        metrics: the final evaluation metrics (with or without `eval_`).
        repo_id: the repo the card's snippets and links name (`card_for_repo` aims it elsewhere when publishing).
        eval_data: per task, the data the validation scores were measured on (see `eval_results`); its Hub dataset
            ids also go into the card's `datasets` metadata.
        distillation: `{"teachers": {task: Hub id or "local model"}, "alpha", "temperature"}` of a distilled model.
        calibration: the calibration report (`calibration.json`), whose held-out figures head the safety section.
        revision: the tag or commit the usage snippets pin (default `REVISION_PLACEHOLDER`, filled in by
            `card_for_repo` when publishing).
        plots: the evaluation plots beside the card (`report.card_plots(folder)`: `{"file", "title"}`), shown in it.
        The others are what their names say; the card also lists the versions of helpline-fusion (and the code's
        commit), torch and transformers it was made with.

    Example:
        >>> card = HelplineFusionModelCardData(metrics, repo_id="org/helpline-fusion").to_model_card(model.config)  # doctest: +SKIP
        >>> "## Safety figures" in card.text  # doctest: +SKIP
        True
    """

    metrics: dict[str, float] = field(default_factory=dict)
    repo_id: str = "org/helpline-fusion"
    base_model: str | None = None
    training_args: Any = None
    validation_report: dict | None = None
    split_sizes: dict[str, dict[str, int]] | None = None
    sampling_strategy: str = "shuffled"
    license: str = "mit"
    datasets: list[str] | None = None
    extra_results: str = ""
    eval_data: dict[str, dict] | None = None
    distillation: dict[str, Any] | None = None
    refit_heads_epochs: int = 0
    qa_refit_c: float | None = None
    calibration: dict[str, Any] | None = None
    revision: str | None = None
    plots: list[dict[str, str]] | None = None

    def to_model_card(self, config: Any) -> ModelCard:
        """The card of a model with `config`, from the template (`model_card.md`)."""
        m = _strip_prefix(self.metrics)
        base_model = self.base_model or getattr(config, "base_model_name", None)
        safety = safety_summary(self.calibration, m)
        ner_rows, cls_rows, qa_rows = _metric_rows(config, m)
        return ModelCard.from_template(
            self._metadata(config, m, base_model),
            template_str=_template_text(),
            model_name=self.repo_id,
            repo_id=self.repo_id,
            repo_url=f"https://huggingface.co/{self.repo_id}",
            revision=self.revision or REVISION_PLACEHOLDER,
            base_model=base_model or "unknown",
            tasks=list(config.tasks),
            ner_entity_types=config.ner_entity_types,
            case_heads=config.case_heads,
            qa_heads=config.qa_heads,
            window_length=config.window_length,
            window_stride=config.window_stride,
            critical_threshold=config.critical_threshold,
            headline_metrics=_headline(config, m, calibrated=safety is not None),
            ner_type_metrics=ner_rows,
            cls_metrics=cls_rows,
            qa_metrics=qa_rows,
            hyperparameters=_hyperparameters(self.training_args),
            sampling_strategy=self.sampling_strategy,
            data_rows=_data_rows(self.validation_report),
            split_rows=[{"task": t, **sizes} for t, sizes in (self.split_sizes or {}).items()],
            extra_results=self.extra_results,
            distillation=self.distillation,
            refit_heads_epochs=self.refit_heads_epochs,
            qa_refit_c=self.qa_refit_c,
            safety=safety,
            in_sample=IN_SAMPLE,
            data_summary=data_summary(self.eval_data),
            eval_data_rows=[{"task": TASK_TITLES.get(t, t), **entry} for t, entry in (self.eval_data or {}).items()],
            year=datetime.date.today().year,
            plots=self.plots or [],
            versions=software_versions(),
        )

    def _metadata(self, config: Any, m: dict[str, float], base_model: str | None) -> ModelCardData:
        hub_datasets = sorted({entry["name"] for entry in (self.eval_data or {}).values() if entry.get("hub")})
        return ModelCardData(
            language=["en", "sw"],
            license=self.license,
            library_name="transformers",
            pipeline_tag="token-classification",
            tags=["helpline-fusion", "multi-task", "ner", "text-classification", "child-helpline", "custom_code"],
            base_model=base_model,
            datasets=self.datasets or hub_datasets or None,
            # The full repo id, so `card_for_repo` can aim a saved card at the repo it is published to.
            model_name=self.repo_id,
            eval_results=eval_results(m, config, self.eval_data, self.calibration) or None,
        )


def _headline(config: Any, m: dict[str, float], calibrated: bool) -> dict[str, float]:
    """The card's headline figures; after calibration the validation's critical figures are marked in-sample (the
    threshold was fitted on that split)."""
    keys = ["composite", "ner_f1", "ner_precision", "ner_recall", *(f"cls_{h}_accuracy" for h in config.case_heads),
            "cls_priority_critical_recall", "cls_priority_critical_precision", "qa_macro_f1"]  # fmt: skip
    marked = {key: f"{key}, {IN_SAMPLE}: see Safety figures" if calibrated and key.startswith("cls_priority_critical")
              else key for key in keys}  # fmt: skip
    return {marked[key]: m[key] for key in keys if key in m}


def _metric_rows(config: Any, m: dict[str, float]) -> tuple[list[dict], list[dict], list[dict]]:
    """The per-entity-type, per-case-head and per-quality-head tables."""
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
    ]  # fmt: skip
    qa_rows = [
        {"head": h, "f1": m[f"qa_{h}_f1"], "accuracy": m.get(f"qa_{h}_accuracy", 0.0),
         "macro_f1": m.get(f"qa_{h}_macro_f1", 0.0), "all_met": m.get(f"qa_{h}_f1_all_met", 0.0)}
        for h in config.qa_heads
        if f"qa_{h}_f1" in m
    ]  # fmt: skip
    return ner_rows, cls_rows, qa_rows


def _data_rows(validation_report: dict | None) -> list[dict[str, Any]]:
    """Per data file (by name, never its path): records read, kept, repaired, rejected and why."""
    rows = []
    for path, entry in ((validation_report or {}).get("files") or {}).items():
        reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(entry.get("reasons", {}).items()))
        counts = {k: entry.get(k, 0) for k in ("task", "read", "kept", "repaired", "rejected")}
        rows.append({"file": Path(path).name, **counts, "reasons": reasons})
    return rows


def _hyperparameters(training_args: Any) -> dict[str, Any]:
    if training_args is None:
        return {}
    return {name: _plain(getattr(training_args, name)) for name in HYPERPARAMETERS if hasattr(training_args, name)}


def render_model_card(config: Any, metrics: dict[str, float], **card_data: Any) -> ModelCard:
    """Render the card for a trained model: `HelplineFusionModelCardData(metrics, **card_data).to_model_card(config)`.

    Example:
        >>> card = render_model_card(model.config, metrics, repo_id="org/helpline-fusion",
        ...                          calibration=json.load(open("out/calibration.json")))  # doctest: +SKIP
    """
    return HelplineFusionModelCardData(metrics=metrics, **card_data).to_model_card(config)


def _build_callback_class() -> type:
    # A subclass of transformers' TrainerCallback, built on first use: rendering a card and `helpline-fusion
    # publish` then never import torch and transformers.
    from transformers import TrainerCallback

    class ModelCardCallback(TrainerCallback):
        """Collects the card data while the Trainer runs (as SpanMarker's and SetFit's `ModelCardCallback`): the
        training arguments and hub repo when training begins, the metrics of each evaluation. The trainer's
        `create_model_card` renders [`HelplineFusionModelCardData`] from it ([`write_model_card`]).

        Example:
            >>> callback = ModelCardCallback(HelplineFusionModelCardData(license="mit"))  # doctest: +SKIP
            >>> trainer = MultiTaskTrainer(..., callbacks=[callback])  # doctest: +SKIP
            >>> callback.card_data.calibration = report  # doctest: +SKIP
            >>> trainer.create_model_card()  # doctest: +SKIP
        """

        def __init__(self, card_data: HelplineFusionModelCardData | None = None) -> None:
            self.card_data = card_data or HelplineFusionModelCardData()

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.card_data.training_args = args
            if args.hub_model_id:
                self.card_data.repo_id = args.hub_model_id

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None, **kwargs: Any) -> None:
            self.card_data.metrics = {**self.card_data.metrics, **(metrics or {})}

    return ModelCardCallback


def _callback_class() -> type:
    if "ModelCardCallback" not in globals():
        globals()["ModelCardCallback"] = _build_callback_class()
    return globals()["ModelCardCallback"]


def __getattr__(name: str) -> Any:
    if name == "ModelCardCallback":
        return _callback_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def write_model_card(trainer: Any, folder: str | Path | None = None, **overrides: Any) -> ModelCard:
    """The trainer's card, saved as `README.md` in `folder` (default `trainer.args.output_dir`): the card data of its
    [`ModelCardCallback`] (one with the trainer's arguments if it has none), with `overrides` (card data fields;
    other keyword arguments, those `Trainer.push_to_hub` passes such as `model_name`, are ignored). The helpline
    card, never the Trainer's generic draft.

    Example:
        >>> write_model_card(trainer, calibration=report)  # doctest: +SKIP
    """
    callback = next((cb for cb in trainer.callback_handler.callbacks if isinstance(cb, _callback_class())), None)
    card_data = callback.card_data if callback is not None else HelplineFusionModelCardData(training_args=trainer.args)
    names = {f.name for f in fields(HelplineFusionModelCardData)}
    card_data = replace(card_data, **{key: value for key, value in overrides.items() if key in names})
    card = card_data.to_model_card(trainer.accelerator.unwrap_model(trainer.model).config)
    if trainer.is_world_process_zero():
        card.save(Path(folder if folder is not None else trainer.args.output_dir) / "README.md")
    return card


def _share(value: float) -> str:
    return f"{100 * float(value):.0f}%"


def _where(part: dict[str, Any]) -> str:
    """The data a held-out figure was measured on, in words."""
    if part.get("evaluated_on") == "test":
        return f"test split, {part.get('records', 0)} calls"
    if part.get("folds"):
        return f"validation, cross-fitted ({part['folds']} folds), {part.get('records', 0)} calls"
    return str(part.get("evaluated_on", "not measured"))


def _pair(values: dict[str, dict[str, float]] | None) -> str:
    """Mean ECE over heads, before -> after the temperatures."""
    if not values or not values.get("before") or not values.get("after"):
        return "not measured"
    before, after = (sum(values[w].values()) / len(values[w]) for w in ("before", "after"))
    return f"{before:.3f} → {after:.3f}"


def safety_summary(calibration: dict[str, Any] | None, metrics: dict[str, float]) -> dict[str, Any] | None:
    """The card's safety section: per figure the held-out value (bold in the card), the data it was measured on,
    and the in-sample value beside it. From the calibration report; without one, from the flat `calib_*` metrics
    (in-sample only, and the card says there are no held-out figures). None when the model was not calibrated."""
    m = _strip_prefix(metrics)
    if calibration is None:
        if "calib_critical_threshold" not in m:
            return None
        calibration = _report_from_metrics(m)
    critical = calibration.get("critical") or {}
    review = calibration.get("review") or {}
    held = calibration.get("held_out") or {}
    rows: list[dict[str, str]] = []

    def add(figure: str, part: dict | None, held_value: str | None, in_sample: str | None) -> None:
        if held_value is None and in_sample is None:
            return
        rows.append({"figure": figure, "held_out": held_value or "not measured",
                     "measured_on": _where(part) if part and held_value else "", "in_sample": in_sample or ""})  # fmt: skip

    case, quality = held.get("case") or {}, held.get("quality") or {}
    _critical_rows(add, case, critical)
    for task, title, part in (("case", "case", case), ("quality", "call-quality", quality)):
        _review_rows(add, title, part, review.get(task) or {}, calibration.get(f"ece_{task}"))
    return {
        "rows": rows,
        "held_out": bool(held),
        "evaluated_on": {task: part.get("evaluated_on") for task, part in held.items()},
        "critical_threshold": critical.get("critical_threshold", 0.5),
        "target_recall": critical.get("target_recall", 0.9),
        "crossfit_recall": critical.get("crossfit_critical_recall"),
        "crossfit_folds": int(critical.get("crossfit_folds", 0) or 0),
        "review_share": review.get("target_share", 0.2),
    }


def _report_from_metrics(m: dict[str, float]) -> dict[str, Any]:
    """The in-sample parts of a calibration report, rebuilt from the flat `calib_*` metrics."""
    return {
        "critical": {key.removeprefix("calib_"): m[key] for key in m
                     if key.startswith("calib_") and not any(part in key for part in ("review", "ece", "heldout"))},
        "review": {kind: {key.removeprefix(f"calib_review_{kind}_"): m[key] for key in m
                          if key.startswith(f"calib_review_{kind}_")} for kind in ("case", "quality")},
    }  # fmt: skip


def _critical_rows(add: Any, case: dict[str, Any], critical: dict[str, Any]) -> None:
    """The critical recall, precision and false-alarm rows: held out (`case`) beside in-sample (`critical`)."""
    hc = case.get("critical") or {}
    if hc and not hc.get("critical_calls"):
        hc = {}  # held-out records without a critical call measure no recall: "not measured", never a bold 0.000
    if not hc and not critical:
        return
    found = round(hc.get("critical_recall", 0.0) * hc.get("critical_calls", 0))
    add("critical recall (share of critical calls alerted)", case,
        f"**{hc['critical_recall']:.3f}** ({found} of {hc['critical_calls']} critical calls)" if hc else None,
        f"{critical['critical_recall']:.3f} (of {int(critical.get('critical_calls', 0))} critical calls)"
        if "critical_recall" in critical else None)  # fmt: skip
    add("critical precision (share of alerted calls that are critical)", case,
        f"**{hc['critical_precision']:.3f}** (of {hc['decided_critical']} calls alerted)" if hc else None,
        f"{critical['critical_precision']:.3f}" if "critical_precision" in critical else None)
    add("false alarms per 100 calls (alerted, not critical)", case,
        f"**{hc['false_alarms_per_100_calls']:.1f}** ({hc['false_alarms']} of {hc['records']} calls)" if hc else None,
        f"{critical['false_alarms_per_100_calls']:.1f}" if "false_alarms_per_100_calls" in critical else None)


def _review_rows(add: Any, title: str, part: dict[str, Any], fitted: dict[str, Any], ece: dict | None) -> None:
    """One task's review-flag and calibration-error rows: held out (`part`) beside in-sample (`fitted`, `ece`)."""
    flags = part.get("review") or {}
    add(f"{title} calls flagged `needs_review`", part,
        f"**{_share(flags['flagged_share'])}** of {flags['records']} calls" if flags else None,
        _share(fitted["flagged_share"]) if "flagged_share" in fitted else None)
    add(f"{title} calls with any wrong decision: flagged vs not flagged", part,
        f"**{flags['error_rate_flagged']:.3f}** vs **{flags['error_rate_not_flagged']:.3f}**" if flags else None,
        f"{fitted['error_rate_flagged']:.3f} vs {fitted['error_rate_not_flagged']:.3f}"
        if "error_rate_flagged" in fitted else None)  # fmt: skip
    if part.get("ece") or ece:
        add(f"{title} expected calibration error, before → after the temperatures", part,
            _pair(part.get("ece")) if part.get("ece") else None, _pair(ece) if ece else None)


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


_SNIPPET_REPO_ID = re.compile(r'from_pretrained\(\s*"([^"]+)"[^)]*trust_remote_code=True')


def card_for_repo(card: ModelCard, repo_id: str, revision: str | None = None) -> ModelCard:
    """`card` aimed at `repo_id`: its usage snippets, title, repository links and `model-index` name the repo it is
    published to, and with `revision` (the tag being published) the snippets pin it in place of
    `REVISION_PLACEHOLDER`. Other cards come back unchanged.

    Example:
        >>> card = card_for_repo(ModelCard.load("out/README.md"), "org/helpline-fusion", revision="v1.2.0")  # doctest: +SKIP
    """
    text = str(card)
    found = _SNIPPET_REPO_ID.search(text)
    if found is not None and found.group(1) != repo_id:
        old = re.escape(found.group(1))
        text = re.sub(rf"(?<=huggingface\.co/){old}(?![\w./-])", repo_id, text)  # links to the repository
        text = re.sub(rf"(?<![\w./-]){old}(?![\w./-])", repo_id, text)
    if revision:
        text = text.replace(REVISION_PLACEHOLDER, revision)
    return ModelCard(text)


def read_calibration(folder: str | Path) -> dict[str, Any] | None:
    """The calibration report (`calibration.json`) of a model folder, without its run id; None when absent."""
    path = Path(folder) / "calibration.json"
    if not path.is_file():
        return None
    report = json.loads(path.read_text(encoding="utf-8"))
    report.pop("run_id", None)
    return report
