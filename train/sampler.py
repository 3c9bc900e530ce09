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
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence

from torch.utils.data import Sampler

STRATEGIES = ("shuffled", "proportional", "temperature", "round_robin")


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
        streams = {task: _Cycle(size, rng) for task, size in self.task_sizes.items()}
        for task in self.task_schedule():
            offset = self.offsets[task]
            for _ in range(self.num_replicas):
                yield [offset + index for index in streams[task].take(self.batch_size)]


class _Cycle:
    """Endless shuffled passes over `range(size)`; a pass ends before the next one starts to repeat."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size, self.rng = size, rng
        self.order: list[int] = []

    def take(self, count: int) -> list[int]:
        batch: list[int] = []
        while len(batch) < count:
            if not self.order:
                self.order = list(range(self.size))
                self.rng.shuffle(self.order)
            batch.append(self.order.pop())
        return batch


def task_sequence(sampler: MultiTaskBatchSampler, batches: Sequence[list[int]]) -> list[str]:
    """The task of each batch (for tests and logging)."""
    return [sampler.task_of(batch[0]) for batch in batches]
