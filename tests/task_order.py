"""A `MultiTaskTrainer` that records the task of every training batch it runs (test instrumentation only; the
shipped trainer keeps no such history)."""

from __future__ import annotations

from helpline_fusion.train.trainer import MultiTaskTrainer


class TaskOrderTrainer(MultiTaskTrainer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.task_history: list[str] = []  # the task of every training batch this process ran, in order

    def training_step(self, model, inputs, num_items_in_batch=None):
        self.task_history.append(inputs["task"])
        return super().training_step(model, inputs, num_items_in_batch)
