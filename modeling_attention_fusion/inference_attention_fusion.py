"""Prediction with the attention-fusion model: all three tasks from one encoder pass per window.

Ships to the Hub with the model (imports only torch, transformers, the standard library and its siblings).
Training's evaluation (`train/evaluation.py`) decides through the same functions (`run_windows`,
`pick_most_central`, `decide_cls`, `decide_qa`, `window_settings`), so checkpoints are selected on the rule
the model ships with.

How a transcript becomes a result:

1. **Windows.** The fast tokenizer cuts the transcript into overlapping windows (`return_overflowing_tokens`,
   `window_length` tokens each including the special tokens, `window_stride` tokens shared by neighbours).
2. **One pass.** Windows of all transcripts are sorted by length and batched with dynamic padding; each batch runs
   the encoder once with `task=None`, which reads the NER, case and quality heads from the same hidden states.
3. **Tokens.** The windows of a transcript are laid back onto one token sequence (aligned by character offsets).
   A token seen by several windows takes the prediction of the window where it is *most central* (largest
   distance to the nearer window edge; ties go to the earlier window), so overlaps never duplicate or cut a span.
4. **Entities.** A word's tag is the tag of its first sub-word (the one every training scheme labels). BIO rule:
   `B-X` starts an entity; `I-X` continues the open entity only if it is of type `X`; an `I-X` after `O`, at the
   start, or after an entity of another type starts a new `X` entity; `O` closes. Offsets come from the offset
   mapping, so `text == transcript[start:end]`; the score is the mean tag probability of the entity's words.
5. **Case and quality.** Per-window probabilities are averaged with weight `confidence x content tokens`
   (confidence = the window's top probability for a case head, mean `max(p, 1 - p)` for a quality head).
6. **Priority, safety first.** If *any* window's probability of `config.critical_priority` reaches
   `config.critical_threshold` (or the priority decided is critical), the call's `critical_alert` is raised,
   whatever the average says. Under `config.critical_rule == "alert"` (the default) the priority label stays the
   head's own decision beside the alert (the label is the best guess, the alert a high-recall screen); under
   `"override"` the alert makes the label critical. With `config.case_prior_correction`, a head trained with class
   weights `w` is scored as `softmax(logits / T - log w)`, undoing the tilt the weights gave it (step 8).
7. **Main and sub-category, one decision.** With a `config.sub_to_main` table, the pair is chosen jointly: the
   sub-category maximising `p(sub) x p(main of sub)`, and its main category, so the two always agree.
8. **Calibrated scores.** Each case and quality head's logits are divided by its fitted temperature
   (`config.temperatures`, set on validation data after training) before the softmax or sigmoid; a case head's
   prior correction (`config.case_logit_offset`) is added after the division, and its scores are mixed with the
   head's training class frequencies by the fitted share (`config.case_prior_mix`): a head that knows little falls
   back to the frequent class unless it is sure.
9. **Review.** `needs_review` lists every case decision below its group's threshold
   (`config.review_threshold_of("case.<head>")`, fitted so that a set share of calls is flagged), every quality
   decision whose confidence `max(p, 1 - p)` is below `review_threshold_of("quality.<head>")`, and a main
   category that disagrees with the sub-category's main category in `config.sub_to_main`.
10. **Evidence** (`predict(..., evidence=True)` only). Each case decision and quality sub-metric reads its own
   attention pooling (`pool_per_head`; otherwise the task's heads share one). A word's weight is the sum over windows
   of the window's share of the decision (the weights of step 5; for a priority made critical by step 6, the peak
   window alone) times the pooling weight of the word's tokens; the heaviest words, grown into spans of whole
   neighbouring words, are the decision's `evidence` (`[{start, end, text, weight}]`, at most
   `config.evidence_top_k`). `cls` / `mean` pooling has no learned weights: no evidence, and a reason instead.
   Quality heads that pool over counsellor turns (`qa_pooling: "turns"`) spread each turn's attention weight
   evenly over the turn's tokens, so their evidence is the words of the turns they attended to.
11. **Turns** (`qa_pooling: "turns"` only). Each window carries the counsellor turn of each token
   (`speakers_attention_fusion.window_turn_ids`, the rule training's tokenisation uses too), -1 elsewhere; each
   batch's `turn_ids` (padded with -1) go to the model, and to an exported graph (`ExportedFusionModel`, ONNX
   Runtime or OpenVINO) as its third input (`graph_input_names`), so both backends decide alike.
"""

from __future__ import annotations

import bisect
import functools
import logging
import re
import warnings
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from .labels_attention_fusion import TASK_INFO
from .speakers_attention_fusion import find_turns, quality_speakers, window_turn_ids

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- precision
PRECISIONS = ("auto", "fp32", "bf16", "int8")
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni", "avx_vnni", "amx_int8")
_TORCH_CPU_CHECKS = {"avx2": "_is_avx2_supported", "avx512f": "_is_avx512_supported",
                     "avx512_bf16": "_is_avx512_bf16_supported", "amx_bf16": "_is_amx_tile_supported",
                     "avx512_vnni": "_is_vnni_supported", "amx_int8": "_is_amx_tile_supported"}  # fmt: skip


@functools.lru_cache(maxsize=1)
def cpu_flags() -> dict[str, bool]:
    """This CPU's flags that decide precision (`CPU_FLAGS`): from `/proc/cpuinfo` on Linux, else from PyTorch's
    own CPU checks (`torch.cpu._is_*_supported`; `avx_vnni` is then unknown, reported False)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    found = set(line.split(":", 1)[1].split())
                    return {name: name in found for name in CPU_FLAGS}
    except OSError:
        pass
    return {name: bool(getattr(torch.cpu, _TORCH_CPU_CHECKS.get(name, ""), lambda: False)()) for name in CPU_FLAGS}


def native_bf16(device: torch.device | str = "cpu") -> bool:
    """Whether `device` computes bfloat16 natively: a CPU with AVX-512 BF16 or AMX, a GPU that supports bf16.
    Elsewhere PyTorch emulates bf16 (about 20x slower than fp32 on an AVX2-only CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    flags = cpu_flags()
    return flags["avx512_bf16"] or flags["amx_bf16"]


def native_int8() -> bool:
    """Whether this CPU has int8 dot-product instructions (AVX-512 VNNI, AVX-VNNI or AMX): where int8 pays."""
    flags = cpu_flags()
    return flags["avx512_vnni"] or flags["avx_vnni"] or flags["amx_int8"]


def resolve_precision(precision: str | None, device: torch.device | str = "cpu", bf16: bool | None = None) -> str:
    """The precision to run at: `fp32` or `bf16` (or `int8`, which only an exported int8 model runs).

    `auto` picks bf16 where `device` computes it natively ([`native_bf16`]) and fp32 elsewhere, and logs the choice;
    an explicit `bf16` on a CPU without native bf16 runs, with a warning that it is emulated. `bf16=True/False` is
    the deprecated spelling of `precision="bf16"` / `"fp32"`.

    Raises:
        ValueError: an unknown precision, or `bf16` given together with a different precision.
    """
    if bf16 is not None:
        spelled = "bf16" if bf16 else "fp32"
        warnings.warn(f"bf16={bool(bf16)} is deprecated; use precision={spelled!r}", FutureWarning, stacklevel=3)
        if precision not in (None, spelled):
            raise ValueError(f"precision: {precision!r} contradicts bf16={bool(bf16)}; give precision only")
        precision = spelled
    precision = "fp32" if precision is None else precision
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {list(PRECISIONS)}, got {precision!r}")
    device = torch.device(device)
    if precision == "auto":
        precision = "bf16" if native_bf16(device) else "fp32"
        flags = ", ".join(name for name, present in cpu_flags().items() if present) if device.type == "cpu" else ""
        logger.info("precision auto: %s on %s (%s)", precision, device.type, flags or "no relevant CPU flags")
    elif precision == "bf16" and device.type == "cpu" and not native_bf16(device):
        logger.warning(
            "precision bf16: this CPU has no native bfloat16 (AVX-512 BF16 or AMX); PyTorch emulates it, about 20x "
            "slower than fp32 here (use precision 'auto' or 'fp32')"
        )
    return precision


# --------------------------------------------------------------------------- windows
@dataclass
class Window:
    """One encoder input: a slice of one transcript's tokens, with their character offsets."""

    sample: int  # index of the transcript in the batch of texts
    input_ids: list[int]
    content: list[int]  # positions (in input_ids) of the transcript's tokens, special tokens excluded
    offsets: list[tuple[int, int]]  # character span of each content token
    word_ids: list[int | None]  # word index of each content token
    # With quality pooling over turns: each token's counsellor turn in this window, -1 elsewhere (over input_ids).
    turn_ids: list[int] | None = None


@dataclass
class WindowPrediction:
    """Probabilities read from one window (on CPU, float32)."""

    ner: torch.Tensor | None = None  # (n_content, num_tags)
    cls: dict[str, torch.Tensor] = field(default_factory=dict)  # head -> (num_classes,)
    qa: dict[str, torch.Tensor] = field(default_factory=dict)  # head -> (num_sub_metrics,)
    # The raw logits of the case and quality heads (before the temperatures), for calibration.
    cls_logits: dict[str, torch.Tensor] = field(default_factory=dict)
    qa_logits: dict[str, torch.Tensor] = field(default_factory=dict)
    # With evidence asked for: the pooling weights each decision read, over the window's content tokens,
    # `{task: {head: (n, n_content)}}` (`n` = 1, or a quality head's sub-metrics when each has its own pooling).
    pooling: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


def _config_int(config: Any, names: tuple[str, ...], default: int) -> int:
    for name in names:
        try:
            value = getattr(config, name, None)
        except AttributeError:  # transformers 5 configs raise on some unset generation attributes
            value = None
        if value is not None:
            return int(value)
    return default


def window_settings(
    config: Any, tokenizer: PreTrainedTokenizerBase, window_length: int | None = None, window_stride: int | None = None
) -> tuple[int, int]:
    """Window length and stride, the one rule for training data, evaluation and `predict`.

    Explicit values win, else the config's `window_length` / `window_stride` (`max_length` / `stride` on other
    config-like objects), else 512 / 128. A length beyond what the encoder (`config.encoder_config`) or the
    tokenizer accepts is an error when explicit, and clamped with a warning when it comes from the config.

    Raises:
        ValueError: the tokenizer is not fast (offsets and word ids need one), or a value does not fit.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"{type(tokenizer).__name__} is not a fast tokenizer; offset mappings and word ids need one "
            "(load it with AutoTokenizer.from_pretrained(..., use_fast=True))"
        )
    encoder_config = getattr(config, "encoder_config", None)
    limits = [getattr(encoder_config, "max_position_embeddings", None)]
    if getattr(encoder_config, "model_type", "") in {"roberta", "xlm-roberta", "camembert"}:
        limits = [limit - 2 for limit in limits if limit]  # RoBERTa-style position ids start after the pad id
    model_max = getattr(tokenizer, "model_max_length", None)
    limits.append(model_max if isinstance(model_max, int) and model_max < 100_000 else None)
    limit = min((value for value in limits if value), default=None)

    length = _config_int(config, ("window_length", "max_length"), 512) if window_length is None else int(window_length)
    if limit is not None and length > limit:
        if window_length is not None:
            raise ValueError(f"window_length: {length} tokens exceed what this encoder/tokenizer accepts ({limit})")
        logger.warning("config.window_length=%d exceeds the encoder's %d positions; using %d", length, limit, limit)
        length = limit
    stride = _config_int(config, ("window_stride", "stride"), 128) if window_stride is None else int(window_stride)
    specials = tokenizer.num_special_tokens_to_add(pair=False)
    room = length - specials
    if room < 1:
        raise ValueError(f"window_length: {length} leaves no room for text after {specials} special tokens")
    if not 0 <= stride < room:
        raise ValueError(
            f"window_stride: {stride} must be in [0, {room}) (window_length {length} minus "
            f"{specials} special tokens); it is the number of tokens neighbouring windows share"
        )
    return length, stride


def encode_windows(
    texts: Sequence[str],
    tokenizer: PreTrainedTokenizerBase,
    window_length: int,
    window_stride: int,
    speakers: tuple[str, dict[str, str]] | None = None,
) -> list[Window]:
    """Cut every text into overlapping windows with the fast tokenizer (offsets into the original text).

    `speakers` (`(speaker_pattern, speaker_roles)`, see `speakers_attention_fusion.quality_speakers`): also give each
    window its counsellor turns (`Window.turn_ids`), for quality heads that pool over turns."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"tokenizer: a fast tokenizer is needed for character offsets, got {type(tokenizer).__name__}; "
            "load it with AutoTokenizer.from_pretrained(..., use_fast=True)"
        )
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"texts[{index}]: expected a string transcript, found {type(text).__name__}")
    encoded = tokenizer(
        list(texts),
        truncation=True,
        max_length=window_length,
        stride=window_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        padding=False,
    )
    turns = [find_turns(text, *speakers) for text in texts] if speakers is not None else None
    windows = []
    for i, sample in enumerate(encoded["overflow_to_sample_mapping"]):
        special = encoded["special_tokens_mask"][i]
        offsets = encoded["offset_mapping"][i]
        word_ids = encoded.word_ids(i)
        content = [p for p, is_special in enumerate(special) if not is_special]
        windows.append(
            Window(
                sample=int(sample),
                input_ids=list(encoded["input_ids"][i]),
                content=content,
                offsets=[tuple(offsets[p]) for p in content],
                word_ids=[word_ids[p] for p in content],
                turn_ids=window_turn_ids(offsets, turns[int(sample)]) if turns is not None else None,
            )
        )
    return windows


# --------------------------------------------------------------------------- the encoder passes
def _batch_inputs(
    batch: Sequence[Window], pad_token_id: int, pad_to_multiple_of: int | None, window_length: int | None
) -> dict[str, torch.Tensor]:
    """The padded `input_ids`, `attention_mask` (and `turn_ids` where a window has turns) of one batch: padded to
    its longest window rounded up to `pad_to_multiple_of`, never beyond `window_length`."""
    width = max(len(w.input_ids) for w in batch)
    if pad_to_multiple_of:
        width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
        width = min(width, window_length) if window_length else width
    input_ids = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, window in enumerate(batch):
        input_ids[row, : len(window.input_ids)] = torch.tensor(window.input_ids, dtype=torch.long)
        attention_mask[row, : len(window.input_ids)] = 1
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if any(w.turn_ids is not None for w in batch):  # quality pooling over turns
        turn_ids = torch.full((len(batch), width), -1, dtype=torch.long)
        for row, window in enumerate(batch):
            own = window.turn_ids or [-1] * len(window.input_ids)
            turn_ids[row, : len(own)] = torch.tensor(own, dtype=torch.long)
        inputs["turn_ids"] = turn_ids
    return inputs


def _window_predictions(
    output: Any, batch: Sequence[Window], config: Any, pooling_weights: bool
) -> list[WindowPrediction]:
    """One [`WindowPrediction`] per window of a batch from the model's `output`: NER probabilities of the content
    tokens, case and quality probabilities as `predict` decides on them, the raw logits, the pooling weights."""
    head_weights = (output.head_pooling_weights or {}) if pooling_weights else {}
    ner_probs = output.ner_logits.float().softmax(-1).cpu() if output.ner_logits is not None else None
    cls_logits = {head: logits.float().cpu() for head, logits in (output.cls_logits or {}).items()}
    qa_logits = {head: logits.float().cpu() for head, logits in (output.qa_logits or {}).items()}
    cls_probs = {head: case_probabilities(v, config, head) for head, v in cls_logits.items()}
    qa_probs = {head: apply_temperature(v, config.head_temperature("qa", head), binary=True) for head, v in qa_logits.items()}
    return [
        WindowPrediction(
            ner=ner_probs[row, window.content] if ner_probs is not None else None,
            cls={head: probs[row] for head, probs in cls_probs.items()},
            qa={head: probs[row] for head, probs in qa_probs.items()},
            cls_logits={head: logits[row] for head, logits in cls_logits.items()},
            qa_logits={head: logits[row] for head, logits in qa_logits.items()},
            pooling={
                name: {head: w[row][:, window.content].float().cpu() for head, w in heads.items()}
                for name, heads in head_weights.items()
            },
        )
        for row, window in enumerate(batch)
    ]


def run_windows(
    model: torch.nn.Module,
    windows: Sequence[Window],
    pad_token_id: int,
    batch_size: int = 8,
    bf16: bool = False,
    pad_to_multiple_of: int | None = 8,
    window_length: int | None = None,
    task: str | None = None,
    show_progress: bool = False,
    pooling_weights: bool = False,
) -> list[WindowPrediction]:
    """Run the model over `windows` in batches; returns one [`WindowPrediction`] per window, in input order.

    Windows are batched longest first (similar lengths share a batch; memory peaks at the start), padded to the
    batch's longest window rounded up to `pad_to_multiple_of` (never beyond `window_length`). `task=None` reads
    every task from one encoder pass; `"ner"`, `"cls"` or `"qa"` reads one (evaluation on one task's data).
    `pooling_weights=True` also keeps each decision's pooling weights (`WindowPrediction.pooling`, for evidence).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive number of windows per batch, got {batch_size}")
    order = sorted(range(len(windows)), key=lambda index: -len(windows[index].input_ids))  # stable: ties keep order
    device = next(model.parameters()).device
    config = model.config
    results: list[WindowPrediction | None] = [None] * len(windows)
    progress = hf_logging.tqdm(total=len(windows), desc="windows", unit="win", disable=not show_progress)
    # The autocast weight cache casts each weight to bf16 once per call instead of once per batch: 19 -> 24
    # transcripts/s on an AMX Xeon (docs/performance.md), for a bf16 copy of the weights (half the fp32 model's
    # size) held while this call runs and freed when it returns.
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16, cache_enabled=True)
    extra = {"output_pooling_weights": True} if pooling_weights else {}  # the default call stays as it was
    with torch.inference_mode(), autocast:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            inputs = _batch_inputs([windows[i] for i in batch], pad_token_id, pad_to_multiple_of, window_length)
            output = model(**{name: value.to(device) for name, value in inputs.items()}, task=task, **extra)
            for index, prediction in zip(batch, _window_predictions(output, [windows[i] for i in batch], config,
                                                                    pooling_weights)):  # fmt: skip
                results[index] = prediction
            progress.update(len(batch))
    progress.close()
    return results  # type: ignore[return-value]


# --------------------------------------------------------------------------- tokens and entities
def pick_most_central(candidates: Iterable[tuple[Hashable, int, int, Any]]) -> dict[Hashable, Any]:
    """The one rule for what a window contributes where windows overlap: per key, the value seen where the key's
    token is most central in its window (largest `min(position, length - 1 - position)` over the window's
    `length` content tokens); ties go to the earliest candidate (the earlier window).

    `candidates`: `(key, position, length, value)` in window order. `predict` keys transcript tokens;
    evaluation keys words (by their first sub-word), so both score a word from the same window.

    Example:
        >>> pick_most_central([("w", 3, 4, "window 0"), ("w", 1, 4, "window 1"), ("v", 0, 4, "window 1")])
        {'w': 'window 1', 'v': 'window 1'}
    """
    best: dict[Hashable, tuple[int, Any]] = {}
    for key, position, length, value in candidates:
        centrality = min(position, length - 1 - position)
        if key not in best or centrality > best[key][0]:
            best[key] = (centrality, value)
    return {key: value for key, (_, value) in best.items()}


def _align(known: list[tuple[int, int]], search_from: int, offsets: list[tuple[int, int]]) -> int:
    """Index in `known` where a window starting with `offsets` begins: the largest overlap with the tail."""
    for start in range(max(search_from, len(known) - len(offsets)), len(known)):
        if known[start] == offsets[0] and known[start:] == offsets[: len(known) - start]:
            return start
    return len(known)


@dataclass
class MergedTokens:
    """A transcript's tokens laid back onto one sequence (numpy arrays of one length, one entry per token):
    character `starts` / `ends`, `word_ids` (-1 for none), the chosen window's best tag id (`tags`) and its
    probability (`scores`, float32)."""

    starts: np.ndarray
    ends: np.ndarray
    word_ids: np.ndarray
    tags: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)

    @classmethod
    def from_tokens(cls, tokens: Sequence[tuple[tuple[int, int], int | None, Any]]) -> MergedTokens:
        """From `(char offsets, word id, tag probabilities)` per token (the earlier list form)."""
        if not tokens:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, empty, empty, empty, np.zeros(0, dtype=np.float32))
        probs = np.stack([np.asarray(p, dtype=np.float32) for _, _, p in tokens])
        offsets = np.asarray([o for o, _, _ in tokens], dtype=np.int64).reshape(-1, 2)
        words = np.asarray([-1 if w is None else w for _, w, _ in tokens], dtype=np.int64)
        return cls(offsets[:, 0], offsets[:, 1], words, probs.argmax(-1), probs.max(-1))


def merge_window_tokens(windows: Sequence[Window], predictions: Sequence[WindowPrediction]) -> MergedTokens:
    """The transcript's tokens with, for each, the best tag and its probability from the window where the token is
    most central (the rule of [`pick_most_central`], over whole windows at once: ties go to the earlier window)."""
    offsets: list[tuple[int, int]] = []
    word_ids: list[int | None] = []
    placed = []  # (first transcript token, tag ids, tag probabilities) per window
    start = 0
    for window, prediction in zip(windows, predictions):
        start = _align(offsets, start, window.offsets)
        offsets.extend(window.offsets[len(offsets) - start :])
        word_ids.extend(window.word_ids[len(word_ids) - start :])
        probs = prediction.ner.numpy() if isinstance(prediction.ner, torch.Tensor) else np.asarray(prediction.ner)
        placed.append((start, probs.argmax(-1), probs.max(-1)))
    n = len(offsets)
    tags, scores = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.float32)
    best = np.full(n, -1, dtype=np.int64)
    for first, window_tags, window_scores in placed:
        length = len(window_tags)
        positions = np.arange(length)
        centrality = np.minimum(positions, length - 1 - positions)
        span = slice(first, first + length)
        better = centrality > best[span]
        best[span][better] = centrality[better]
        tags[span][better] = window_tags[better]
        scores[span][better] = window_scores[better]
    bounds = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    words = np.fromiter((-1 if w is None else w for w in word_ids), dtype=np.int64, count=n)
    return MergedTokens(bounds[:, 0], bounds[:, 1], words, tags, scores)


def _split_tag(tag: str) -> tuple[str, str | None]:
    if tag == "O":
        return "O", None
    if tag[:2] in ("B-", "I-"):
        return tag[0], tag[2:]
    return "I", tag  # a plain label (IO scheme): consecutive words of one type form one entity


def bio_entities(word_tags: np.ndarray, tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The one BIO rule (module docstring, step 4) over a sequence of word tag ids: `(label, first word, last word)`
    per entity. `B-X` starts an entity; `I-X` continues the open entity only if it is of type `X`, else starts one;
    `O` closes; a plain label `X` (IO scheme) acts as `I-X`.

    Example:
        >>> bio_entities(np.array([1, 2, 0, 2, 3, 1]), ["O", "B-NAME", "I-NAME", "I-AGE"])
        [('NAME', 0, 1), ('NAME', 3, 3), ('AGE', 4, 4), ('NAME', 5, 5)]
    """
    word_tags = np.asarray(word_tags, dtype=np.int64)
    if word_tags.size == 0:
        return []
    split = [_split_tag(tag) for tag in tags]
    types = sorted({label for _, label in split if label is not None})
    prefix_of = np.asarray([{"O": 0, "B": 1, "I": 2}[prefix] for prefix, _ in split], dtype=np.int64)
    type_of = np.asarray([-1 if label is None else types.index(label) for _, label in split], dtype=np.int64)
    prefix, kind = prefix_of[word_tags], type_of[word_tags]
    inside = prefix != 0
    previous_kind = np.concatenate([[-1], kind[:-1]])  # -1 before the first word and after an O
    begins = inside & ((prefix == 1) | (kind != previous_kind))
    firsts = np.flatnonzero(begins)
    continues = inside & ~begins
    follows = np.concatenate([continues[1:], [False]])
    lasts = np.flatnonzero(inside & ~follows)
    return [(types[kind[a]], int(a), int(b)) for a, b in zip(firsts, lasts)]


def decode_entities(
    text: str, tokens: MergedTokens | Sequence[tuple[tuple[int, int], int | None, Any]], tags: Sequence[str]
) -> list[dict[str, Any]]:
    """Entities `{label, text, start, end, score}` from the merged tokens (see the module rules): a word is read at
    its first sub-word (tokens covering no character are skipped), [`bio_entities`] groups words, offsets are
    trimmed of whitespace and the score is the mean tag probability of the entity's words."""
    if not isinstance(tokens, MergedTokens):
        tokens = MergedTokens.from_tokens(tokens)
    keep = np.flatnonzero(tokens.ends > tokens.starts)
    if keep.size == 0:
        return []
    words = tokens.word_ids[keep]
    new_word = np.ones(keep.size, dtype=bool)
    new_word[1:] = (words[1:] < 0) | (words[1:] != words[:-1])
    firsts = keep[new_word]  # the first sub-word of each word
    lasts = keep[np.concatenate([np.flatnonzero(new_word)[1:] - 1, [keep.size - 1]])]
    word_starts, word_ends = tokens.starts[firsts], tokens.ends[lasts]
    scores = tokens.scores[firsts].astype(np.float64)
    result = []
    for label, first, last in bio_entities(tokens.tags[firsts], tags):
        start, end = int(word_starts[first]), int(word_ends[last])
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        score = 0.0
        for value in scores[first : last + 1].tolist():  # summed in order, as a running mean of floats
            score += value
        result.append(
            {"label": label, "text": text[start:end], "start": start, "end": end, "score": score / (last - first + 1)}
        )
    return result


# --------------------------------------------------------------------------- case and quality
def apply_temperature(
    logits: torch.Tensor,
    temperature: float,
    binary: bool = False,
    offset: Sequence[float] | None = None,
    prior: tuple[float, Sequence[float]] | None = None,
) -> torch.Tensor:
    """Calibrated probabilities: `softmax(logits / T + offset)` over a case head's classes (`offset`: the head's
    prior correction, `config.case_logit_offset`, or none), mixed with the head's class frequencies where `prior`
    is `(share, priors)` (`share x p + (1 - share) x priors`, `config.case_prior_of`); or with `binary=True`
    `sigmoid(logits / T)` per quality sub-metric. `run_windows` and calibration both score through this.

    Example:
        >>> apply_temperature(torch.tensor([[2.0, 0.0]]), 2.0)
        tensor([[0.7311, 0.2689]])
        >>> apply_temperature(torch.tensor([[2.0, 0.0]]), 2.0, offset=[-1.0, 0.0])
        tensor([[0.5000, 0.5000]])
        >>> apply_temperature(torch.tensor([[0.0, 0.0]]), 1.0, prior=(0.5, [0.9, 0.1]))
        tensor([[0.7000, 0.3000]])
    """
    scaled = logits / float(temperature)
    if binary:
        return scaled.sigmoid()
    if offset is not None:
        scaled = scaled + torch.as_tensor(offset, dtype=scaled.dtype)
    probs = scaled.softmax(-1)
    if prior is not None:
        share, priors = prior
        probs = float(share) * probs + (1.0 - float(share)) * torch.as_tensor(priors, dtype=probs.dtype)
    return probs


def critical_index(case_heads: dict[str, Sequence[str]], critical_priority: str) -> int | None:
    """The class id of `critical_priority` in the priority head, None when the model has no such label."""
    priorities = list(case_heads.get("priority", []))
    return priorities.index(critical_priority) if critical_priority in priorities else None


def _window_weights(sizes: Sequence[int], confidence: torch.Tensor) -> torch.Tensor:
    """`confidence x content tokens` per window: a long, sure window counts more than a short, unsure one."""
    tokens = torch.tensor([max(int(size), 1) for size in sizes], dtype=torch.float32)
    return confidence.clamp(min=1e-6) * tokens  # (n_windows,)


def aggregate_cls_head(
    sizes: Sequence[int], probs: torch.Tensor, labels: Sequence[str], top_k: int
) -> tuple[dict[str, Any], torch.Tensor]:
    """Confidence-weighted mean of the windows' class probabilities `(n_windows, C)` (windows of `sizes` content
    tokens): `{label, score, top_k}` and the mean itself."""
    mean = mean_cls_probs(sizes, probs)  # (C,)
    values, indices = mean.topk(min(max(top_k, 1), mean.numel()))
    ranked = [{"label": labels[int(i)], "score": float(v)} for v, i in zip(values, indices)]
    return {"label": ranked[0]["label"], "score": ranked[0]["score"], "top_k": ranked}, mean


def mean_cls_probs(sizes: Sequence[int], probs: torch.Tensor) -> torch.Tensor:
    """The confidence-weighted mean `(C,)` of the windows' class probabilities `(n_windows, C)`."""
    weights = _window_weights(sizes, probs.max(dim=-1).values)
    return (weights[:, None] * probs).sum(0) / weights.sum()


def case_logit_offset(config: Any, head: str) -> list[float] | None:
    """The head's prior correction (`config.case_logit_offset`), None for a config without one (older models)."""
    offset = getattr(config, "case_logit_offset", None)
    return offset(head) if callable(offset) else None


def case_prior(config: Any, head: str, mix: float | None = None) -> tuple[float, list[float]] | None:
    """The head's `(share, priors)` mix (`config.case_prior_of`), None for a config without one (older models)."""
    prior = getattr(config, "case_prior_of", None)
    return prior(head, mix) if callable(prior) else None


def case_probabilities(logits: torch.Tensor, config: Any, head: str) -> torch.Tensor:
    """A case head's probabilities as `predict` decides on them: temperature, prior correction, prior mix."""
    return apply_temperature(logits, config.head_temperature("cls", head), offset=case_logit_offset(config, head),
                             prior=case_prior(config, head))  # fmt: skip


def safety_first_priority(
    decision: dict[str, Any],
    probs: torch.Tensor,
    labels: Sequence[str],
    critical: str,
    threshold: float,
    rule: str = "alert",
) -> dict[str, Any]:
    """Raise the call's `critical_alert` if any window's critical probability reaches `threshold` (never outvoted
    by the average) or the decided label is critical. `rule="override"` also makes the label critical when a window
    reached the threshold; `"alert"` leaves the label as decided (`safety_override` says whether the label was
    changed)."""
    critical_probs = probs[:, list(labels).index(critical)]  # (n_windows,)
    peak = float(critical_probs.max())
    flagged = [int(i) for i in torch.nonzero(critical_probs >= threshold).flatten()]
    override = rule == "override" and bool(flagged) and decision["label"] != critical
    alert = bool(flagged) or decision["label"] == critical
    decision = {
        **decision, "critical_alert": alert, "critical_probability": peak, "critical_windows": flagged,
        "safety_override": override,
    }  # fmt: skip
    if override:
        decision["label"], decision["score"] = critical, peak
    return decision


def joint_main_sub(main_probs: torch.Tensor, sub_probs: torch.Tensor, config: Any) -> tuple[int, int] | None:
    """The consistent (main category, sub-category) pair: the sub-category `s` that maximises
    `p_sub(s) x p_main(main_of(s))`, and its main category by `config.sub_to_main`. `None` when the table does not
    cover the labels (the heads then decide on their own).

    Example:
        >>> from types import SimpleNamespace
        >>> cfg = SimpleNamespace(case_heads={"main_category": ["A", "B"], "sub_category": ["a1", "b1"]},
        ...                       sub_to_main={"a1": "A", "b1": "B"})
        >>> joint_main_sub(torch.tensor([0.9, 0.1]), torch.tensor([0.4, 0.6]), cfg)  # 0.36 vs 0.06
        (0, 0)
    """
    mains, subs = config.case_heads["main_category"], config.case_heads["sub_category"]
    main_index = {label: i for i, label in enumerate(mains)}
    owners = [main_index.get(config.sub_to_main.get(sub)) for sub in subs]
    if not config.sub_to_main or all(owner is None for owner in owners):
        return None
    scores = torch.stack([
        sub_probs[i] * (main_probs[owner] if owner is not None else 0.0) for i, owner in enumerate(owners)
    ])  # fmt: skip
    sub = int(scores.argmax())
    if owners[sub] is None:
        return None
    return owners[sub], sub


def qa_window_scope_of(config: Any, head: str) -> str:
    """The windows of a call that decide quality head `head`: `"first"`, `"last"` or `"all"` (`qa_window_scope`)."""
    return (getattr(config, "qa_window_scope", None) or {}).get(head, "all")


def qa_window_shares(sizes: Sequence[int], probs: torch.Tensor, scope: str = "all") -> torch.Tensor:
    """How much each of a call's windows (in order) counts in a quality head's decision: `"all"`, confidence x
    content tokens (`_window_weights`); `"first"` / `"last"` (`qa_window_scope`), that window alone."""
    if scope == "all":
        return _window_weights(sizes, torch.maximum(probs, 1 - probs).mean(dim=-1))
    if scope not in ("first", "last"):
        raise ValueError(f"qa_window_scope: expected 'all', 'first' or 'last', got {scope!r}")
    shares = torch.zeros(probs.shape[0], dtype=torch.float32)
    shares[0 if scope == "first" else -1] = 1.0
    return shares


def aggregate_qa_head(sizes: Sequence[int], probs: torch.Tensor, scope: str = "all") -> torch.Tensor:
    """The weighted mean of the windows' sub-metric probabilities `(n_windows, n)`, each window counting by
    `qa_window_shares` (`scope`: the head's `qa_window_scope`)."""
    weights = qa_window_shares(sizes, probs, scope)
    return (weights[:, None] * probs).sum(0) / weights.sum()  # (n,)


def decide_cls(
    probs: dict[str, torch.Tensor],
    sizes: Sequence[int],
    config: Any,
    top_k: int = 3,
    critical_threshold: float | None = None,
) -> dict[str, dict[str, Any]]:
    """The case decisions of one record from its windows' class probabilities (`head -> (n_windows, C)`, after
    the temperatures) and content sizes: confidence-weighted means, safety-first priority at `critical_threshold`
    (default `config.critical_threshold`), and main and sub-category as one joint decision. `predict`, evaluation
    and calibration (which tries thresholds) all decide through this function."""
    if critical_threshold is None:
        critical_threshold = config.critical_threshold
    case: dict[str, dict[str, Any]] = {}
    means: dict[str, torch.Tensor] = {}
    for head, head_probs in probs.items():
        labels = config.case_heads[head]
        case[head], means[head] = aggregate_cls_head(sizes, head_probs, labels, top_k)
        if head == "priority" and config.critical_priority in labels:
            case[head] = safety_first_priority(
                case[head], head_probs, labels, config.critical_priority, critical_threshold,
                getattr(config, "critical_rule", "alert"),
            )
    if "main_category" in means and "sub_category" in means:
        pair = joint_main_sub(means["main_category"], means["sub_category"], config)
        if pair is not None:  # one decision for both, consistent with the sub -> main table
            for head, index in zip(("main_category", "sub_category"), pair):
                case[head] = {**case[head], "label": config.case_heads[head][index], "score": float(means[head][index])}
    return case


def decide_qa(probs: dict[str, torch.Tensor], sizes: Sequence[int], config: Any) -> dict[str, dict[str, Any]]:
    """The quality decisions of one record (`head -> (n_windows, n_sub_metrics)` probabilities after the
    temperatures, windows in call order): `{head: {sub_metric: {score, met}}}`, the weighted mean over the head's
    windows (`qa_window_scope`) against the sub-metric's threshold."""
    quality: dict[str, dict[str, Any]] = {}
    for head, head_probs in probs.items():
        mean = aggregate_qa_head(sizes, head_probs, qa_window_scope_of(config, head))
        quality[head] = {
            name: {"score": score, "met": score >= threshold}
            for name, score, threshold in zip(config.qa_heads[head], mean.tolist(), config.qa_thresholds[head])
        }
    return quality


def decision_confidences(
    case: dict[str, dict[str, Any]] | None, quality: dict[str, dict[str, Any]] | None
) -> dict[str, list[tuple[str, float]]]:
    """Per review group (`case.<head>`, `quality.<head>`), each decision's name and confidence: a case head's decided
    score, a quality sub-metric's `max(p, 1 - p)`. What the review rule compares with the group's threshold."""
    groups: dict[str, list[tuple[str, float]]] = {}
    for head, decision in (case or {}).items():
        groups[f"case.{head}"] = [(f"case.{head}", float(decision["score"]))]
    for head, decisions in (quality or {}).items():
        groups[f"quality.{head}"] = [
            (f"quality.{head}.{name}", max(decision["score"], 1 - decision["score"])) for name, decision in decisions.items()
        ]
    return groups


def review_reasons(
    case: dict[str, dict[str, Any]] | None,
    quality: dict[str, dict[str, Any]] | None,
    config: Any,
    review_thresholds: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Why a call needs review (empty: it does not): every decision whose confidence is below its group's threshold
    (`review_thresholds`, default `config.review_thresholds`; `config.review_threshold` for a group not listed), and
    a main category that disagrees with the sub-category's (`config.sub_to_main`). Sorted by decision: a saved
    config lists its heads alphabetically, and the same call must give the same result."""
    thresholds = config.review_thresholds if review_thresholds is None else review_thresholds
    reasons: list[dict[str, Any]] = []
    for group, decisions in decision_confidences(case, quality).items():
        review = float(thresholds.get(group, config.review_threshold))
        for decision, confidence in decisions:
            if confidence < review:
                reasons.append({"decision": decision, "reason": "low_confidence", "score": confidence,
                                "threshold": review})  # fmt: skip
    consistency = _cls_consistency(case, config) if case else None
    if consistency is not None and not consistency["consistent"]:
        reasons.append({"decision": "case.main_category", "reason": "inconsistent_with_sub_category",
                        "expected": consistency["expected_main_category"]})  # fmt: skip
    return sorted(reasons, key=lambda reason: reason["decision"])


def decode_transcript(
    text: str,
    windows: Sequence[Window],
    predictions: Sequence[WindowPrediction],
    config: Any,
    top_k: int = 3,
    evidence_top_k: int | None = None,
) -> dict[str, Any]:
    """The result for one transcript from the predictions of its windows (in window order); with `evidence_top_k`
    (predictions run with `pooling_weights=True`) each decision gets its evidence spans ([`attach_evidence`])."""
    result: dict[str, Any] = {}
    sizes = [len(window.content) for window in windows]
    if predictions[0].ner is not None:
        result["entities"] = decode_entities(text, merge_window_tokens(windows, predictions), config.ner_labels)
    if predictions[0].cls:
        probs = {head: torch.stack([p.cls[head] for p in predictions]) for head in config.case_heads}
        result["case"] = decide_cls(probs, sizes, config, top_k)
        consistency = _cls_consistency(result["case"], config)
        if consistency is not None:
            result["case_consistency"] = consistency
    if predictions[0].qa:
        probs = {head: torch.stack([p.qa[head] for p in predictions]) for head in config.qa_heads}
        result["quality"] = decide_qa(probs, sizes, config)
    if evidence_top_k is not None:
        attach_evidence(result, text, windows, predictions, config, evidence_top_k)
    reasons = review_reasons(result.get("case"), result.get("quality"), config)
    result["needs_review"] = bool(reasons)
    result["review_reasons"] = reasons
    result["num_windows"] = len(windows)
    return result


def _cls_consistency(case: dict[str, Any], config: Any) -> dict[str, Any] | None:
    if "main_category" not in case or "sub_category" not in case or not config.sub_to_main:
        return None
    sub, main = case["sub_category"]["label"], case["main_category"]["label"]
    expected = config.main_category_of(sub)
    return {"consistent": main == expected, "main_category": main, "sub_category": sub,
            "expected_main_category": expected}  # fmt: skip


# --------------------------------------------------------------------------- evidence
# A word: letters and digits, with inner apostrophes or hyphens ("don't", "14-year-old"); any other visible
# character stands alone. Spans are made of whole words, so a span never cuts one.
_WORD = re.compile(r"\w+(?:['\u2019-]\w+)*|[^\w\s]")
EVIDENCE_MAX_WORDS = 6  # the most words one span grows to
EVIDENCE_JOIN_SHARE = 0.5  # a neighbouring word joins a span when it weighs at least this share of the span's top word


def word_units(text: str) -> list[tuple[int, int]]:
    """The character ranges of `text`'s words (see `_WORD`), in order.

    Example:
        >>> word_units("my son, 14-year-old")
        [(0, 2), (3, 6), (6, 7), (8, 19)]
    """
    return [match.span() for match in _WORD.finditer(text)]


def token_words(offsets: Sequence[tuple[int, int]], units: Sequence[tuple[int, int]]) -> torch.Tensor:
    """The word of each token (by the first character of the token inside a word), -1 for a token inside none."""
    starts = [start for start, _ in units]
    found = []
    for start, end in offsets:
        unit = -1
        for char in range(start, end):
            index = bisect.bisect_right(starts, char) - 1
            if index >= 0 and units[index][0] <= char < units[index][1]:
                unit = index
                break
        found.append(unit)
    return torch.tensor(found, dtype=torch.long)


def word_weights(
    n_units: int, words: Sequence[torch.Tensor], shares: torch.Tensor, token_weights: Sequence[torch.Tensor]
) -> torch.Tensor:
    """Each word's share of a decision's pooling: the sum over windows of `share of the window in the decision x the
    window's pooling weight of the word's tokens` (a word cut into sub-words gets all of them). `words[w]` maps the
    content tokens of window `w` to words (`token_words`), `token_weights[w]` are its pooling weights over them."""
    index = torch.cat(list(words))
    values = torch.cat([weights.float() * share for share, weights in zip(shares.tolist(), token_weights)])
    keep = index >= 0
    return torch.zeros(n_units, dtype=torch.float32).index_add_(0, index[keep], values[keep])


def evidence_spans(
    text: str, units: Sequence[tuple[int, int]], weights: torch.Tensor, top_k: int
) -> list[dict[str, Any]]:
    """The `top_k` heaviest spans of whole words: `[{start, end, text, weight}]`, heaviest first.

    Words are taken heaviest first; a word next to a span joins it when it weighs at least `EVIDENCE_JOIN_SHARE` of
    the span's top word (up to `EVIDENCE_MAX_WORDS` words), else it starts a span while fewer than `top_k` exist.
    A span's weight is the pooling weight of its words (a share of the decision's pooling; the rest sat on other
    words and on the special tokens). `text == transcript[start:end]`.

    Example:
        >>> text = "the child is in danger now"
        >>> spans = evidence_spans(text, word_units(text), torch.tensor([0.05, 0.1, 0.02, 0.03, 0.6, 0.35]), 2)
        >>> [(span["start"], span["end"], span["text"], round(span["weight"], 2)) for span in spans]
        [(16, 26, 'danger now', 0.95), (0, 9, 'the child', 0.15)]
    """
    values = weights.tolist()
    spans: dict[int, list[Any]] = {}  # id -> [first word, last word, top weight, total weight]
    owner: dict[int, int] = {}  # word -> span id
    for unit in torch.argsort(weights, descending=True, stable=True).tolist():  # equal weights keep text order
        weight = values[unit]
        if weight <= 0 or (len(spans) >= top_k and weight < EVIDENCE_JOIN_SHARE * min(s[2] for s in spans.values())):
            break  # every word left is lighter: none can start a span or join one
        takers = [
            owner[side] for side in (unit - 1, unit + 1)
            if side in owner and weight >= EVIDENCE_JOIN_SHARE * spans[owner[side]][2]
            and spans[owner[side]][1] - spans[owner[side]][0] + 1 < EVIDENCE_MAX_WORDS
        ]  # fmt: skip
        if len(takers) == 2 and sum(spans[t][1] - spans[t][0] + 1 for t in takers) + 1 > EVIDENCE_MAX_WORDS:
            takers = takers[:1]  # bridging both would make one span too long
        if takers:
            members = [spans.pop(t) for t in takers]
            first, last = min([unit] + [m[0] for m in members]), max([unit] + [m[1] for m in members])
            span = [first, last, max(m[2] for m in members), sum(m[3] for m in members) + weight]
            spans[takers[0]] = span
            owner.update(dict.fromkeys(range(span[0], span[1] + 1), takers[0]))
        elif len(spans) < top_k:
            spans[unit] = [unit, unit, weight, weight]
            owner[unit] = unit
    result = []
    for first, last, _, total in sorted(spans.values(), key=lambda span: (-span[3], span[0])):
        start, end = units[first][0], units[last][1]
        result.append({"start": start, "end": end, "text": text[start:end], "weight": total})
    return result


def _window_range(window: Window) -> dict[str, int]:
    """The characters a window covers (0, 0 for a window of no text)."""
    return {"start": window.offsets[0][0], "end": window.offsets[-1][1]} if window.offsets else {"start": 0, "end": 0}


def _evidence_unavailable(task: str, config: Any, predictions: Sequence[WindowPrediction]) -> str | None:
    """Why `task`'s decisions have no evidence (pooling without learned weights, none returned), None if they do."""
    kind = config.pooling.get(task, "attention")
    turns = TASK_INFO[task].turn_pooling  # the config field choosing pooling over turns, where the task has one
    if turns and getattr(config, turns, "tokens") == "turns":
        kind = "attention"  # the learned attention over turns, spread over each turn's tokens
    if kind != "attention":
        return f"pooling {kind!r} has no learned weights"
    if any(task not in p.pooling for p in predictions):
        return "the model returned no pooling weights"
    return None


def _critical_window(
    decision: dict[str, Any], probs: torch.Tensor, windows: Sequence[Window], config: Any, shares: torch.Tensor
) -> torch.Tensor:
    """Set the priority decision's `critical_window` (the peak window of a raised alert, else None) and return the
    window shares its evidence rests on: the peak window alone for a critical label, `shares` otherwise."""
    decision["critical_window"] = None
    if not decision["critical_windows"]:
        return shares
    peak = int(probs[:, config.case_heads["priority"].index(config.critical_priority)].argmax())
    decision["critical_window"] = {"index": peak, **_window_range(windows[peak])}
    if decision["label"] != config.critical_priority:
        return shares
    return torch.zeros(len(windows)).index_fill_(0, torch.tensor([peak]), 1.0)


def attach_evidence(
    result: dict[str, Any],
    text: str,
    windows: Sequence[Window],
    predictions: Sequence[WindowPrediction],
    config: Any,
    top_k: int,
) -> None:
    """Add `evidence` to every case decision and quality sub-metric of `result` (in place).

    A decision's windows count as they count in its score: by the share `aggregate_cls_head` / `aggregate_qa_head`
    give them (confidence x content tokens); a raised critical alert rests on the window whose critical probability
    was highest, whose character range `case.priority.critical_window` gives, and so does a critical label. Where a
    task pools with `cls` or `mean` there are no learned weights to show: `evidence` is None and
    `evidence_unavailable` says why.
    """
    units = word_units(text)
    words = [token_words(window.offsets, units) for window in windows]
    sizes = [len(window.content) for window in windows]

    def spans(shares: torch.Tensor, weights: list[torch.Tensor]) -> list[dict[str, Any]]:
        return evidence_spans(text, units, word_weights(len(units), words, shares / shares.sum(), weights), top_k)

    if "case" in result:
        missing = _evidence_unavailable("cls", config, predictions)
        for head, decision in result["case"].items():
            probs = torch.stack([p.cls[head] for p in predictions])  # (n_windows, C)
            shares = _window_weights(sizes, probs.max(dim=-1).values)
            if head == "priority" and "critical_windows" in decision:
                shares = _critical_window(decision, probs, windows, config, shares)
            if missing:
                decision.update(evidence=None, evidence_unavailable=missing)
            else:
                decision["evidence"] = spans(shares, [p.pooling["cls"][head][0] for p in predictions])
    if "quality" in result:
        missing = _evidence_unavailable("qa", config, predictions)
        for head, decisions in result["quality"].items():
            probs = torch.stack([p.qa[head] for p in predictions])
            shares = qa_window_shares(sizes, probs, qa_window_scope_of(config, head))
            for index, decision in enumerate(decisions.values()):
                if missing:
                    decision.update(evidence=None, evidence_unavailable=missing)
                    continue
                rows = [p.pooling["qa"][head] for p in predictions]
                decision["evidence"] = spans(shares, [w[index if w.shape[0] > 1 else 0] for w in rows])


# --------------------------------------------------------------------------- the model mixin
def _torch_precision(precision: str | None, device: torch.device, bf16: bool | None) -> str:
    """The precision PyTorch runs (`resolve_precision`); int8 is refused: it runs in an exported model only."""
    precision = resolve_precision(precision, device, bf16=bf16)
    if precision == "int8":
        raise ValueError(
            "precision: int8 runs only in an exported int8 model (helpline-fusion export DIR --format onnx "
            "--int8, then predict --backend onnx --precision int8); PyTorch runs fp32 or bf16"
        )
    return precision


def _evidence_top_k(config: Any, evidence_top_k: int | None) -> int:
    """The spans per decision `predict(..., evidence=True)` gives: `evidence_top_k`, else the config's (3)."""
    spans = getattr(config, "evidence_top_k", 3) if evidence_top_k is None else evidence_top_k
    if isinstance(spans, bool) or not isinstance(spans, int) or spans < 1:
        raise ValueError(f"evidence_top_k: expected a whole number of spans >= 1, got {spans!r}")
    return spans


class FusionPredictorMixin:
    """Adds [`predict`] to [`AttentionFusionModel`]."""

    def predict(
        self,
        texts: str | Sequence[str],
        tokenizer: PreTrainedTokenizerBase,
        *,
        batch_size: int = 8,
        precision: str | None = None,
        bf16: bool | None = None,
        window_length: int | None = None,
        window_stride: int | None = None,
        top_k: int = 3,
        pad_to_multiple_of: int | None = 8,
        show_progress: bool = False,
        evidence: bool = False,
        evidence_top_k: int | None = None,
    ) -> dict[str, Any] | list[dict[str, Any]]:
        r"""Analyse transcripts: entities, case labels, call-quality scores and a review flag for each.

        Args:
            texts: one transcript or a list of them.
            tokenizer: the model's fast tokenizer (offsets map entities back to the original text).
            batch_size: windows per encoder call. On CPU larger batches add little speed but their activation
                memory grows linearly; on GPU raise it.
            precision: `"fp32"` (the default, as evaluation and calibration decided), `"bf16"` (autocast) or
                `"auto"`: bf16 where the device computes it natively, else fp32 ([`resolve_precision`]).
            bf16: deprecated spelling of `precision="bf16"` (True) / `"fp32"` (False).
            window_length, window_stride: tokens per window and shared by neighbours (default: the config's).
            top_k: alternatives listed per case head.
            pad_to_multiple_of: round each batch's padding up to a multiple of this (never beyond the window).
            show_progress: show a progress bar over windows.
            evidence: add to every decision the words its attention pooling weighted most (`evidence`,
                `[{start, end, text, weight}]`, whole words, heaviest first) and to `priority` its
                `critical_window` (`{index, start, end}` of the window that raised the alert, else None); a task
                pooled with `cls` or `mean` gets `evidence: None` and `evidence_unavailable`. Off by default.
            evidence_top_k: at most this many spans per decision (default: `config.evidence_top_k`, 3).

        Returns:
            One dict per transcript (a dict for a single string): `entities` (`[{label, text, start, end,
            score}]`), `case` (`{head: {label, score, top_k}}`; `priority` adds `critical_alert`,
            `critical_probability`, `critical_windows`, `safety_override`), `case_consistency`, `quality`
            (`{head: {sub_metric: {score, met}}}`), `needs_review`, `review_reasons` and `num_windows`; parts whose
            task the model lacks are left out.

        Example:
            >>> results = model.predict(["Hello, I am calling about a child ..."], tokenizer, precision="auto")  # doctest: +SKIP
            >>> results[0]["case"]["priority"]["label"], results[0]["needs_review"]  # doctest: +SKIP
            ('1', True)
        """
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        if not texts:
            return []
        precision = _torch_precision(precision, next(self.parameters()).device, bf16)
        length, stride = window_settings(self.config, tokenizer, window_length, window_stride)
        spans = _evidence_top_k(self.config, evidence_top_k) if evidence else None
        windows = encode_windows(texts, tokenizer, length, stride, quality_speakers(self.config))
        pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        was_training = self.training
        self.eval()
        try:
            predictions = run_windows(
                self, windows, pad_token_id, batch_size=batch_size, bf16=precision == "bf16",
                pad_to_multiple_of=pad_to_multiple_of,
                window_length=length, show_progress=show_progress, pooling_weights=evidence,
            )  # fmt: skip
        finally:
            self.train(was_training)
        return decode_windows(
            texts, windows, predictions, self.config, top_k=top_k, single=single, evidence_top_k=spans
        )


# --------------------------------------------------------------------------- exported runtimes
BACKENDS = ("torch", "onnx", "openvino")
# Where `helpline-fusion export` writes each backend's graph inside the model folder, per precision.
EXPORT_FILES = {
    "onnx": {"fp32": "onnx/model.onnx", "int8": "onnx/model_int8.onnx"},
    "openvino": {"fp32": "openvino/openvino_model.xml"},
}


def graph_output_names(config: Any) -> list[str]:
    """The exported graph's outputs, in order: `ner_logits`, `cls.<head>` per case head, `qa.<head>` per quality
    head (the tasks the model has)."""
    tasks = list(getattr(config, "tasks", None) or TASK_INFO)
    names: list[str] = []
    for task, info in TASK_INFO.items():  # the registry's order: ner, cls, qa
        if task in tasks:
            heads = [] if info.token_level else getattr(config, info.heads_field)
            names += [info.logits] if info.token_level else [f"{task}.{head}" for head in heads]
    return names


def turn_pooled_tasks(config: Any) -> list[str]:
    """The model's tasks whose heads pool over counsellor turns (their `TaskInfo.turn_pooling` field is `"turns"`)."""
    tasks = list(getattr(config, "tasks", None) or TASK_INFO)
    return [
        name for name, info in TASK_INFO.items()
        if name in tasks and info.turn_pooling and getattr(config, info.turn_pooling, None) == "turns"
    ]  # fmt: skip


def graph_input_names(config: Any) -> list[str]:
    """The exported graph's inputs, in order: `input_ids`, `attention_mask` (int64, `(batch, sequence)`) and, for a
    model whose heads pool over counsellor turns (`turn_pooled_tasks`), `turn_ids` (int64, `(batch, sequence)`:
    each token's counsellor turn in its window, -1 elsewhere, as `Window.turn_ids`)."""
    return ["input_ids", "attention_mask", *(["turn_ids"] if turn_pooled_tasks(config) else [])]


@dataclass
class _GraphOutput:
    ner_logits: torch.Tensor | None
    cls_logits: dict[str, torch.Tensor]
    qa_logits: dict[str, torch.Tensor]
    head_pooling_weights: None = None


class ExportedFusionModel(FusionPredictorMixin):
    """The fused encoder and every head as one exported graph, run by ONNX Runtime or OpenVINO, with the windowing,
    batching and decoding of the PyTorch model (`predict` is the same method). The runtime is imported only here,
    only when a folder is loaded: `pip install onnxruntime` (or `openvino`) beside torch and transformers.

    Example:
        >>> model = ExportedFusionModel.from_pretrained("outputs/quickstart", backend="onnx")  # doctest: +SKIP
        >>> model.predict(["Hello, I am calling about a child ..."], tokenizer)[0]["case"]  # doctest: +SKIP
    """

    training = False

    def __init__(self, config: Any, run: Any, backend: str, precision: str) -> None:
        self.config, self._run, self.backend, self.precision = config, run, backend, precision
        self.device = torch.device("cpu")
        self.inputs = graph_input_names(config)  # what `run` is fed, by name

    @classmethod
    def from_pretrained(
        cls, folder: str, backend: str = "onnx", precision: str | None = None, threads: int | None = None
    ) -> ExportedFusionModel:
        """Load `folder`'s exported graph (`EXPORT_FILES`) for `backend` at `precision`: `fp32` (default, also what
        `auto` means for ONNX Runtime), `int8` (ONNX, written only when it passed the export's accuracy gate) or,
        for OpenVINO, `auto` (OpenVINO runs bf16 itself where the CPU has it) / `bf16`.

        Raises:
            ValueError: an unknown backend or precision, or the folder has no such export (run `helpline-fusion
                export`), or the runtime is not installed.
        """
        import os

        from .configuration_attention_fusion import AttentionFusionConfig

        if backend not in EXPORT_FILES:
            raise ValueError(f"backend: expected one of {list(EXPORT_FILES)}, got {backend!r}")
        allowed = ("auto", "fp32", "int8") if backend == "onnx" else ("auto", "fp32", "bf16")
        precision = precision or ("fp32" if backend == "onnx" else "auto")
        if precision not in allowed:
            raise ValueError(f"precision: {backend} runs {', '.join(allowed)}, not {precision!r}")
        file_precision = precision if precision == "int8" else "fp32"
        path = os.path.join(folder, EXPORT_FILES[backend][file_precision])
        if not os.path.isfile(path):
            hint = " --int8 (written only when it passes the accuracy gate)" if precision == "int8" else ""
            raise ValueError(
                f"{path}: no {backend} {file_precision} export in this folder; run "
                f"`helpline-fusion export {folder} --format {backend}{hint}`"
            )
        config = AttentionFusionConfig.from_pretrained(folder)
        threads = threads or torch.get_num_threads()
        names, inputs = graph_output_names(config), graph_input_names(config)
        if backend == "onnx":
            run = _onnx_runner(path, threads, names, inputs)
            chosen = file_precision
        else:
            run, chosen = _openvino_runner(path, threads, names, precision, inputs)
        logger.info("exported model: %s %s from %s", backend, chosen, path)
        return cls(config, run, backend, chosen)

    def parameters(self) -> Iterator[torch.Tensor]:
        yield torch.zeros(0)  # `predict` reads the device from here: the runtimes run on CPU

    def eval(self) -> ExportedFusionModel:
        return self

    def train(self, mode: bool = True) -> ExportedFusionModel:
        return self

    def __call__(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, task: str | None = None, **kwargs: Any
    ) -> _GraphOutput:
        if kwargs.get("output_pooling_weights"):
            raise ValueError("exported model: pooling weights (evidence) run in PyTorch only")
        feeds = {"input_ids": input_ids.numpy().astype(np.int64)}
        feeds["attention_mask"] = attention_mask.numpy().astype(np.int64)
        if "turn_ids" in self.inputs:
            feeds["turn_ids"] = self._turn_ids(kwargs.get("turn_ids"), input_ids, task)
        values = self._run(feeds)
        out = {name: torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)) for name, value in values.items()}
        logits: dict[str, Any] = {}  # `_GraphOutput` field -> the asked tasks' outputs (None / {} for the others)
        for name, info in TASK_INFO.items():
            wanted = task is None or task == name
            if info.token_level:
                logits[info.logits] = out.get(info.logits) if wanted else None
            else:
                prefix = f"{name}."
                heads = {key[len(prefix) :]: value for key, value in out.items() if key.startswith(prefix)}
                logits[info.logits] = heads if wanted else {}
        return _GraphOutput(**logits)

    def _turn_ids(self, turn_ids: torch.Tensor | None, input_ids: torch.Tensor, task: str | None) -> np.ndarray:
        """The graph's `turn_ids` input. Without them, a call for tasks that do not pool over turns (one task's
        validation windows, as the int8 gate runs them) feeds "no turn" (-1) for heads whose outputs are dropped;
        a call that wants a turn-pooled head's outputs is refused, as the PyTorch head refuses it."""
        if turn_ids is not None:
            return turn_ids.numpy().astype(np.int64)
        wanted = [name for name in turn_pooled_tasks(self.config) if task is None or task == name]
        if wanted:
            raise ValueError(
                f"turn_ids: this model's {', '.join(wanted)} heads pool over counsellor turns and need each token's "
                "turn id (-1 outside counsellor turns); predict() and the tokenised quality data give them"
            )
        return np.full(tuple(input_ids.shape), -1, dtype=np.int64)

    def predict(self, texts: Any, tokenizer: PreTrainedTokenizerBase, *, precision: str | None = None,
                bf16: bool | None = None, evidence: bool = False, **options: Any) -> Any:  # fmt: skip
        """[`FusionPredictorMixin.predict`] on the exported graph (its precision was chosen when it was loaded)."""
        if evidence:
            raise ValueError("evidence: the exported graph returns no pooling weights; predict evidence in PyTorch")
        if bf16 or precision not in (None, "auto", self.precision):
            raise ValueError(
                f"precision: this {self.backend} model was loaded at {self.precision}; choose the precision when "
                "loading it (ExportedFusionModel.from_pretrained(..., precision=...), predict --precision)"
            )
        return FusionPredictorMixin.predict(self, texts, tokenizer, precision="fp32", **options)


def _check_graph(path: str, outputs: list[str], names: list[str], inputs: list[str], expected: list[str]) -> None:
    """A graph whose outputs are not the config's heads, or whose inputs are not `graph_input_names(config)` (a
    graph exported before turn pooling was exportable, or from another model), is refused."""
    if sorted(outputs) != sorted(names):
        raise ValueError(f"{path}: graph outputs {outputs} do not match the config's heads {names}; export it again")
    if sorted(inputs) != sorted(expected):
        raise ValueError(
            f"{path}: graph inputs {inputs} do not match what the config needs {expected}; export it again"
        )


def _onnx_runner(path: str, threads: int, names: list[str], inputs: list[str]) -> Any:
    try:
        import onnxruntime
    except ImportError as error:
        raise ValueError("backend onnx needs ONNX Runtime: pip install 'helpline-fusion[onnx]'") from error
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    outputs = [output.name for output in session.get_outputs()]
    _check_graph(path, outputs, names, [graph_input.name for graph_input in session.get_inputs()], inputs)

    def run(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(outputs, session.run(outputs, {name: feeds[name] for name in inputs})))

    return run


def _port_name(port: Any, wanted: list[str]) -> str:
    """The name of an OpenVINO port that is one of `wanted` (a port holds a set of tensor names), else any."""
    known = [name for name in wanted if name in port.get_names()]
    return known[0] if known else port.get_any_name()


def _openvino_runner(
    path: str, threads: int, names: list[str], precision: str, inputs: list[str]
) -> tuple[Any, str]:
    try:
        import openvino
    except ImportError as error:
        raise ValueError("backend openvino needs OpenVINO: pip install 'helpline-fusion[openvino]'") from error
    core = openvino.Core()
    settings = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
    if precision != "auto":
        settings["INFERENCE_PRECISION_HINT"] = {"fp32": "f32", "bf16": "bf16"}[precision]
    compiled = core.compile_model(core.read_model(path), "CPU", settings)
    hint = compiled.get_property("INFERENCE_PRECISION_HINT")  # an openvino.Type: "f32", "bf16", "f16"
    hint = hint.to_string() if hasattr(hint, "to_string") else str(hint)
    chosen = {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}.get(hint, hint)
    # A compiled output can carry several tensor names (a head's logits fused with an inner einsum's: seen for the
    # quality heads of a `pool_per_head` model), and `get_any_name` may return the inner one: take the head's name.
    outputs = {_port_name(output, names): output for output in compiled.outputs}
    _check_graph(path, sorted(outputs), names, [_port_name(port, inputs) for port in compiled.inputs], inputs)
    request = compiled.create_infer_request()

    def run(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        result = request.infer({name: feeds[name] for name in inputs})
        return {name: np.asarray(result[port]) for name, port in outputs.items()}

    return run, chosen


def load_exported(folder: str, backend: str = "onnx", precision: str | None = None) -> ExportedFusionModel:
    """`ExportedFusionModel.from_pretrained(folder, backend, precision)`."""
    return ExportedFusionModel.from_pretrained(folder, backend=backend, precision=precision)


def decode_windows(
    texts: Sequence[str],
    windows: Sequence[Window],
    predictions: Sequence[WindowPrediction],
    config: Any,
    top_k: int = 3,
    single: bool = False,
    evidence_top_k: int | None = None,
) -> dict[str, Any] | list[dict[str, Any]]:
    """One result per text from the predictions of all windows (grouped by `Window.sample`, kept in order)."""
    per_text: list[list[int]] = [[] for _ in texts]
    for index, window in enumerate(windows):
        per_text[window.sample].append(index)
    results = [
        decode_transcript(
            text, [windows[i] for i in indices], [predictions[i] for i in indices], config, top_k, evidence_top_k
        )
        for text, indices in zip(texts, per_text)
    ]
    return results[0] if single else results


__all__ = [
    "FusionPredictorMixin",
    "Window",
    "WindowPrediction",
    "aggregate_cls_head",
    "aggregate_qa_head",
    "qa_window_scope_of",
    "qa_window_shares",
    "CPU_FLAGS",
    "MergedTokens",
    "PRECISIONS",
    "attach_evidence",
    "bio_entities",
    "cpu_flags",
    "case_logit_offset",
    "case_prior",
    "case_probabilities",
    "decide_cls",
    "decide_qa",
    "decode_entities",
    "decode_transcript",
    "decode_windows",
    "encode_windows",
    "evidence_spans",
    "graph_input_names",
    "graph_output_names",
    "joint_main_sub",
    "load_exported",
    "merge_window_tokens",
    "native_bf16",
    "native_int8",
    "pick_most_central",
    "resolve_precision",
    "run_windows",
    "safety_first_priority",
    "turn_pooled_tasks",
    "window_settings",
    "word_units",
]
