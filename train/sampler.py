"""Task-interleaving batch sampler: single-task batches, named and seeded strategies, distributed-safe.

The sampler works in a *global index space* over the concatenated task datasets (task `t`'s example `i`
is `offsets[t] + i`, see [`MultiTaskDataset`]) and yields lists of global indices, each list from one task.

Distributed training: every optimisation step must train the same task on every rank, or DDP would
all-reduce gradients of different heads (hang or mixed gradients). The sampler therefore emits each step
as `num_replicas` *consecutive* batches of the same task, each from a different slice of that task's
shuffled order; Accelerate's `BatchSamplerShard` then gives batch `k` to rank `k % num_replicas`, so at
every step all ranks train one task, each on its own shard. With one process it is a plain batch sampler.

Strategies (`STRATEGIES`):
- `shuffled`: every batch of every task once per epoch, all shuffled together (the original strategy).
- `proportional`: each step draws a task with probability proportional to its number of batches.
- `temperature`: probability proportional to `size ** (1 / T)` (`T=1` is proportional, large `T` uniform).
- `round_robin`: tasks take turns, one step each.
Sampled strategies run as many steps per epoch as `shuffled`; a task drawn more often than it has batches
cycles through a fresh shuffle of its data, so small tasks are revisited rather than starved.

Length grouping (`lengths`, off by default; the Trainer turns it on with `train_sampling_strategy:
group_by_length`): inside each task, each shuffled pass is cut into megabatches of `GROUP_STEPS` steps, each
megabatch is sorted by window length (longest first), cut into steps, and the steps of the pass are shuffled
again. A step's windows (on every rank) then have similar lengths, so dynamic padding pads little, while every
window is still seen once per pass and the task schedule (which task trains at each step) is exactly the one
without grouping: it is drawn from the seed alone.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from typing import Any

from torch.utils.data import Sampler

STRATEGIES = ("shuffled", "proportional", "temperature", "round_robin")
GROUP_STEPS = 50  # steps per megabatch that length grouping sorts (transformers' LengthGroupedSampler uses 50)


class MultiTaskBatchSampler(Sampler[list[int]]):
    """Yields single-task batches of global indices.

    Args:
        task_sizes: number of examples per task, in task order (e.g. `{"ner": 900, "cls": 500, "qa": 700}`).
        batch_size: examples per batch on one process.
        strategy: one of `STRATEGIES`.
        seed: seeds the order; epoch `e` uses `seed + e`, so a resumed run replays the same order.
        temperature: `T` of the `temperature` strategy.
        num_replicas: number of processes that train together (consecutive batches of one step).
        drop_last: drop each task's last incomplete step instead of topping it up from its shuffle.
        lengths: per task, the length (tokens) of each example: group examples of similar length into the same
            step (see the module docstring). None (the default): no grouping.

    Example:
        >>> sampler = MultiTaskBatchSampler({"ner": 4, "cls": 2}, batch_size=2, strategy="round_robin", seed=0)
        >>> [sampler.task_of(batch[0]) for batch in sampler]
        ['ner', 'cls', 'ner']
    """

    def __init__(
        self,
        task_sizes: dict[str, int],
        batch_size: int,
        strategy: str = "shuffled",
        seed: int = 42,
        temperature: float = 2.0,
        num_replicas: int = 1,
        drop_last: bool = False,
        lengths: dict[str, Sequence[int]] | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"sampling_strategy: unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
        if batch_size < 1 or num_replicas < 1:
            raise ValueError(f"batch_size ({batch_size}) and num_replicas ({num_replicas}) must be at least 1")
        if temperature <= 0:
            raise ValueError(f"sampling_temperature: {temperature!r} must be positive")
        self.task_sizes = {task: int(size) for task, size in task_sizes.items() if int(size) > 0}
        if not self.task_sizes:
            raise ValueError(f"no training examples in any task (sizes: {task_sizes})")
        self.batch_size = batch_size
        self.strategy = strategy
        self.seed = seed
        self.temperature = temperature
        self.num_replicas = num_replicas
        self.drop_last = drop_last
        self.epoch = 0
        self.lengths = None
        if lengths is not None:
            self.lengths = {task: [int(n) for n in lengths[task]] for task in self.task_sizes if task in lengths}
            for task, size in self.task_sizes.items():
                if len(self.lengths.get(task, ())) != size:
                    raise ValueError(
                        f"lengths: task {task!r} has {size} examples but {len(self.lengths.get(task, ()))} lengths"
                    )
        self.offsets: dict[str, int] = {}
        offset = 0
        for task, size in task_sizes.items():
            self.offsets[task] = offset
            offset += int(size)

    # ------------------------------------------------------------------ sizes
    @property
    def step_size(self) -> int:
        """Examples of one task consumed by one step across all processes."""
        return self.batch_size * self.num_replicas

    def steps_per_task(self) -> dict[str, int]:
        rounding = math.floor if self.drop_last else math.ceil
        steps = {task: rounding(size / self.step_size) for task, size in self.task_sizes.items()}
        return {task: count for task, count in steps.items() if count > 0}

    def num_steps(self) -> int:
        return sum(self.steps_per_task().values())

    def __len__(self) -> int:
        return self.num_steps() * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def task_of(self, global_index: int) -> str:
        for task in reversed(list(self.offsets)):
            if global_index >= self.offsets[task]:
                return task
        raise IndexError(global_index)

    # ------------------------------------------------------------------ order
    def task_schedule(self, epoch: int | None = None) -> list[str]:
        """The task of each step of `epoch` (identical on every process: it depends on the seed only)."""
        rng = random.Random(self.seed + (self.epoch if epoch is None else epoch))
        steps = self.steps_per_task()
        tasks = list(steps)
        total = sum(steps.values())
        if self.strategy == "shuffled":
            schedule = [task for task in tasks for _ in range(steps[task])]
            rng.shuffle(schedule)
            return schedule
        if self.strategy == "round_robin":
            return [tasks[step % len(tasks)] for step in range(total)]
        exponent = 1.0 if self.strategy == "proportional" else 1.0 / self.temperature
        weights = [self.task_sizes[task] ** exponent for task in tasks]
        return rng.choices(tasks, weights=weights, k=total)

    def sampling_probabilities(self) -> dict[str, float]:
        """Expected share of steps per task under the strategy."""
        steps = self.steps_per_task()
        if self.strategy == "round_robin":
            return {task: 1 / len(steps) for task in steps}
        exponent = 1.0 if self.strategy in ("shuffled", "proportional") else 1.0 / self.temperature
        base = steps if self.strategy == "shuffled" else {t: self.task_sizes[t] ** exponent for t in steps}
        total = sum(base.values())
        return {task: value / total for task, value in base.items()}

    def __iter__(self) -> Iterator[list[int]]:
        rng = random.Random(f"{self.seed}:{self.epoch}:examples")
        streams = {
            task: _Cycle(size, rng, self.lengths[task] if self.lengths else None, self.step_size)
            for task, size in self.task_sizes.items()
        }
        for task in self.task_schedule():
            offset = self.offsets[task]
            for _ in range(self.num_replicas):
                yield [offset + index for index in streams[task].take(self.batch_size)]


class _Cycle:
    """Endless shuffled passes over `range(size)`; a pass ends before the next one starts to repeat. With `lengths`,
    each pass is length-grouped in steps of `step` examples (module docstring)."""

    def __init__(self, size: int, rng: random.Random, lengths: Sequence[int] | None = None, step: int = 1) -> None:
        self.size, self.rng, self.lengths, self.step = size, rng, lengths, step
        self.order: list[int] = []

    def _new_pass(self) -> list[int]:
        order = list(range(self.size))
        self.rng.shuffle(order)
        if self.lengths is None:
            return order
        lengths, span = self.lengths, GROUP_STEPS * self.step
        grouped = []
        for start in range(0, len(order), span):
            grouped += sorted(order[start : start + span], key=lambda index: -lengths[index])  # stable
        steps = [grouped[start : start + self.step] for start in range(0, len(grouped), self.step)]
        short = steps.pop() if len(steps[-1]) < self.step else []
        self.rng.shuffle(steps)  # whole steps; a short one stays last, so every step stays one sorted block
        return [index for step in [*steps, short] for index in step][::-1]  # taken from the end

    def take(self, count: int) -> list[int]:
        batch: list[int] = []
        while len(batch) < count:
            if not self.order:
                self.order = self._new_pass()
            batch.append(self.order.pop())
        return batch


def task_lengths(dataset: Any) -> dict[str, list[int]]:
    """The length of every example of each task of a `MultiTaskDataset` (its `input_ids`), for length grouping."""
    return {task: [len(ids) for ids in ds["input_ids"]] for task, ds in dataset.datasets.items()}


def task_sequence(sampler: MultiTaskBatchSampler, batches: Sequence[list[int]]) -> list[str]:
    """The task of each batch (for tests and logging)."""
    return [sampler.task_of(batch[0]) for batch in batches]
