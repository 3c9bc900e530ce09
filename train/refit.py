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

The heads train through a `transformers.Trainer` of their own (`HeadsRefitTrainer`): the heads as one module over
the cached states (`PooledHeads`), the Trainer's AdamW, constant schedule, clipping, callbacks and per-epoch loss
logging; batches are one task each, shuffled within and across tasks by the seed (`TaskBatchSampler`). Distributed
runs refit data-parallel through the same Trainer (DDP keeps the heads equal on every process).
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
import time
from collections.abc import Collection
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from .tasks import TASK_SPECS

logger = logging.getLogger(__name__)

TASKS = tuple(task for task, spec in TASK_SPECS.items() if spec.refit)  # the pooled (sentence-level) heads


@torch.no_grad()
def cache_pooling_inputs(
    model, dataset, collator, batch_size: int, bf16: bool = False, task: str = "cls"
) -> list[dict[str, Any]]:
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
            encoded = model.encoder(**inputs, output_hidden_states=True, return_dict=True)
        states = model.pooling_states(encoded, task)  # what this task's pooling reads (a layer, or all of them)
        states = torch.stack(states, dim=1) if mixing else states
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


def collate_windows(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """Cached windows of one task -> the `PooledHeads` inputs: states padded to the longest window, its mask,
    the labels per head and, for quality heads pooling over turns, the turn ids (-1 on padding, as the collator)."""
    lengths = [w["states"].shape[-2] for w in windows]
    longest = max(lengths)
    first = windows[0]["states"]
    states = first.new_zeros((len(windows), *first.shape[:-2], longest, first.shape[-1]))
    mask = torch.zeros(len(windows), longest, dtype=torch.long)
    for row, (window, length) in enumerate(zip(windows, lengths)):
        states[row, ..., :length, :] = window["states"]
        mask[row, :length] = 1
    labels = {head: torch.stack([w["labels"][head] for w in windows]) for head in windows[0]["labels"]}
    batch = {"task": windows[0]["task"], "states": states, "attention_mask": mask, "labels": labels}
    if "turn_ids" in windows[0]:
        turn_ids = torch.full((len(windows), longest), -1, dtype=torch.long)
        for row, (window, length) in enumerate(zip(windows, lengths)):
            turn_ids[row, :length] = window["turn_ids"]
        batch["turn_ids"] = turn_ids
    return batch


class PooledHeads(nn.Module):
    """The case and quality heads of a model (the same modules, so training this trains them in place) as one
    model over cached encoder states: the model the refit Trainer trains. `forward` returns the task's loss."""

    def __init__(self, model, tasks: Collection[str]) -> None:
        super().__init__()
        self.heads = nn.ModuleDict({task: getattr(model, TASK_SPECS[task].head) for task in tasks})
        self.case_class_weights = model.config.case_class_weights
        self.mixing = bool(model.config.pool_layer_mix)

    def forward(self, task: str, states: torch.Tensor, attention_mask: torch.Tensor, labels: dict, turn_ids=None):
        # states: (batch, tokens, hidden), or (batch, layers + 1, tokens, hidden) with pool_layer_mix
        pooled_input = tuple(states.unbind(dim=1)) if self.mixing else states
        turns = {"turn_ids": turn_ids} if turn_ids is not None else {}
        logits, _ = self.heads[task](pooled_input, attention_mask, **turns)
        return TASK_SPECS[task].loss(logits, labels, self.case_class_weights)


class CachedWindows(Dataset):
    """The cached windows of every task in one index space (task order as given); rows carry their `task`."""

    def __init__(self, cache: dict[str, list[dict[str, Any]]]) -> None:
        self.rows = [{**window, "task": task} for task, windows in cache.items() for window in windows]
        self.sizes = {task: len(windows) for task, windows in cache.items()}

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]


class TaskBatchSampler:
    """Each epoch: every task's windows shuffled into batches of `batch_size`, then the batches of all tasks
    shuffled together, all from one generator seeded by `seed` (one seed, one order, on every process)."""

    def __init__(self, sizes: dict[str, int], batch_size: int, seed: int) -> None:
        self.sizes, self.batch_size = sizes, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return sum(math.ceil(size / self.batch_size) for size in self.sizes.values())

    def __iter__(self):
        batches, offset = [], 0
        for size in self.sizes.values():
            order = torch.randperm(size, generator=self.generator).tolist()
            batches += [[offset + i for i in order[j : j + self.batch_size]] for j in range(0, size, self.batch_size)]
            offset += size
        for index in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[index]


class EpochLosses(TrainerCallback):
    """Mean training loss per task and epoch (weighted by windows), for the refit report and the run's log."""

    def __init__(self, tasks: Collection[str]) -> None:
        self.per_epoch: dict[str, list[float]] = {task: [] for task in tasks}
        self.sums: dict[str, list[float]] = {task: [0.0, 0] for task in tasks}

    def add(self, task: str, loss: torch.Tensor, windows: int) -> None:
        self.sums[task][0] += float(loss.detach()) * windows
        self.sums[task][1] += windows

    def on_epoch_end(self, args, state, control, **kwargs):
        for task, (total, count) in self.sums.items():
            self.per_epoch[task].append(round(total / max(count, 1), 4))
            self.sums[task] = [0.0, 0]


class HeadsRefitTrainer(Trainer):
    """A `Trainer` over cached encoder states (`CachedWindows`, `PooledHeads`): batches of one task from
    `TaskBatchSampler`, the task's loss from the heads, each batch's loss counted into `EpochLosses`."""

    def __init__(self, *args, batch_sampler: TaskBatchSampler, epoch_losses: EpochLosses, **kwargs) -> None:
        self.batch_sampler, self.epoch_losses = batch_sampler, epoch_losses
        super().__init__(*args, callbacks=[epoch_losses], **kwargs)
        for quiet in (PrinterCallback, ProgressCallback):  # the run's trainer logs the refit's losses per epoch
            self.remove_callback(quiet)

    def get_train_dataloader(self) -> DataLoader:
        # Its own generator for the loader's per-epoch base seed, so that the global one drives only the dropout.
        loader = DataLoader(self.train_dataset, batch_sampler=self.batch_sampler, collate_fn=collate_windows,
                            generator=torch.Generator().manual_seed(self.args.seed))  # fmt: skip
        return self.accelerator.prepare(loader)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss = model(**inputs)
        self.epoch_losses.add(inputs["task"], loss, len(inputs["states"]))
        return (loss, None) if return_outputs else loss


def refit_arguments(
    epochs: int, learning_rate: float, weight_decay: float, batch_size: int, seed: int, max_grad_norm: float | None,
    output_dir: str, use_cpu: bool,
) -> TrainingArguments:
    """The refit's `TrainingArguments`: a constant learning rate, no warmup, no checkpoints, no evaluation and no
    reporting of its own (the run's trainer logs the refit's losses into the run)."""
    return TrainingArguments(
        output_dir=output_dir, num_train_epochs=epochs, learning_rate=learning_rate, weight_decay=weight_decay,
        lr_scheduler_type="constant", warmup_steps=0, per_device_train_batch_size=batch_size, seed=seed,
        max_grad_norm=max_grad_norm or 0.0, save_strategy="no", eval_strategy="no", logging_strategy="epoch",
        report_to=[], disable_tqdm=True, remove_unused_columns=False, dataloader_num_workers=0, use_cpu=use_cpu,
        ddp_find_unused_parameters=True,  # a batch trains one task's head; the other's get no gradient
    )  # fmt: skip


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
    qa_refit_c: float | None = None,
) -> dict[str, Any]:
    """Train the case and quality heads of `model` for `epochs` passes over `datasets` (task -> tokenised training
    windows) with the encoder frozen, through `HeadsRefitTrainer`: the Trainer's AdamW at a constant
    `learning_rate`, `weight_decay` on the Trainer's decay parameters (`decay_parameter_names` is accepted for
    callers of the earlier loop; the Trainer's own rule gives the same split), batches of `batch_size` windows of
    one task, shuffled within and across tasks by `seed`, gradients clipped to `max_grad_norm`. With `qa_refit_c`
    the quality heads' rows are then fitted as logistic regressions on the same cached windows
    (`fit_quality_heads`); `epochs` may be 0 then. Returns a report: windows per task, mean training loss per task
    and epoch, seconds (and `qa_logistic`). Changes the heads in place; nothing else.

    Example:
        >>> report = refit_pooled_heads(model, {"cls": windows}, collator, epochs=4, learning_rate=1e-3)  # doctest: +SKIP
        >>> report["train_loss"]["cls"]  # one mean loss per epoch  # doctest: +SKIP
    """
    if epochs < 0:
        raise ValueError(f"refit_heads_epochs: expected 0 or more epochs, got {epochs}")
    tasks = _refit_tasks(model, datasets)
    if qa_refit_c is not None:
        check_qa_refit_c(qa_refit_c)
    logistic = qa_refit_c is not None and "qa" in tasks
    if not tasks or not (epochs or logistic):
        return {}
    if not epochs:
        tasks = ["qa"]  # the logistic fit alone: only the quality windows are cached
    started = time.perf_counter()
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()  # the encoder (and NER head) frozen, without dropout; the Trainer puts the heads in train mode
    # The seed drives the heads' dropout and the batch order; the global generator is left as it was.
    with torch.random.fork_rng(devices=[]), tempfile.TemporaryDirectory(prefix="refit-") as scratch:
        torch.manual_seed(seed)
        try:
            cache = {task: cache_pooling_inputs(model, datasets[task], collator, batch_size, bf16, task) for task in tasks}
            cache_seconds = time.perf_counter() - started
            log_cache(cache, epochs, cache_seconds)
            losses = EpochLosses(tasks)
            steps = 0
            if epochs:
                args = refit_arguments(epochs, learning_rate, weight_decay, batch_size, seed, max_grad_norm, scratch,
                                       use_cpu=device.type == "cpu")  # fmt: skip
                trainer = _refit_trainer(model, tasks, cache, args, losses, batch_size, seed)
                trainer.train()
                steps = trainer.state.global_step
            if logistic:
                fitted = time.perf_counter()
                ids = datasets["qa"]["example_id"] if "example_id" in datasets["qa"].column_names else None
                qa_report = fit_quality_heads(model, cache["qa"], qa_refit_c, ids)
                qa_report["seconds"] = round(time.perf_counter() - fitted, 1)
                logger.info("quality heads fitted as logistic regressions (C %g) in %.0f s: training log loss %s",
                            qa_refit_c, qa_report["seconds"], qa_report["train_log_loss"])  # fmt: skip
        finally:
            model.train(was_training)
    report = {
        "epochs": epochs,
        "learning_rate": learning_rate,
        "windows": {task: len(windows) for task, windows in cache.items()},
        "train_loss": losses.per_epoch if epochs else {},
        "steps": steps,
        "cache_seconds": round(cache_seconds, 1),
        "seconds": round(time.perf_counter() - started, 1),
        **({"qa_logistic": qa_report} if logistic else {}),
    }
    logger.info("refit done in %.0f s; training loss per epoch: %s", report["seconds"], losses.per_epoch)
    return report


def check_qa_refit_c(c: Any) -> None:
    """`qa_refit_c` must be an inverse regularisation strength > 0 (checked before training and by the fit)."""
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not c > 0:
        raise ValueError(f"qa_refit_c: expected an inverse regularisation strength > 0, got {c!r}")


@torch.no_grad()
def quality_features(head: nn.Module, windows: list[dict[str, Any]], batch_size: int = 64):
    """The features the turn-pooled quality heads' linear layers read (`TurnPooledMultiHead.features`) for cached
    quality windows: `attended` `(windows, queries, hidden)` and `shared` `(windows, 3 x hidden)`, float64, and the
    labels per head `(windows, sub-metrics)` (-100: not applicable)."""
    was_training = head.training
    head.eval()
    attended, shared, labels = [], [], {}
    try:
        for start in range(0, len(windows), batch_size):
            batch = collate_windows([{**w, "task": "qa"} for w in windows[start : start + batch_size]])
            states = tuple(batch["states"].unbind(dim=1)) if batch["states"].dim() == 4 else batch["states"]
            own, common, *_ = head.features(states, batch["attention_mask"], batch["turn_ids"])
            attended.append(own.double())
            shared.append(common.double())
            for name, value in batch["labels"].items():
                labels.setdefault(name, []).append(value)
    finally:
        head.train(was_training)
    return torch.cat(attended), torch.cat(shared), {name: torch.cat(values) for name, values in labels.items()}


def fit_logistic(x: torch.Tensor, y: torch.Tensor, c: float, max_iter: int = 500) -> tuple[torch.Tensor, float, int]:
    """L2-regularised logistic regression, scikit-learn's objective (`C x sum of log losses + |w|^2 / 2`, the
    intercept not penalised) on standardised columns of `x` (`(n, features)`, float64), by L-BFGS with a strong
    Wolfe line search. Returns the weight and intercept on the *original* columns (the standardisation folded in)
    and the iterations used. `y` holds 0 / 1."""
    mean, spread = x.mean(dim=0), x.std(dim=0, unbiased=False) + 1e-6
    z = (x - mean) / spread
    target = y.double()
    weight = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, history_size=20,
                                  tolerance_grad=1e-9, tolerance_change=1e-12, line_search_fn="strong_wolfe")  # fmt: skip
    count = len(target)

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        # Divided by C x n: the same minimiser, at a scale the tolerances suit whatever the number of windows.
        loss = nn.functional.binary_cross_entropy_with_logits(z @ weight + bias, target, reduction="mean")
        loss = loss + (weight @ weight) / (2.0 * c * count)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(objective)
    iterations = int(optimizer.state[weight].get("n_iter", 0))
    folded = weight.detach() / spread
    return folded, float(bias.detach() - folded @ mean), iterations


def scope_masks(example_ids: list[int] | None, count: int) -> dict[str, torch.Tensor]:
    """`{"first": ..., "last": ...}` bool masks over `count` windows: each call's first and last window (by
    `example_id`, in window order; a one-window call is both). Without ids every window is both."""
    if example_ids is None:
        everything = torch.ones(count, dtype=torch.bool)
        return {"first": everything, "last": everything}
    if len(example_ids) != count:
        raise ValueError(f"qa_refit_c: {len(example_ids)} example ids for {count} cached windows")
    first_of, last_of = {}, {}
    for index, example in enumerate(example_ids):
        first_of.setdefault(example, index)
        last_of[example] = index
    masks = {"first": torch.zeros(count, dtype=torch.bool), "last": torch.zeros(count, dtype=torch.bool)}
    masks["first"][list(first_of.values())] = True
    masks["last"][list(last_of.values())] = True
    return masks


def fit_quality_heads(
    model: Any, windows: list[dict[str, Any]], c: float, example_ids: list[int] | None = None
) -> dict[str, Any]:
    """`qa_refit_c`: refit every quality sub-metric's row of the turn-pooled heads as an L2-regularised logistic
    regression (`fit_logistic`, inverse strength `c`) on the features it reads, over the cached training windows;
    the turn attention, the LayerNorm and the layer mix stay as they are. Strong regularisation is what carries to
    wording unlike the training calls (on frozen MiniLM states of held-out phrasing families a probe with C 0.01
    beats C 0.1, and on the quickstart's trained states C 0.001 beats the gradient-trained heads by 0.05 macro F1
    at two seeds; docs/results.md). A sub-metric whose training windows hold one answer only gets no weight and its
    smoothed log-odds as intercept. A head that `qa_window_scope` decides on one window of a call (the opening on
    its first, the closing on its last) is fitted on those windows only (`example_ids`, one per cached window, say
    which they are): a later window of a call carries the call's opening label but cannot show the opening.
    Returns the report: windows, iterations and the training log loss per head."""
    check_qa_refit_c(c)
    head = getattr(model, TASK_SPECS["qa"].head, None)
    if head is None or not hasattr(head, "features"):
        raise ValueError("qa_refit_c: the logistic refit fits the turn-pooled quality heads; this model's quality "
                         "heads do not pool over turns (set qa_pooling: turns, or leave qa_refit_c unset)")
    attended, shared, labels = quality_features(head, windows)
    scopes = dict(getattr(model.config, "qa_window_scope", None) or {})
    masks = scope_masks(example_ids, len(windows))
    report: dict[str, Any] = {"c": c, "windows": len(windows), "iterations": {}, "train_log_loss": {},
                              "scoped_windows": {}}  # fmt: skip
    for name, layer in head.heads.items():
        start = head.slices[name].start
        iterations, losses = [], []
        if name not in labels:
            continue  # the training data has no labels for this head: it keeps what training left
        for j in range(layer.out_features):
            gold = labels[name][:, j]
            keep = gold != -100
            if scopes.get(name) in masks:
                keep = keep & masks[scopes[name]]
                report["scoped_windows"][name] = int(masks[scopes[name]].sum())
            if not keep.any():
                continue  # no window says: the row keeps what training left
            x = torch.cat([attended[keep, start + j], shared[keep]], dim=-1)
            y = gold[keep].double()
            positives = float(y.sum())
            if positives in (0.0, float(len(y))):
                weight, bias, used = torch.zeros(x.shape[1], dtype=torch.float64), math.log(
                    (positives + 0.5) / (len(y) - positives + 0.5)), 0
            else:
                weight, bias, used = fit_logistic(x, y, c)
            with torch.no_grad():
                layer.weight[j] = weight.to(layer.weight.dtype)
                layer.bias[j] = bias
                logits = x @ weight + bias
                losses.append(float(nn.functional.binary_cross_entropy_with_logits(logits, y)))
            iterations.append(used)
        report["iterations"][name] = iterations
        report["train_log_loss"][name] = round(sum(losses) / max(len(losses), 1), 4)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        for parameter in head.heads.parameters():  # every process fitted the same windows; rank 0's answer is kept
            torch.distributed.broadcast(parameter.data, src=0)
    return report


def _refit_tasks(model: Any, datasets: dict[str, Any]) -> list[str]:
    """The tasks whose head the model has and whose training windows are given and not empty, in `TASKS` order."""
    return [
        task for task in TASKS
        if getattr(model, TASK_SPECS[task].head, None) is not None and datasets.get(task) is not None
        and len(datasets[task])
    ]  # fmt: skip


def _refit_trainer(
    model: Any, tasks: list[str], cache: dict[str, list], args: TrainingArguments, losses: EpochLosses,
    batch_size: int, seed: int,
) -> HeadsRefitTrainer:  # fmt: skip
    """The `HeadsRefitTrainer` over the cached windows of `tasks`, batched one task at a time."""
    return HeadsRefitTrainer(
        model=PooledHeads(model, tasks),
        args=args,
        train_dataset=CachedWindows(cache),
        batch_sampler=TaskBatchSampler({task: len(cache[task]) for task in tasks}, batch_size, seed),
        epoch_losses=losses,
    )  # fmt: skip


def log_cache(cache: dict[str, list], epochs: int, seconds: float) -> None:
    cached_bytes = sum(w["states"].numel() * 4 for windows in cache.values() for w in windows)
    logger.info(
        "refitting the %s heads for %d epochs on the frozen encoder: %s windows cached (%.0f MB, %.0f s)",
        " and ".join(cache), epochs, {task: len(windows) for task, windows in cache.items()}, cached_bytes / 2**20,
        seconds,
    )  # fmt: skip
