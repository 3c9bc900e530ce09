"""Knowledge distillation: single-task teachers, their soft targets cached with the training windows, and the KD losses.

A run with `teachers: {ner: DIR_OR_ID, cls: ..., qa: ...}` trains the student on, per task,
`(1 - distill_alpha) * hard + distill_alpha * soft` (times the task's loss weight), where `soft` is:

- NER: KL(teacher || student) between the temperature-softened tag distributions, averaged over the tokens that
  carry a label (`labels != -100`: not the special tokens, not padding);
- case: KL per head between the softened class distributions (every window: the teacher has an opinion where the
  record has no label), summed over heads like the hard loss;
- quality: binary cross-entropy against the teacher's softened probabilities minus the teacher's own entropy (the
  binary KL: the same gradient, zero when the student matches), averaged over the sub-metrics whose label is
  applicable (`!= -100`), summed over heads;

each multiplied by T^2 so that its gradient keeps the scale of the hard loss whatever the temperature.

Teacher outputs do not depend on the student: they are computed once per training window by one `datasets.map`
pass with each teacher in inference mode and stored as columns of the tokenised data (`kd_ner`, `kd_cls_<head>`,
`kd_qa_<head>`: raw logits, so the temperature can change without recomputing), in an Arrow file keyed by
everything it stores: every column of the windows (tokens, labels as `ner_label_all_subwords` shaped them, record
ids) and the teacher's config and weights (`<output_dir>/teacher_outputs/`). A resumed or repeated run reuses it;
a run whose labels changed (a fixed annotation, another labelling setting) computes it again.

Teachers load with the installed helpline-fusion classes (no code from the teacher's folder or repo runs); a Hub
id may pin a revision, `org/teacher@v1.0`.

A teacher must use the student's tokenizer (the soft targets are per student token): one that does not is refused
naming both. Its label list must equal the student's for every head it teaches: one that differs is refused naming
the head and both lists.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from ..modeling_attention_fusion.labels_attention_fusion import TASK_INFO, TASKS

logger = logging.getLogger(__name__)

CACHE_DIR_NAME = "teacher_outputs"
# A fixed probe (no transcript text) the two tokenizers must split identically.
TOKENIZER_PROBE = "Hello, I am calling about my neighbour's child: she is 12 years old. Asante sana! 0712-345-678"


# --------------------------------------------------------------------------- settings
def parse_teachers(value: Any) -> dict[str, str]:
    """`teachers` as given in YAML (a mapping) or on the command line (a JSON object, or `task=DIR_OR_ID` pairs
    separated by commas) -> `{task: source}`; `None` or empty -> `{}`.

    Example:
        >>> parse_teachers("ner=outputs/ner,qa=org/helpline-qa")
        {'ner': 'outputs/ner', 'qa': 'org/helpline-qa'}
        >>> parse_teachers('{"cls": "outputs/cls"}')
        {'cls': 'outputs/cls'}
    """
    if value is None or value == "" or value == {}:
        return {}
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                raise ValueError(f"teachers: {text!r} is not a valid JSON object ({error})") from None
        else:
            pairs = [part.strip() for part in text.split(",") if part.strip()]
            bad = [part for part in pairs if "=" not in part]
            if bad:
                raise ValueError(f"teachers: expected task=DIR_OR_ID pairs separated by commas, got {bad}")
            value = dict(part.split("=", 1) for part in pairs)
    if not isinstance(value, dict):
        raise ValueError(f"teachers: expected a mapping task -> model folder or Hub id, got {type(value).__name__}")
    unknown = sorted(str(task) for task in value if task not in TASKS)
    if unknown:
        raise ValueError(f"teachers: unknown tasks {unknown}; valid: {list(TASKS)}")
    empty = sorted(task for task, source in value.items() if not isinstance(source, str) or not source.strip())
    if empty:
        raise ValueError(f"teachers: tasks {empty} name no model (expected a folder or a Hub id)")
    return {task: source.strip() for task, source in value.items()}


def check_distill_settings(teachers: dict[str, str], tasks: list[str], alpha: float, temperature: float) -> None:
    if not teachers:
        return
    extra = sorted(set(teachers) - set(tasks))
    if extra:
        raise ValueError(f"teachers: tasks {extra} have a teacher but are not trained (tasks: {list(tasks)})")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"distill_alpha: {alpha} must be within [0, 1] (the weight of the soft loss)")
    if not temperature > 0:
        raise ValueError(f"distill_temperature: {temperature} must be positive")


def public_name(source: str) -> str:
    """What a model card may say about a teacher: its Hub id, or "local model" (never a local path)."""
    looks_local = Path(source).expanduser().exists() or source.startswith((".", "/", "~")) or ":" in source
    return "local model" if looks_local or source.count("/") > 1 else source


# --------------------------------------------------------------------------- teachers
def split_revision(source: str) -> tuple[str, str | None]:
    """`org/teacher@v1.0` -> `("org/teacher", "v1.0")`; a local path (which may hold an `@`) or a bare id ->
    `(source, None)`.

    Example:
        >>> split_revision("org/helpline-ner@v1.2.0")
        ('org/helpline-ner', 'v1.2.0')
    """
    name, at, revision = source.rpartition("@")
    if not at or not name or not revision or Path(source).expanduser().exists() or "/" in revision:
        return source, None
    return name, revision


def load_teacher(task: str, source: str):
    """A helpline-fusion model (folder or Hub id, `@revision` optional) and its tokenizer, in inference mode, with
    the installed classes (never `trust_remote_code`)."""
    from transformers import AutoTokenizer

    from ..modeling_attention_fusion import AttentionFusionModel

    name, revision = split_revision(source)
    try:
        model = AttentionFusionModel.from_pretrained(name, revision=revision)
        tokenizer = AutoTokenizer.from_pretrained(name, revision=revision)
    except (OSError, ValueError) as error:
        raise ValueError(f"teachers.{task}: cannot load a helpline-fusion model from {source} ({error})") from None
    model.eval()
    return model, tokenizer


def _describe(tokenizer: Any) -> str:
    return f"{type(tokenizer).__name__} of {tokenizer.name_or_path!r} ({len(tokenizer)} tokens)"


def check_tokenizer(task: str, teacher_tokenizer: Any, student_tokenizer: Any) -> None:
    """Refuse a teacher whose tokenizer splits text differently from the student's (naming both)."""
    same = (
        teacher_tokenizer.get_vocab() == student_tokenizer.get_vocab()
        and teacher_tokenizer(TOKENIZER_PROBE)["input_ids"] == student_tokenizer(TOKENIZER_PROBE)["input_ids"]
        and teacher_tokenizer.pad_token_id == student_tokenizer.pad_token_id
    )
    if not same:
        raise ValueError(
            f"teachers.{task}: the teacher's tokenizer ({_describe(teacher_tokenizer)}) differs from the student's "
            f"({_describe(student_tokenizer)}); soft targets are cached per student token, so a teacher must use "
            "the student's tokenizer (train it from the same encoder family)"
        )


def check_teacher_labels(task: str, teacher_config: Any, student_config: Any) -> None:
    """Refuse a teacher that does not have `task` or whose label list differs from the student's for a head."""
    if task not in teacher_config.tasks:
        raise ValueError(f"teachers.{task}: the teacher has no {task!r} head (its tasks: {list(teacher_config.tasks)})")
    info = TASK_INFO[task]
    if info.token_level:  # one head: the tag list
        pairs = {task: (teacher_config.ner_labels, student_config.ner_labels)}
    else:
        teacher_heads = getattr(teacher_config, info.heads_field)
        pairs = {h: (teacher_heads.get(h), names) for h, names in getattr(student_config, info.heads_field).items()}
    for head, (teacher_labels, student_labels) in pairs.items():
        if teacher_labels is None or list(teacher_labels) != list(student_labels):
            raise ValueError(
                f"teachers.{task}: head {head!r} has teacher labels {teacher_labels} but student labels "
                f"{list(student_labels)}; a teacher must predict the student's label list for every head"
            )


# --------------------------------------------------------------------------- teacher outputs
def _windows_digest(dataset: Any) -> str:
    """Digest of every column the cached file stores (tokens, labels, record ids, ...) and of their types: a change
    to any label (a fixed annotation, `ner_label_all_subwords`) gives another key."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps(dataset.features.to_dict(), sort_keys=True, default=str).encode())
    for column in sorted(dataset.column_names):
        digest.update(column.encode() + b"\0")
        for row in dataset[column]:
            encoded = json.dumps(row, default=str).encode()
            digest.update(len(encoded).to_bytes(8, "little"))
            digest.update(encoded)
    return digest.hexdigest()


def _model_digest(model: Any) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(model.config.to_json_string().encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


def teacher_columns(task: str, config: Any) -> list[str]:
    """The soft-target columns of `task`: one for a token-level task, one per head otherwise."""
    info = TASK_INFO[task]
    if info.token_level:
        return [info.kd]
    return [info.kd + head for head in getattr(config, info.heads_field)]


def add_teacher_outputs(
    task: str,
    windows: Any,
    teacher: Any,
    collator: Any,
    *,
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
) -> tuple[Any, dict[str, Any]]:
    """`windows` (tokenised, one task) with the teacher's raw logits as columns, computed by one `datasets.map` pass
    in inference mode; with `cache_dir`, stored in (or read back from) an Arrow file keyed by the windows and the
    teacher. The file holds the teacher's logits only, joined onto the fresh windows: no token ids of a transcript
    and no label rest in the cache. Returns the dataset and `{"task", "windows", "seconds", "bytes", "cached",
    "file"}`."""
    from datasets import Features, Sequence, Value, concatenate_datasets

    info = TASK_INFO[task]
    columns = teacher_columns(task, teacher.config)
    per_window = Sequence(Value("float32"))  # a head's logits; a token-level task has one such row per token
    features = Features({column: Sequence(per_window) if info.token_level else per_window for column in columns})
    key, cache_file = _teacher_cache(task, windows, teacher, cache_dir)
    cached = cache_file is not None and cache_file.is_file()
    teacher.eval()
    started = time.perf_counter()
    logits = windows.map(
        _teacher_logits(task, teacher, collator),
        batched=True,
        batch_size=batch_size,
        remove_columns=windows.column_names,
        features=features,
        cache_file_name=str(cache_file) if cache_file is not None else None,
        load_from_cache_file=True,
        new_fingerprint=key,
        desc=f"teacher outputs ({task})",
    )
    result = concatenate_datasets([windows, logits], axis=1)
    seconds = time.perf_counter() - started
    stats = {
        "task": task,
        "windows": len(result),
        "seconds": round(seconds, 2),
        "bytes": cache_file.stat().st_size if cache_file is not None and cache_file.is_file() else None,
        "cached": cached,
        "file": cache_file.name if cache_file is not None else None,
    }
    logger.info(
        "teacher outputs for %s: %d windows, %s in %.1f s%s", task, len(result),
        "read from the cache" if cached else "computed", seconds,
        f", {stats['bytes'] / 1e6:.1f} MB on disk" if stats["bytes"] else "",
    )  # fmt: skip
    return result, stats


def _teacher_cache(task: str, windows: Any, teacher: Any, cache_dir: str | Path | None) -> tuple[str, Path | None]:
    """The cache key (hex) of the windows and the teacher, and the Arrow file it names under `cache_dir` (if any)."""
    # The cache key: every column of the windows (labels included) and the teacher's config and weights (not a
    # pickle of the function, which datasets would otherwise hash, teacher included, at every call).
    key = hashlib.blake2b(f"{task}:{_windows_digest(windows)}:{_model_digest(teacher)}".encode(), digest_size=12)
    cache_file = None
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        cache_file = Path(cache_dir) / f"{task}-{key.hexdigest()}.arrow"
    return key.hexdigest(), cache_file


def _teacher_logits(task: str, teacher: Any, collator: Any) -> Any:
    """The batched `datasets.map` function: the teacher's raw logits of a batch of windows, per column."""
    info = TASK_INFO[task]
    left = getattr(collator, "padding_side", "right") == "left"

    def compute(batch: dict[str, list]) -> dict[str, list]:
        size = len(batch["input_ids"])
        rows = [{key: values[i] for key, values in batch.items()} for i in range(size)]
        inputs = collator(rows)
        device = next(teacher.parameters()).device
        with torch.inference_mode():
            out = teacher(
                input_ids=inputs["input_ids"].to(device), attention_mask=inputs["attention_mask"].to(device), task=task
            )
        if info.token_level:
            logits = getattr(out, info.logits).float().cpu().numpy()
            width = logits.shape[1]
            kept = []
            for i, row in enumerate(batch["input_ids"]):
                n = len(row)
                kept.append(logits[i, width - n :] if left else logits[i, :n])
            return {info.kd: kept}
        heads = getattr(out, info.logits)
        return {info.kd + head: list(values.float().cpu().numpy()) for head, values in heads.items()}

    return compute


def prepare_teachers(
    teachers: dict[str, str],
    train_windows: dict[str, Any],
    student_tokenizer: Any,
    student_config: Any,
    collator: Any,
    *,
    batch_size: int,
    cache_dir: str | Path | None,
    device: Any = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Load and check every teacher, then add its outputs to its task's training windows (one teacher at a time, on
    `device`, freed before the next)."""
    out = dict(train_windows)
    stats: list[dict[str, Any]] = []
    for task, source in teachers.items():
        teacher, teacher_tokenizer = load_teacher(task, source)
        check_tokenizer(task, teacher_tokenizer, student_tokenizer)
        check_teacher_labels(task, teacher.config, student_config)
        if TASK_INFO[task].token_level and (
            teacher.config.ner_label_all_subwords != student_config.ner_label_all_subwords
        ):
            logger.warning(
                "teachers.ner: the teacher was trained with ner_label_all_subwords=%s, the student with %s: the "
                "teacher's tags on the sub-words it was not trained on are distilled too",
                teacher.config.ner_label_all_subwords, student_config.ner_label_all_subwords,
            )  # fmt: skip
        if device is not None:
            teacher.to(device)
        if task in out:
            out[task], entry = add_teacher_outputs(
                task, out[task], teacher, collator, batch_size=batch_size, cache_dir=cache_dir
            )
            stats.append({**entry, "teacher": public_name(source)})
        del teacher
    return out, stats


# --------------------------------------------------------------------------- losses
def ner_kd_loss(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """Token-level KL(teacher || student) at temperature T, averaged over labelled tokens, times T^2."""
    mask = labels.to(student.device) != -100
    if not mask.any():
        return student.sum() * 0.0
    s = F.log_softmax(student.float()[mask] / temperature, dim=-1)
    t = F.log_softmax(teacher.to(student.device).float()[mask] / temperature, dim=-1)
    return F.kl_div(s, t, log_target=True, reduction="batchmean") * temperature**2


def cls_kd_loss(student: dict[str, torch.Tensor], teacher: dict[str, torch.Tensor], temperature: float) -> torch.Tensor:
    """Sum over heads of KL(teacher || student) between softened class distributions (mean over windows), T^2."""
    total = sum(value.sum() * 0.0 for value in student.values())
    for head, target in teacher.items():
        s = F.log_softmax(student[head].float() / temperature, dim=-1)
        t = F.log_softmax(target.to(s.device).float() / temperature, dim=-1)
        total = total + F.kl_div(s, t, log_target=True, reduction="batchmean") * temperature**2
    return total


def qa_kd_loss(
    student: dict[str, torch.Tensor],
    teacher: dict[str, torch.Tensor],
    labels: dict[str, torch.Tensor] | None,
    temperature: float,
) -> torch.Tensor:
    """Sum over heads of the BCE against the teacher's softened probabilities, less the teacher's entropy (the
    binary KL), averaged over applicable sub-metrics (label `!= -100`), T^2."""
    total = sum(value.sum() * 0.0 for value in student.values())
    for head, target in teacher.items():
        s = student[head].float() / temperature
        t = target.to(s.device).float() / temperature
        mask = torch.ones_like(s, dtype=torch.bool)
        if labels is not None and head in labels:
            mask = labels[head].to(s.device) != -100
        if mask.any():
            p = torch.sigmoid(t)
            kl = F.binary_cross_entropy_with_logits(s, p, reduction="none") - F.binary_cross_entropy_with_logits(
                t, p, reduction="none"
            )
            total = total + (kl * mask).sum() / mask.sum() * temperature**2
    return total


def distill_loss(task: str, outputs: Any, teacher_logits: Any, labels: Any, temperature: float) -> torch.Tensor:
    """The soft loss of one single-task batch (see the module docstring): the task's `distill_loss` in the task
    registry (`train/tasks.py`), on its logits."""
    from .tasks import TASK_SPECS  # the registry imports this module for the KD losses

    spec = TASK_SPECS[task]
    return spec.distill_loss(getattr(outputs, spec.logits), teacher_logits, labels, temperature)


__all__ = [
    "add_teacher_outputs", "cls_kd_loss", "check_teacher_labels", "check_tokenizer", "distill_loss",
    "ner_kd_loss", "parse_teachers", "prepare_teachers", "public_name", "qa_kd_loss",
]  # fmt: skip
