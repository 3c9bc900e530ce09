"""Configuration of the helpline attention-fusion model.

This file ships to the Hub next to the weights (``trust_remote_code``): it imports
only the standard library and transformers.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from transformers import AutoConfig, PretrainedConfig

# The label reference (../shared/spec/labels.md) lives in a plain-data sibling: the config's defaults.
from .labels_attention_fusion import (  # noqa: F401 - re-exported, the config module's public names
    CASE_HEADS,
    INTERVENTIONS,
    MAIN_CATEGORIES,
    NER_ENTITY_TYPES,
    NER_HEAD_CHOICES,
    POOLING_CHOICES,
    PRIORITIES,
    QA_HEADS,
    QA_WINDOW_SCOPE,
    QA_WINDOW_SCOPES,
    SENTENCE_TASKS,
    SUB_TO_MAIN_CATEGORY,
    TASK_RESULT_KEYS,
    TASK_TITLES,
    TASKS,
    UNKNOWN_CATEGORY,
    bio_tags,
)
from .speakers_attention_fusion import check_speakers

QA_POOLING_CHOICES = ("tokens", "turns")
CRITICAL_RULE_CHOICES = ("alert", "override")
# The pipeline the config names for `pipeline(model=folder_or_hub_id, trust_remote_code=True)`: plain data, so that
# naming it imports nothing (the pipeline file ships beside the model; see `pipeline_attention_fusion.py`).
PIPELINE_TASK = "helpline-fusion"
CUSTOM_PIPELINES = {
    PIPELINE_TASK: {"impl": "pipeline_attention_fusion.HelplineFusionPipeline", "pt": ["AutoModel"], "type": "text"}
}


def _check_label_list(field: str, head: str, labels: Any) -> list[str]:
    where = f"{field}[{head!r}]" if head else field
    if not isinstance(labels, (list, tuple)) or not labels:
        raise ValueError(f"{where}: the label list is empty or not a list (got {labels!r}); give at least one label")
    labels = [str(label) for label in labels]
    seen: set[str] = set()
    duplicates = sorted({label for label in labels if label in seen or seen.add(label)})
    if duplicates:
        raise ValueError(f"{where}: duplicated labels {duplicates}; every label must appear once")
    return labels



def _check_choice(field: str, what: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{field}: unknown {what} {value!r}; valid: {list(choices)}")


def _check_tasks(tasks: list[str] | None) -> list[str]:
    """The tasks, in the reference order."""
    tasks = list(tasks) if tasks is not None else list(TASKS)
    unknown = [task for task in tasks if task not in TASKS]
    if unknown or not tasks:
        raise ValueError(f"tasks: {tasks!r} must be a non-empty subset of {list(TASKS)}")
    return [task for task in TASKS if task in tasks]


def _check_pooling(pooling: str | dict[str, str]) -> dict[str, str]:
    """One pooling per sentence-level task (`"attention"` where not given)."""
    if isinstance(pooling, str):
        pooling = {task: pooling for task in SENTENCE_TASKS}
    if not isinstance(pooling, dict):
        raise ValueError(f"pooling: expected a string or a dict task -> pooling, got {pooling!r}")
    pooling = {**{task: "attention" for task in SENTENCE_TASKS}, **pooling}
    for task, kind in pooling.items():
        if task not in SENTENCE_TASKS:
            raise ValueError(f"pooling: unknown task {task!r}; pooling applies to {list(SENTENCE_TASKS)}")
        _check_choice(f"pooling[{task!r}]", "pooling", kind, POOLING_CHOICES)
    return pooling


def _check_state_layer(layer: int | None, layer_mix: bool) -> int | None:
    if layer is None:
        return None
    if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
        raise ValueError(f"qa_state_layer: expected an encoder layer number >= 0 (0: the embeddings), got {layer!r}")
    if layer_mix:
        raise ValueError("qa_state_layer: the quality heads read one layer, pool_layer_mix mixes them all; set one")
    return layer


def _check_window(window_length: int, window_stride: int) -> tuple[int, int]:
    # Not `max_length`/`stride`: transformers reads `max_length` in a model config as a generation setting.
    if int(window_length) < 8:
        raise ValueError(f"window_length: {window_length!r} is too small; use at least 8 tokens")
    if not 0 <= int(window_stride) < int(window_length):
        raise ValueError(f"window_stride: {window_stride!r} must be in [0, window_length={window_length})")
    return int(window_length), int(window_stride)


def _check_speakers(pattern: str | None, roles: dict[str, str] | None) -> tuple[str | None, dict[str, str] | None]:
    if pattern is not None and not isinstance(pattern, str):
        raise ValueError(f"speaker_pattern: expected a regular expression string, got {pattern!r}")
    if roles is not None and not isinstance(roles, dict):
        raise ValueError(f"speaker_roles: expected a dict speaker -> role, got {roles!r}")
    roles = {str(name).lower(): str(role) for name, role in (roles or {}).items()} or None
    if pattern is not None or roles is not None:
        check_speakers(pattern or r"(?P<speaker>x)", roles or {})
    return pattern, roles


def _check_loss_weights(task_loss_weights: dict[str, float] | None) -> dict[str, float]:
    weights = {task: 1.0 for task in TASKS}
    for task, weight in (task_loss_weights or {}).items():
        if task not in TASKS:
            raise ValueError(f"task_loss_weights: unknown task {task!r}; valid: {list(TASKS)}")
        if float(weight) < 0:
            raise ValueError(f"task_loss_weights[{task!r}]: {weight!r} is negative")
        weights[task] = float(weight)
    return weights


def _check_prior_mix(case_prior_mix: dict[str, float] | None, case_heads: dict[str, list[str]]) -> dict[str, float]:
    mix: dict[str, float] = {}
    for head, value in (case_prior_mix or {}).items():
        if head not in case_heads:
            raise ValueError(f"case_prior_mix: unknown case head {head!r}; valid: {list(case_heads)}")
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"case_prior_mix[{head!r}]: expected a share in [0, 1], got {value!r}")
        mix[head] = float(value)
    return mix


def _check_class_weights(
    case_class_weights: dict[str, list[float]] | None, case_heads: dict[str, list[str]], field: str = "case_class_weights"
) -> dict[str, list[float]]:
    class_weights: dict[str, list[float]] = {}
    for head, values in (case_class_weights or {}).items():
        if head not in case_heads:
            raise ValueError(f"{field}: unknown case head {head!r}; valid: {list(case_heads)}")
        if len(values) != len(case_heads[head]) or any(float(v) < 0 for v in values):
            raise ValueError(
                f"{field}[{head!r}]: expected {len(case_heads[head])} non-negative values, got {values!r}"
            )
        class_weights[head] = [float(v) for v in values]
    return class_weights


def _check_qa_thresholds(
    qa_thresholds: dict[str, list[float]] | None, qa_heads: dict[str, list[str]]
) -> dict[str, list[float]]:
    thresholds = {head: [0.5] * len(names) for head, names in qa_heads.items()}
    for head, values in (qa_thresholds or {}).items():
        if head not in thresholds:
            raise ValueError(f"qa_thresholds: unknown quality head {head!r}; valid: {list(thresholds)}")
        if len(values) != len(thresholds[head]):
            raise ValueError(f"qa_thresholds[{head!r}]: {len(values)} values for {len(thresholds[head])} sub-metrics")
        thresholds[head] = [float(v) for v in values]
    return thresholds


def _check_window_scope(scope: dict[str, str] | None, qa_heads: dict[str, list[str]], qa_pooling: str) -> dict[str, str]:
    """`qa_window_scope`, unset: with turn pooling the schema's (`QA_WINDOW_SCOPE`) for the heads this model has,
    with token pooling every window (measured: a token-pooled closing head read on the last window alone lost 0.11
    macro F1, turn-pooled ones gained 0.02-0.19)."""
    if scope is None:
        if qa_pooling != "turns":
            return {}
        return {head: value for head, value in QA_WINDOW_SCOPE.items() if head in qa_heads}
    for head, value in scope.items():
        if head not in qa_heads:
            raise ValueError(f"qa_window_scope: unknown quality head {head!r}; valid: {list(qa_heads)}")
        if value not in QA_WINDOW_SCOPES:
            raise ValueError(f"qa_window_scope[{head!r}]: expected one of {list(QA_WINDOW_SCOPES)}, got {value!r}")
    return {head: value for head, value in scope.items() if value != "all"}


def _check_critical_priority(critical_priority: str, case_heads: dict[str, list[str]]) -> str:
    if "priority" in case_heads and str(critical_priority) not in case_heads["priority"]:
        raise ValueError(
            f"critical_priority: {critical_priority!r} is not one of the priority labels {case_heads['priority']}"
        )
    return str(critical_priority)


def _check_evidence_top_k(evidence_top_k: int) -> int:
    if isinstance(evidence_top_k, bool) or not isinstance(evidence_top_k, int) or evidence_top_k < 1:
        raise ValueError(f"evidence_top_k: expected a whole number of spans >= 1, got {evidence_top_k!r}")
    return evidence_top_k


def _check_temperatures(
    temperatures: dict[str, dict[str, float]] | None, heads: dict[str, dict[str, list[str]]]
) -> dict[str, dict[str, float]]:
    temps: dict[str, dict[str, float]] = {}
    for task, values in (temperatures or {}).items():
        if task not in heads:
            raise ValueError(f"temperatures: unknown task {task!r}; valid: {list(heads)}")
        for head, value in values.items():
            if head not in heads[task] or not float(value) > 0:
                raise ValueError(f"temperatures[{task!r}][{head!r}]: expected a known head and a value > 0")
        temps[task] = {head: float(value) for head, value in values.items()}
    return temps


def _check_heads(field: str, heads: Any) -> dict[str, list[str]]:
    if not isinstance(heads, dict) or not heads:
        raise ValueError(f"{field}: expected a non-empty dict head -> label list, got {heads!r}")
    return {str(head): _check_label_list(field, head, labels) for head, labels in heads.items()}


def _label_schema(given: dict[str, Any]) -> dict[str, Any]:
    """The label schema of `AttentionFusionConfig(**given)`, checked (the label reference's where unset)."""
    case_heads, qa_heads, sub_to_main = given["case_heads"], given["qa_heads"], given["sub_to_main"]
    return {
        "ner_entity_types": _check_label_list("ner_entity_types", "", given["ner_entity_types"] or NER_ENTITY_TYPES),
        "case_heads": _check_heads("case_heads", case_heads if case_heads is not None else CASE_HEADS),
        "qa_heads": _check_heads("qa_heads", qa_heads if qa_heads is not None else QA_HEADS),
        "sub_to_main": dict(sub_to_main if sub_to_main is not None else SUB_TO_MAIN_CATEGORY),
        "tasks": _check_tasks(given["tasks"]),
    }


def _architecture(given: dict[str, Any]) -> dict[str, Any]:
    """The heads, pooling, speaker turns and windows, checked."""
    if not 0.0 <= float(given["classifier_dropout"]) < 1.0:
        raise ValueError(f"classifier_dropout: {given['classifier_dropout']!r} is not in [0, 1)")
    _check_choice("ner_head", "NER head", given["ner_head"], NER_HEAD_CHOICES)
    _check_choice("qa_pooling", "quality pooling", given["qa_pooling"], QA_POOLING_CHOICES)
    speaker_pattern, speaker_roles = _check_speakers(given["speaker_pattern"], given["speaker_roles"])
    window_length, window_stride = _check_window(given["window_length"], given["window_stride"])
    return {
        "pooling": _check_pooling(given["pooling"]), "classifier_dropout": float(given["classifier_dropout"]),
        "ner_head": given["ner_head"], "ner_label_all_subwords": bool(given["ner_label_all_subwords"]),
        "pool_layer_norm": bool(given["pool_layer_norm"]), "pool_layer_mix": bool(given["pool_layer_mix"]),
        "pool_per_head": bool(given["pool_per_head"]), "qa_pooling": given["qa_pooling"],
        "qa_state_layer": _check_state_layer(given["qa_state_layer"], bool(given["pool_layer_mix"])),
        "speaker_pattern": speaker_pattern, "speaker_roles": speaker_roles,
        "window_length": window_length, "window_stride": window_stride,
    }  # fmt: skip


def _training_losses(given: dict[str, Any], case_heads: dict[str, list[str]]) -> dict[str, Any]:
    """The loss weights, class weights and class priors, checked against the schema's case heads."""
    return {
        "task_loss_weights": _check_loss_weights(given["task_loss_weights"]),
        "case_class_weights": _check_class_weights(given["case_class_weights"], case_heads),
        "case_prior_correction": bool(given["case_prior_correction"]),
        "case_class_priors": _check_class_weights(given["case_class_priors"], case_heads, "case_class_priors"),
        "case_prior_mix": _check_prior_mix(given["case_prior_mix"], case_heads),
    }


def _decisions(given: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """The decision rules, checked (they read the schema's heads and the architecture's `qa_pooling`; temperatures and
    thresholds are fitted on validation data after training)."""
    _check_choice("critical_rule", "critical rule", given["critical_rule"], CRITICAL_RULE_CHOICES)
    case_heads, qa_heads = fields["case_heads"], fields["qa_heads"]
    return {
        "qa_thresholds": _check_qa_thresholds(given["qa_thresholds"], qa_heads),
        "qa_window_scope": _check_window_scope(given["qa_window_scope"], qa_heads, fields["qa_pooling"]),
        "critical_priority": _check_critical_priority(given["critical_priority"], case_heads),
        "critical_threshold": float(given["critical_threshold"]), "critical_rule": given["critical_rule"],
        "review_threshold": float(given["review_threshold"]),
        "temperatures": _check_temperatures(given["temperatures"], {"cls": case_heads, "qa": qa_heads}),
        "review_thresholds": {str(k): float(v) for k, v in (given["review_thresholds"] or {}).items()},
        "evidence_top_k": _check_evidence_top_k(given["evidence_top_k"]),
    }  # fmt: skip


class AttentionFusionConfig(PretrainedConfig):
    r"""Configuration of [`AttentionFusionModel`]: a shared encoder, a NER head, four case heads and
    six call-quality heads, with one learned attention pooling per sentence-level task.

    `AttentionFusionConfig()` alone describes the helpline model of the label reference. Tasks are named by their
    ids `ner`, `cls` (the case: `case_heads`, `case_class_weights`) and `qa` (call quality: `qa_heads`,
    `qa_thresholds`); the one mapping of ids, result words and fields is in `labels_attention_fusion.py`.

    Args:
        encoder_config (`dict` or `PretrainedConfig`, *optional*):
            Config of the shared encoder (any Hugging Face encoder: DistilBERT, BERT/MiniLM, RoBERTa,
            DeBERTa...). Defaults to `distilbert-base-cased`'s architecture (random weights).
        ner_entity_types (`list[str]`): entity types; the BIO tag list `ner_labels` derives from them.
        case_heads (`dict[str, list[str]]`): label list per case head (`main_category`, `sub_category`,
            `intervention`, `priority`).
        qa_heads (`dict[str, list[str]]`): ordered sub-metric names per call-quality head.
        sub_to_main (`dict[str, str]`): sub-category → main category table.
        pooling (`str` or `dict[str, str]`): `"attention"`, `"cls"` or `"mean"`, for both sentence-level
            tasks or per task (`{"cls": ..., "qa": ...}`).
        classifier_dropout (`float`): dropout of every head.
        task_loss_weights (`dict[str, float]`): weight of each task's loss.
        tasks (`list[str]`): the tasks this model is trained for (all three, or one for a baseline).
        qa_thresholds (`dict[str, list[float]]`): decision threshold per quality sub-metric.
        qa_window_scope (`dict[str, str]`, *optional*): which windows of a call decide a quality head: `"first"`
            (the call's first window alone), `"last"` or `"all"` (the confidence-weighted mean of every window, the
            rule of a head not listed): the opening can only be seen in a call's first window and the closing in
            its last, and the mean let the other windows outvote them. Training is unchanged (every window learns
            its call's labels: masking the others helped the opening and hurt the closing, docs/results.md).
            Unset: with `qa_pooling: "turns"` `{"opening": "first", "closing": "last"}` for those of the heads the
            model has, with token pooling `{}` (all windows: its closing head lost on the last window alone).
        critical_priority (`str`): the priority label meaning "critical".
        critical_threshold (`float`): a window whose critical probability reaches this raises the call's critical
            alert (`case.priority.critical_alert`).
        critical_rule (`str`): what the critical alert does to the priority label. `"alert"` (the default): nothing;
            the label is the head's own decision and the alert stands beside it, so the label is the best guess at
            the priority and the alert a high-recall screen a case worker checks. `"override"`: the alert makes the
            label critical (the earlier rule: with a threshold fitted for 90% recall it labelled 40% of calls
            critical, below the majority answer's accuracy).
        review_threshold (`float`): a case decision below this confidence flags the call for review.
        window_length (`int`), window_stride (`int`): the window and its overlap (tokens) for long transcripts.
        ner_head (`str`): `"linear"` (one linear layer over the encoder's hidden states, as
            `AutoModelForTokenClassification`) or `"mlp"` (Linear-GELU-Dropout-Linear).
        ner_label_all_subwords (`bool`): train every sub-word of a word (`B-X` on the first, `I-X` on the rest)
            instead of the first sub-word only; words are always read from their first sub-word.
        pool_layer_norm (`bool`): a LayerNorm (per sentence-level task) on the encoder's token states before the
            pooling and the heads. Encoders differ by an order of magnitude in the scale of their output (MiniLM's
            per-dimension spread is about 0.08), and a freshly initialised linear head learns in proportion to it;
            normalised states give every encoder's heads the same footing at the same learning rate.
        pool_layer_mix (`bool`): the case and quality heads read a learned softmax-weighted mix of every encoder
            layer's token states (the embeddings included) instead of the last layer's only; the NER head keeps
            the last layer. Meant for the fused model, where NER reshapes the top layer to its tags; off by
            default because with MiniLM over one epoch it did not help (README, fused recipe rows).
        pool_per_head (`bool`): with attention pooling, each case head and each quality sub-metric reads its own
            learned attention pooling (one token-score vector each) instead of one pooling shared by the task's
            heads: the evidence of a call's sub-metrics sits in different sentences.
        qa_pooling (`str`): what the quality heads pool over. `"tokens"` (the default): the window's tokens, as the
            case heads do. `"turns"`: the counsellor's turns (speaker-aware quality: a sub-metric is about what the
            counsellor did): each turn's vector is the mean of its token states (the same encoder pass), and each
            sub-metric reads its own learned attention over the turns next to the max over them, then its linear
            layer. Turns come from `speaker_pattern` / `speaker_roles` (a window of a transcript without speaker
            labels is one turn); `pooling["qa"]` and `pool_per_head` do not apply to the quality heads then.
        qa_state_layer (`int`, *optional*): the quality heads read the token states of this encoder layer (0: the
            embeddings, the number of layers: the last) instead of the last layer's. With the layers up to it
            frozen in training (`freeze_encoder_layers`), they read what the pretrained encoder knows about
            paraphrase, untouched by the NER and case steps, from the same single encoder pass. Unset: the last.
        speaker_pattern (`str`, *optional*): the regex of a speaker label at a line start (a named group `speaker`
            or exactly one group); unset: `Counsellor:`, `Caller:`, `Agent:`, `Client:` ... (the speakers module's
            `DEFAULT_SPEAKER_PATTERN`). Read with `qa_pooling: "turns"` only.
        speaker_roles (`dict[str, str]`, *optional*): speaker name (lower case) -> `"counsellor"`, `"caller"` or
            `"other"`; unset: `DEFAULT_SPEAKER_ROLES`. Read with `qa_pooling: "turns"` only.
        case_class_weights (`dict[str, list[float]]`): per case head, a weight per class for its cross-entropy
            (e.g. inverse class frequency for `priority`, so the rare critical calls count).
        case_prior_correction (`bool`): undo `case_class_weights` in the decisions: a head trained with class
            weights `w` learns probabilities tilted by `w` (rare classes inflated), so its scores are computed as
            `softmax(logits / T - log w)` (post-hoc logit adjustment, Menon et al. 2021), which restores the
            data's own class frequencies. Training sets it with the class weights it derives (`balance_priority`).
        case_class_priors (`dict[str, list[float]]`): per case head, its class frequencies over the training records
            (smoothed), set by training.
        case_prior_mix (`dict[str, float]`): per case head, the share `a` of the model in its scores:
            `a x p_model + (1 - a) x priors`, fitted on validation data after training (by likelihood, like the
            temperatures). A head that knows little about its labels (intervention: Counselling or Referral from a
            narrative) gets a small share, and its decision falls back to the frequent class unless the model is
            sure; 1 (absent) leaves the scores as they are.
        temperatures (`dict[str, dict[str, float]]`): `{"cls": {head: T}, "qa": {head: T}}`, logits are divided
            by `T` before the softmax / sigmoid (fitted on validation data so scores are calibrated); 1 if absent.
        review_thresholds (`dict[str, float]`): per decision group (`"case.<head>"`, `"quality.<head>"`), the
            confidence below which a call needs review; `review_threshold` for groups not listed.
        evidence_top_k (`int`): the most evidence spans `predict(..., evidence=True)` gives per decision.

    Example:
        >>> from transformers import BertConfig
        >>> config = AttentionFusionConfig(encoder_config=BertConfig(hidden_size=32, num_hidden_layers=2,
        ...                                num_attention_heads=4, intermediate_size=37))
        >>> config.ner_labels[:3]
        ['O', 'B-NAME', 'I-NAME']
    """

    model_type = "helpline_attention_fusion"
    sub_configs = {"encoder_config": AutoConfig}

    def __init__(
        self,
        encoder_config: dict | PretrainedConfig | None = None,
        ner_entity_types: list[str] | None = None,
        case_heads: dict[str, list[str]] | None = None,
        qa_heads: dict[str, list[str]] | None = None,
        sub_to_main: dict[str, str] | None = None,
        pooling: str | dict[str, str] = "attention",
        classifier_dropout: float = 0.1,
        task_loss_weights: dict[str, float] | None = None,
        tasks: list[str] | None = None,
        qa_thresholds: dict[str, list[float]] | None = None,
        qa_window_scope: dict[str, str] | None = None,
        critical_priority: str = "1",
        critical_threshold: float = 0.5,
        critical_rule: str = "alert",
        review_threshold: float = 0.5,
        window_length: int = 512,
        window_stride: int = 128,
        ner_head: str = "linear",
        ner_label_all_subwords: bool = True,
        pool_layer_norm: bool = True,
        pool_layer_mix: bool = False,
        pool_per_head: bool = False,
        qa_pooling: str = "tokens",
        qa_state_layer: int | None = None,
        speaker_pattern: str | None = None,
        speaker_roles: dict[str, str] | None = None,
        case_class_weights: dict[str, list[float]] | None = None,
        case_prior_correction: bool = False,
        case_class_priors: dict[str, list[float]] | None = None,
        case_prior_mix: dict[str, float] | None = None,
        temperatures: dict[str, dict[str, float]] | None = None,
        review_thresholds: dict[str, float] | None = None,
        evidence_top_k: int = 3,
        **kwargs: Any,
    ) -> None:
        self.encoder_config = self._build_encoder_config(encoder_config)
        given = {name: value for name, value in locals().items() if name not in ("self", "kwargs", "__class__")}
        fields = _label_schema(given)  # each group checks its own fields; the later ones read the schema's heads
        fields.update(_architecture(given))
        fields.update(_training_losses(given, fields["case_heads"]))
        fields.update(_decisions(given, fields))
        for name, value in fields.items():
            setattr(self, name, value)
        kwargs.setdefault("custom_pipelines", copy.deepcopy(CUSTOM_PIPELINES))

        # The token-level head is a classic token classifier: keep the top-level id2label for it.
        kwargs.pop("id2label", None)
        kwargs.pop("label2id", None)
        kwargs.pop("num_labels", None)
        super().__init__(**kwargs)
        self.id2label = dict(enumerate(self.ner_labels))
        self.label2id = {label: i for i, label in enumerate(self.ner_labels)}

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _build_encoder_config(encoder_config: dict | PretrainedConfig | None) -> PretrainedConfig:
        if encoder_config is None:
            # distilbert-base-cased's architecture; weights come from `from_encoder_pretrained`.
            return AutoConfig.for_model("distilbert", vocab_size=28996)
        if isinstance(encoder_config, PretrainedConfig):
            return copy.deepcopy(encoder_config)
        if isinstance(encoder_config, dict):
            encoder_config = dict(encoder_config)
            model_type = encoder_config.pop("model_type", None)
            if model_type is None:
                raise ValueError("encoder_config: the dict has no 'model_type'; expected e.g. 'bert' or 'distilbert'")
            return AutoConfig.for_model(model_type, **encoder_config)
        raise ValueError(f"encoder_config: expected a dict or a PretrainedConfig, got {type(encoder_config).__name__}")

    @property
    def ner_labels(self) -> list[str]:
        """The BIO tag list derived from `ner_entity_types`."""
        return bio_tags(self.ner_entity_types)

    def head_temperature(self, task: str, head: str) -> float:
        """The calibration temperature of one case (`"cls"`) or quality (`"qa"`) head (1 when not fitted)."""
        return float(self.temperatures.get(task, {}).get(head, 1.0))

    def case_logit_offset(self, head: str) -> list[float] | None:
        """The offsets added to a case head's tempered logits before the softmax: `-log w` of its class weights
        (centred) under `case_prior_correction`, else None."""
        weights = self.case_class_weights.get(head) if self.case_prior_correction else None
        if not weights:
            return None
        logs = [math.log(max(float(w), 1e-12)) for w in weights]
        mean = sum(logs) / len(logs)
        return [mean - value for value in logs]

    def case_prior_of(self, head: str, mix: float | None = None) -> tuple[float, list[float]] | None:
        """`(share, priors)` of a case head whose scores are mixed with its training class frequencies
        (`case_prior_mix`, or `mix`), None where they are not (no priors, or a share of 1)."""
        share = self.case_prior_mix.get(head, 1.0) if mix is None else float(mix)
        priors = self.case_class_priors.get(head)
        return (share, priors) if priors and share < 1.0 else None

    def review_threshold_of(self, group: str) -> float:
        """Confidence below which a decision of `group` (`"case.priority"`, `"quality.closing"`) needs review."""
        return float(self.review_thresholds.get(group, self.review_threshold))

    def main_category_of(self, sub_category: str) -> str:
        """Main category of a sub-category by the config's table (`Unknown` when absent)."""
        return self.sub_to_main.get(sub_category, UNKNOWN_CATEGORY)

    def label_maps(self) -> dict[str, Any]:
        """Every label map of the model, as written to `label_maps.json`."""
        return {
            "ner": {"entity_types": self.ner_entity_types, "tags": self.ner_labels},
            "case": dict(self.case_heads),
            "qa": dict(self.qa_heads),
            "sub_to_main": dict(self.sub_to_main),
            "priority_critical": self.critical_priority,
        }

    def to_dict(self) -> dict[str, Any]:
        output = super().to_dict()
        encoder = self.encoder_config
        if isinstance(encoder, PretrainedConfig):
            # to_diff_dict keeps config.json small and portable; a local path must never leak.
            encoder_dict = encoder.to_diff_dict()
            encoder_dict["model_type"] = encoder.model_type
            for key in ("_name_or_path", "id2label", "label2id", "transformers_version", "architectures"):
                encoder_dict.pop(key, None)
            output["encoder_config"] = encoder_dict
        return output


__all__ = ["CUSTOM_PIPELINES", "PIPELINE_TASK", "QA_POOLING_CHOICES", "AttentionFusionConfig", "bio_tags"]
