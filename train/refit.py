"""Refit the case and quality heads on the trained encoder, frozen (`refit_heads_epochs`).

In a fused run the sentence-level heads get a small share of the optimizer steps (helpline-cpu: 76 case and 54
quality steps of 370) and the shared encoder moves under them between their updates (the NER steps in between).
When training ends the encoder stops moving, but the heads were last fitted to an encoder that no longer exists.
A few epochs of the case and quality heads (their poolings and linear layers) alone, on the final encoder's states
of the same training windows, let them catch up. The encoder and the NER head are not touched, so NER is exactly
what training left.

The encoder runs once over the training windows, without gradients, and its states (the pooling's input: the last
layer, or every layer with `pool_layer_mix`) are cached in memory without padding: `tokens x hidden x 4` bytes
(about 0.6 GB for the helpline-cpu recipe's 1023 windows, 423,000 tokens in all, at 384 hidden; times the number
of layers + 1 with the layer mix). An epoch of the heads then costs seconds. Calibration (temperatures, critical and
review thresholds) runs after the refit, on its heads.

Distributed runs refit on every process from the same full training windows and seed, so the heads stay equal.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Collection
from typing import Any

import torch

from ..modeling_attention_fusion.modeling_attention_fusion import cls_loss, qa_loss

logger = logging.getLogger(__name__)

TASKS = ("cls", "qa")


@torch.no_grad()
def cache_pooling_inputs(model, dataset, collator, batch_size: int, bf16: bool = False) -> list[dict[str, Any]]:
    """The frozen encoder's states of every window of `dataset` (one task's tokenised windows): one dict per
    window with `states` (`(tokens, hidden)`, or `(layers + 1, tokens, hidden)` with `pool_layer_mix`), padding
    removed, and `labels` (head -> that window's label tensor)."""
    mixing = bool(model.config.pool_layer_mix)
    device = next(model.parameters()).device
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    cached: list[dict[str, Any]] = []
    for start in range(0, len(dataset), batch_size):
        rows = [dataset[index] for index in range(start, min(start + batch_size, len(dataset)))]
        batch = collator(rows)
        mask = batch["attention_mask"].to(device)
        inputs = {"input_ids": batch["input_ids"].to(device), "attention_mask": mask}
        if "token_type_ids" in batch:
            inputs["token_type_ids"] = batch["token_type_ids"].to(device)
        with autocast:
            encoded = model.encoder(**inputs, output_hidden_states=mixing, return_dict=True)
        states = torch.stack(encoded.hidden_states, dim=1) if mixing else encoded.last_hidden_state
        labels = batch.get("labels") or {}
        for row in range(len(rows)):
            keep = mask[row].bool()  # the pooling ignores token order, so padding side does not matter
            window_states = states[row][:, keep] if mixing else states[row][keep]
            cached.append({
                "states": window_states.float().cpu(),
                "labels": {head: value[row] for head, value in labels.items()},
                **({"turn_ids": batch["turn_ids"][row][keep.cpu()]} if "turn_ids" in batch else {}),  # qa_pooling turns
            })  # fmt: skip
    return cached


def _collate(windows: list[dict[str, Any]], mixing: bool, device) -> tuple[Any, torch.Tensor, dict]:
    lengths = [w["states"].shape[-2] for w in windows]
    longest = max(lengths)
    first = windows[0]["states"]
    shape = (len(windows), *first.shape[:-2], longest, first.shape[-1])
    states = first.new_zeros(shape)
    mask = torch.zeros(len(windows), longest, dtype=torch.long)
    for row, (window, length) in enumerate(zip(windows, lengths)):
        states[row, ..., :length, :] = window["states"]
        mask[row, :length] = 1
    states, mask = states.to(device), mask.to(device)
    pooled_input = tuple(states.unbind(dim=1)) if mixing else states
    labels = {head: torch.stack([w["labels"][head] for w in windows]).to(device) for head in windows[0]["labels"]}
    if "turn_ids" in windows[0]:  # quality heads pooling over counsellor turns: -1 on padding, as the collator pads
        turn_ids = torch.full((len(windows), longest), -1, dtype=torch.long)
        for row, (window, length) in enumerate(zip(windows, lengths)):
            turn_ids[row, :length] = window["turn_ids"]
        labels["turn_ids"] = turn_ids.to(device)
    return pooled_input, mask, labels


def refit_pooled_heads(
    model,
    datasets: dict[str, Any],
    collator,
    *,
    epochs: int,
    learning_rate: float,
    weight_decay: float = 0.0,
    decay_parameter_names: Collection[str] = (),
    batch_size: int = 16,
    seed: int = 0,
    max_grad_norm: float | None = 1.0,
    bf16: bool = False,
) -> dict[str, Any]:
    """Train the case and quality heads of `model` for `epochs` passes over `datasets` (task -> tokenised training
    windows) with the encoder frozen: AdamW at `learning_rate`, `weight_decay` on the parameters named in
    `decay_parameter_names` (the Trainer's `get_decay_parameter_names(model)`, as in training), batches of
    `batch_size` windows of one task, shuffled within and across tasks by `seed`, gradients clipped to
    `max_grad_norm`. Returns a report: windows per task, mean training loss per task and epoch, seconds.
    Changes the heads in place; nothing else in the model."""
    if epochs < 0:
        raise ValueError(f"refit_heads_epochs: expected 0 or more epochs, got {epochs}")
    heads = {
        task: getattr(model, f"{task}_head")
        for task in TASKS
        if getattr(model, f"{task}_head", None) is not None and datasets.get(task) is not None and len(datasets[task])
    }
    if epochs == 0 or not heads:
        return {}
    started = time.perf_counter()
    was_training = model.training
    device = next(model.parameters()).device
    mixing = bool(model.config.pool_layer_mix)
    model.eval()
    # The heads' dropout draws from a generator seeded here (the global one is left as it was): one seed, one result,
    # on every process.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            cache = {task: cache_pooling_inputs(model, datasets[task], collator, batch_size, bf16) for task in heads}
            cached_bytes = sum(w["states"].numel() * 4 for windows in cache.values() for w in windows)
            cache_seconds = time.perf_counter() - started
            logger.info(
                "refitting the %s heads for %d epochs on the frozen encoder: %s windows cached (%.0f MB, %.0f s)",
                " and ".join(heads), epochs, {task: len(windows) for task, windows in cache.items()},
                cached_bytes / 2**20, cache_seconds,
            )  # fmt: skip
            decay, decayed, plain = set(decay_parameter_names), [], []
            for name, param in model.named_parameters():
                if name.split(".", 1)[0] in {f"{task}_head" for task in heads}:
                    (decayed if name in decay else plain).append(param)
            optimizer = torch.optim.AdamW(
                [{"params": decayed, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}],
                lr=learning_rate,
            )
            generator = torch.Generator().manual_seed(seed)
            losses: dict[str, list[float]] = {task: [] for task in heads}
            for head in heads.values():
                head.train()  # dropout as in training
            for _ in range(epochs):
                batches = []
                for task, windows in cache.items():
                    order = torch.randperm(len(windows), generator=generator).tolist()
                    batches += [(task, order[i : i + batch_size]) for i in range(0, len(order), batch_size)]
                sums = {task: [0.0, 0] for task in heads}
                for index in torch.randperm(len(batches), generator=generator).tolist():
                    task, rows = batches[index]
                    pooled_input, mask, labels = _collate([cache[task][row] for row in rows], mixing, device)
                    turns = {"turn_ids": labels.pop("turn_ids")} if "turn_ids" in labels else {}
                    logits, _ = heads[task](pooled_input, mask, **turns)
                    if task == "cls":
                        loss = cls_loss(logits, labels, model.config.case_class_weights)
                    else:
                        loss = qa_loss(logits, labels)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if max_grad_norm:
                        torch.nn.utils.clip_grad_norm_(list(heads[task].parameters()), max_grad_norm)
                    optimizer.step()
                    sums[task][0] += float(loss.detach()) * len(rows)
                    sums[task][1] += len(rows)
                for task, (total, count) in sums.items():
                    losses[task].append(round(total / max(count, 1), 4))
            optimizer.zero_grad(set_to_none=True)
        finally:
            model.train(was_training)
    report = {
        "epochs": epochs,
        "learning_rate": learning_rate,
        "windows": {task: len(windows) for task, windows in cache.items()},
        "train_loss": losses,
        "cache_seconds": round(cache_seconds, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }
    logger.info("refit done in %.0f s; training loss per epoch: %s", report["seconds"], losses)
    return report
