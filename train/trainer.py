"""`MultiTaskTrainer`: a `transformers.Trainer` that interleaves single-task batches and evaluates per task.

It overrides only what multi-task training needs: the training dataloader (the task-interleaving batch
sampler), the loss (per-task losses logged as `loss_ner`, `loss_cls`, `loss_qa`) and `evaluate` (each task
on its own validation set, windows folded back into records, one `composite` for checkpoint selection).
Schedules, clipping, mixed precision, checkpointing, early stopping, MLflow reporting and distributed launch
are the Trainer's own.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from torch.utils.data import DataLoader, Dataset
from transformers import Trainer

from .distill import distill_loss
from .evaluation import evaluate_tasks
from .model_card import write_model_card
from .sampler import MultiTaskBatchSampler, task_lengths

logger = logging.getLogger(__name__)


class MultiTaskDataset(Dataset):
    """The task datasets side by side in one index space (task order as given); rows carry their `task`."""

    def __init__(self, datasets: dict) -> None:
        self.datasets = {task: ds for task, ds in datasets.items() if ds is not None and len(ds) > 0}
        self.offsets: dict[str, int] = {}
        total = 0
        for task, dataset in self.datasets.items():
            self.offsets[task] = total
            total += len(dataset)
        self._length = total

    @property
    def task_sizes(self) -> dict[str, int]:
        return {task: len(ds) for task, ds in self.datasets.items()}

    def __len__(self) -> int:
        return self._length

    def _locate(self, index: int) -> tuple[str, int]:
        for task in reversed(list(self.offsets)):
            if index >= self.offsets[task]:
                return task, index - self.offsets[task]
        raise IndexError(index)

    def __getitem__(self, index: int) -> dict:
        task, local = self._locate(index)
        return {**self.datasets[task][local], "task": task}

    def __getitems__(self, indices: list[int]) -> list[dict]:
        # A batch is one task: fetch its rows in one columnar read.
        task, first = self._locate(indices[0])
        local = [index - self.offsets[task] for index in indices]
        columns = self.datasets[task][local]
        return [{**{key: values[i] for key, values in columns.items()}, "task": task} for i in range(len(local))]


class MultiTaskTrainer(Trainer):
    """Trainer for [`AttentionFusionModel`] over several tasks.

    Args:
        train_datasets: tokenised training set per task (`{"ner": ..., "cls": ..., "qa": ...}`).
        eval_datasets: tokenised validation set per task.
        sampling_strategy: `shuffled`, `proportional`, `temperature` or `round_robin` (see `sampler`).
        sampling_temperature: `T` of the `temperature` strategy.
        head_learning_rate: learning rate of the heads and poolers (everything outside `model.encoder`); the
            encoder keeps `args.learning_rate`. `None`: one rate for all.
        distill_alpha: weight of the distillation (soft) loss against the hard one on batches that carry teacher
            outputs (`teacher_logits`, see `distill.py`); logged per task as `loss_<task>_kd`.
        distill_temperature: temperature of the soft targets.
        All other arguments are the Trainer's (`model`, `args`, `data_collator`, `callbacks`, ...).

    Example:
        >>> trainer = MultiTaskTrainer(model=model, args=args, train_datasets=train, eval_datasets=val,
        ...                            data_collator=collator, sampling_strategy="temperature")  # doctest: +SKIP
        >>> trainer.train()  # doctest: +SKIP
    """

    def __init__(
        self,
        *args,
        train_datasets: dict | None = None,
        eval_datasets: dict | None = None,
        sampling_strategy: str = "shuffled",
        sampling_temperature: float = 2.0,
        head_learning_rate: float | None = None,
        distill_alpha: float = 0.5,
        distill_temperature: float = 2.0,
        **kwargs,
    ) -> None:
        self.head_learning_rate = head_learning_rate
        self.distill_alpha = distill_alpha
        self.distill_temperature = distill_temperature
        self.train_datasets = train_datasets or {}
        self.eval_datasets = eval_datasets or {}
        self.sampling_strategy = sampling_strategy
        self.sampling_temperature = sampling_temperature
        train_dataset = MultiTaskDataset(self.train_datasets) if self.train_datasets else None
        # Trainer.evaluate is replaced below; this only tells the Trainer there is something to evaluate.
        eval_dataset = next((ds for ds in self.eval_datasets.values() if ds is not None), None)
        super().__init__(*args, train_dataset=train_dataset, eval_dataset=eval_dataset, **kwargs)
        # Fail now, not after the first epoch, on an unknown strategy.
        if train_dataset is not None:
            self.make_batch_sampler()
        self._task_losses: dict[str, list[float]] = defaultdict(list)

    # ------------------------------------------------------------------ optimizer
    def create_optimizer(self, model=None):
        """The Trainer's optimizer (its class, kwargs and weight-decay split), with the heads and poolers in
        parameter groups of their own at `head_learning_rate` when one is set: freshly initialised heads on a
        pretrained encoder learn far faster with a higher rate than the encoder tolerates."""
        if self.head_learning_rate is None or self.optimizer is not None:
            return super().create_optimizer(model)
        opt_model = self.model if model is None else model
        decay = set(self.get_decay_parameter_names(opt_model))
        groups: dict[tuple[bool, bool], list] = {}
        for name, param in opt_model.named_parameters():
            if param.requires_grad:
                is_head = not name.startswith(("encoder.", "module.encoder."))
                groups.setdefault((is_head, name in decay), []).append(param)
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        param_groups = [
            {
                "params": params,
                "weight_decay": self.args.weight_decay if decayed else 0.0,
                **({"lr": self.head_learning_rate} if is_head else {}),
            }
            for (is_head, decayed), params in sorted(groups.items())
        ]
        self.optimizer = optimizer_cls(param_groups, **optimizer_kwargs)
        return self.optimizer

    # ------------------------------------------------------------------ training data
    def make_batch_sampler(self) -> MultiTaskBatchSampler:
        return MultiTaskBatchSampler(
            self.train_dataset.task_sizes,
            batch_size=self._train_batch_size,
            strategy=self.sampling_strategy,
            seed=self.args.seed,
            temperature=self.sampling_temperature,
            num_replicas=self.args.world_size,
            drop_last=self.args.dataloader_drop_last,
            # `train_sampling_strategy: group_by_length` groups windows of similar length inside each task's steps
            lengths=task_lengths(self.train_dataset) if self.args.train_sampling_strategy == "group_by_length" else None,
        )

    def get_train_dataloader(self) -> DataLoader:
        if self.train_dataset is None:
            raise ValueError("MultiTaskTrainer: training requires train_datasets")
        loader = DataLoader(
            self.train_dataset,
            batch_sampler=self.make_batch_sampler(),
            collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
        )
        # Accelerate shards the batch sampler: batch k goes to rank k % world_size. The sampler emits each
        # step as world_size consecutive batches of one task, so all ranks train the same task per step.
        return self.accelerator.prepare(loader)

    # ------------------------------------------------------------------ loss
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        # The model normalises each task's loss itself (`accepts_loss_kwargs = False`): the Trainer divides every
        # loss by the gradient-accumulation steps alike, whatever the shape of the task's labels.
        teacher_logits = inputs.pop("teacher_logits", None)
        outputs = model(**inputs)
        if outputs.task_losses:
            for task, value in outputs.task_losses.items():
                self._task_losses[task].append(float(value.detach()))
        loss = outputs.loss
        if teacher_logits is not None and outputs.task_losses:
            # One task per batch: its weighted hard loss becomes weight * ((1 - alpha) * hard + alpha * soft).
            task = inputs["task"]
            soft = distill_loss(task, outputs, teacher_logits, inputs.get("labels"), self.distill_temperature)
            self._task_losses[f"{task}_kd"].append(float(soft.detach()))
            weight = self.accelerator.unwrap_model(model).config.task_loss_weights[task]
            alpha = self.distill_alpha
            loss = weight * ((1.0 - alpha) * outputs.task_losses[task] + alpha * soft)
            outputs.loss = loss
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self._task_losses:
            for task, values in self._task_losses.items():
                logs[f"loss_{task}"] = round(sum(values) / len(values), 4)
            self._task_losses.clear()
        super().log(logs, start_time)

    # ------------------------------------------------------------------ model card
    def create_model_card(self, **kwargs) -> None:
        """The helpline-fusion card in `output_dir/README.md`, never the Trainer's generic draft: the card data the
        trainer's `ModelCardCallback` gathered (`model_card.write_model_card`); keyword arguments that name card data
        fields (`calibration=...`) override it, others (what `Trainer.push_to_hub` passes) are ignored."""
        write_model_card(self, **kwargs)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        """Evaluate each task on its own validation set; keys such as `eval_ner_f1`, `eval_composite`."""
        datasets = eval_dataset if isinstance(eval_dataset, dict) else self.eval_datasets
        model = self.accelerator.unwrap_model(self.model)
        was_training = model.training
        metrics = evaluate_tasks(
            model, datasets, self.data_collator, batch_size=self.args.per_device_eval_batch_size, bf16=self.args.bf16
        )
        model.train(was_training)
        metrics = {f"{metric_key_prefix}_{key}": value for key, value in metrics.items()}
        if self.state.epoch is not None:
            metrics[f"{metric_key_prefix}_epoch"] = self.state.epoch
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics
