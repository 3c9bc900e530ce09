"""`MultiTaskTrainer`: a `transformers.Trainer` that interleaves single-task batches and evaluates per task.

It overrides only what multi-task training needs: the training dataloader (the task-interleaving batch
sampler), the loss (per-task losses logged as `loss_ner`, `loss_cls`, `loss_qa`) and `evaluate` (each task
on its own validation set, windows folded back into records, one `composite` for checkpoint selection).
Schedules, clipping, mixed precision, checkpointing, early stopping, MLflow reporting and distributed launch
are the Trainer's own.

Given a run (`run=RunRecord(...)`, as `train/training.py` and the Python API build it), `train()` is the whole job,
one visible sequence of named phases: the Trainer's training loop, then `save_trained` -> `refit_heads` ->
`calibrate_heads` -> `evaluate_final` -> `plot_curves` -> `write_card` (`phases.PHASES`), inside one MLflow run
(`tracking_run`), then `push_to_hub` when asked. Each phase logs its figures into the log history (and so MLflow).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections import defaultdict
from typing import Any

from torch.utils.data import DataLoader, Dataset
from transformers import Trainer
from transformers.integrations import MLflowCallback

from .anchor import EncoderAnchor
from .api import default_recipe, needs_preparing, prepare_records, tokenizer_of
from .calibration import calibrate, calibration_metrics
from .curves import plot_training_curves
from .distill import distill_loss
from .evaluation import evaluate_tasks
from .model_card import write_model_card
from .phases import (
    CALIBRATION_NAME,
    CURVES_NAME,
    PHASE_METHODS,
    REFIT_NAME,
    REPORT_NAME,
    TEACHER_OUTPUTS_NAME,
    TRAINING_STATE_NAME,
    PhaseFailed,
    RunRecord,
    RunSettingsCallback,
    TolerantMLflowCallback,
    UmaskCallback,
    apply_umask,
    distillation_summary,
    planned_phases,
    remove_checkpoints,
)
from .publish import push_with_trainer
from .refit import refit_pooled_heads
from .report import card_plots, run_plots
from .sampler import MultiTaskBatchSampler, task_lengths
from .settings import RecipeArguments

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
        layer_learning_rate_decay: `d`: encoder layer `k` of `L` learns at `args.learning_rate x d^(L - k)`, the
            embeddings at `d^L` (layer-wise decay); `None`: one rate for the encoder.
        qa_anchor_weight: weight of the anchor loss on quality batches (`anchor.EncoderAnchor`): the distance of the
            counsellor-turn vectors the quality heads read from those of a frozen copy of the encoder as training
            found it; logged as `loss_qa_anchor`. `None`: off.
        distill_alpha: weight of the distillation (soft) loss against the hard one on batches that carry teacher
            outputs (`teacher_logits`, see `distill.py`); logged per task as `loss_<task>_kd`.
        distill_temperature: temperature of the soft targets.
        run: the run the phases after training write (`phases.RunRecord`); None: `train()` is the Trainer's loop
            alone, nothing else is written.
        recipe: the settings of those phases (`refit_heads_epochs`, `calibrate`, `critical_recall_target`,
            `review_share`, `keep_checkpoints`, `license`, ...: a `ProjectArguments`).
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
        sampling_strategy: str = RecipeArguments.sampling_strategy,  # the recipe's defaults, set there once
        sampling_temperature: float = RecipeArguments.sampling_temperature,
        head_learning_rate: float | None = RecipeArguments.head_learning_rate,
        layer_learning_rate_decay: float | None = RecipeArguments.layer_learning_rate_decay,
        qa_anchor_weight: float | None = RecipeArguments.qa_anchor_weight,
        distill_alpha: float = RecipeArguments.distill_alpha,
        distill_temperature: float = RecipeArguments.distill_temperature,
        run: RunRecord | None = None,
        recipe: Any = None,
        **kwargs,
    ) -> None:
        if needs_preparing(train_datasets, eval_datasets):  # the Python API: records in, the recipe's phases on
            train_datasets, eval_datasets, run, recipe = self.prepare_records(kwargs, train_datasets, eval_datasets, recipe)
        self.run, self.recipe = run, recipe
        self.head_learning_rate = head_learning_rate
        if layer_learning_rate_decay is not None and not 0.0 < float(layer_learning_rate_decay) <= 1.0:
            raise ValueError(f"layer_learning_rate_decay: expected a factor in (0, 1], got {layer_learning_rate_decay!r}")
        self.layer_learning_rate_decay = layer_learning_rate_decay
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
        self.anchor = EncoderAnchor(self.accelerator.unwrap_model(self.model), qa_anchor_weight) if qa_anchor_weight else None
        if run is not None:
            self.add_run_callbacks()

    @staticmethod
    def prepare_records(kwargs: dict, train_datasets: dict, eval_datasets: dict | None, recipe: Any):
        """Records given for training (the Python API): checked, split, tokenised with the model's tokenizer
        (`processing_class`, else its encoder's) and a run in `args.output_dir` for the phases (`train/api.py`)."""
        from ..data.collator import MultiTaskCollator
        from .training import align_special_tokens

        model, args = kwargs.get("model"), kwargs.get("args")
        if model is None or args is None:
            raise ValueError("MultiTaskTrainer: with records, give model= and args= by keyword")
        tokenizer = kwargs.get("processing_class") or tokenizer_of(model)
        kwargs["processing_class"] = tokenizer
        align_special_tokens(model.config, tokenizer)
        kwargs.setdefault("data_collator", MultiTaskCollator(tokenizer, model.config))
        args.remove_unused_columns = False  # the collator reads the task columns
        recipe = recipe if recipe is not None else default_recipe(list(train_datasets or {}))
        train, validation, run = prepare_records(model, tokenizer, train_datasets or {}, eval_datasets, recipe, args)
        return train, validation, run, recipe

    def add_run_callbacks(self) -> None:
        """Checkpoints get the run's settings record and the user's umask; the MLflow callback logs into the run's
        one MLflow run and tolerates a server lost while training (`phases.TolerantMLflowCallback`)."""
        self.add_callback(UmaskCallback())
        self.add_callback(RunSettingsCallback(self.run.settings, self.run.folder.run_id))
        callbacks = self.callback_handler.callbacks
        for index, callback in enumerate(callbacks):
            if type(callback) is MLflowCallback:
                callbacks[index] = TolerantMLflowCallback()

    # ------------------------------------------------------------------ optimizer
    def create_optimizer(self, model=None):
        """The Trainer's optimizer (its class, kwargs and weight-decay split), with the heads and poolers in
        parameter groups of their own at `head_learning_rate` when one is set: freshly initialised heads on a
        pretrained encoder learn far faster with a higher rate than the encoder tolerates; with
        `layer_learning_rate_decay` each encoder layer in a group of its own at its decayed rate."""
        if (self.head_learning_rate is None and self.layer_learning_rate_decay is None) or self.optimizer is not None:
            return super().create_optimizer(model)
        opt_model = self.model if model is None else model
        decay = set(self.get_decay_parameter_names(opt_model))
        factors = self.layer_rate_factors(opt_model)
        groups: dict[tuple[bool, bool, float], list] = {}
        for name, param in opt_model.named_parameters():
            if param.requires_grad:
                is_head = not name.startswith(("encoder.", "module.encoder."))
                groups.setdefault((is_head, name in decay, factors.get(id(param), 1.0)), []).append(param)
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        param_groups = [
            {
                "params": params,
                "weight_decay": self.args.weight_decay if decayed else 0.0,
                "lr": (self.head_learning_rate or self.args.learning_rate) if is_head else self.args.learning_rate * factor,
            }
            for (is_head, decayed, factor), params in sorted(groups.items())
        ]
        self.optimizer = optimizer_cls(param_groups, **optimizer_kwargs)
        return self.optimizer

    def layer_rate_factors(self, model) -> dict[int, float]:
        """`id(parameter) -> d^(L - k)` for the encoder's embeddings (`k = 0`) and its `L` layers (`k = 1..L`) under
        `layer_learning_rate_decay` `d`; parameters not listed (the heads, an encoder's pooler) keep factor 1."""
        if self.layer_learning_rate_decay is None:
            return {}
        from torch import nn

        from ..modeling_attention_fusion.modeling_attention_fusion import _num_layers

        encoder = self.accelerator.unwrap_model(model).encoder
        total, d = _num_layers(encoder.config), float(self.layer_learning_rate_decay)
        stacks = [m for m in encoder.modules() if isinstance(m, nn.ModuleList) and len(m) == total]
        if not stacks:
            raise ValueError(f"layer_learning_rate_decay: found no list of {total} layers in {type(encoder).__name__}")
        factors = {id(p): d**total for p in encoder.get_input_embeddings().parameters()}
        embeddings = getattr(encoder, "embeddings", None)
        factors.update({id(p): d**total for p in (embeddings.parameters() if isinstance(embeddings, nn.Module) else [])})
        for depth, layer in enumerate(stacks[0], start=1):
            factors.update({id(p): d ** (total - depth) for p in layer.parameters()})
        return factors

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
        if self.anchor is not None and inputs.get("task") == "qa" and model.training:
            anchored = self.anchor.loss(inputs)  # added to the hard (or distilled) loss of the quality batch
            self._task_losses["qa_anchor"].append(float(anchored.detach()))
            loss = loss + anchored
            outputs.loss = loss
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self._task_losses:
            for task, values in self._task_losses.items():
                logs[f"loss_{task}"] = round(sum(values) / len(values), 4)
            self._task_losses.clear()
        super().log(logs, start_time)

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

    # ------------------------------------------------------------------ the run: training, then its phases
    def train_loop(self, resume_from_checkpoint=None, **kwargs):
        """The Trainer's training loop; the anchor (`qa_anchor_weight`) is detached from the model when it ends."""
        if self.anchor is not None:
            self.anchor.attach()
        try:
            return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)
        finally:
            if self.anchor is not None:
                self.anchor.remove()
    def train(self, resume_from_checkpoint=None, **kwargs):
        """The Trainer's training loop; with a run, the whole job: training, then the phases (`phases.PHASES`),
        all inside one MLflow run, then checkpoints removed and the push, as the recipe and arguments ask.

        Raises:
            PhaseFailed: a phase after training failed; the trained model is saved unless saving it failed.
        """
        if self.run is None:
            return self.train_loop(resume_from_checkpoint, **kwargs)
        self.run.folder.plan(planned_phases(self.recipe, self.eval_datasets))
        with self.tracking_run():
            output = self.train_loop(resume_from_checkpoint, **kwargs)
            self.run_phases()
        self.finish_run()
        return output

    def finish_phases(self) -> None:
        """The phases the run's manifest does not list as done, without training (`--resume_phases true`)."""
        for callback in self.callback_handler.callbacks:
            if isinstance(callback, TolerantMLflowCallback):
                callback.attach_to_open_run()
        with self.tracking_run():
            self.run_phases()
        self.finish_run()

    def run_phases(self) -> None:
        """Each pending phase by its method (`phases.PHASE_METHODS`), the manifest rewritten after each."""
        folder = self.run.folder
        for phase in list(folder.pending):
            try:
                getattr(self, PHASE_METHODS[phase])()
                folder.phase_done(phase)
            except Exception as error:
                raise PhaseFailed(phase, self.run.output_dir, list(folder.done), folder.pending, error) from error

    def finish_run(self) -> None:
        if self.run.folder.active and not getattr(self.recipe, "keep_checkpoints", True):
            removed = remove_checkpoints(self.run.output_dir)  # they served best-model selection and resuming
            if removed:
                logger.info("removed %s (keep_checkpoints: false)", ", ".join(removed))
        hub_tag = self.push_to_hub() if self.args.push_to_hub else None
        from .mlflow_model import log_run_model  # imports mlflow: only once a run ends

        # The trained model as an MLflow pyfunc in the job's run, registered when asked (train/mlflow_model.py).
        log_run_model(self.run.output_dir, self.recipe, self.args, self.run.mlflow_run_id,
                      hub_repo=getattr(self, "hub_model_id", None), hub_tag=hub_tag)  # fmt: skip

    @contextlib.contextmanager
    def tracking_run(self):
        """The job's one MLflow run, open from before training to after the last phase (the Trainer's callback
        finds it open, so it neither opens nor closes one); a resumed run reopens it by id. Nothing without
        MLflow in `report_to`, or off the main process; a run the caller opened is used and left open."""
        if "mlflow" not in (self.args.report_to or []) or not self.is_world_process_zero():
            yield None
            return
        import mlflow

        active = mlflow.active_run()
        if active is not None:
            self.run.mlflow_run_id = active.info.run_id
            yield mlflow
            return
        if self.run.mlflow_run_id is None and os.environ.get("MLFLOW_EXPERIMENT_NAME"):
            mlflow.set_experiment(os.environ["MLFLOW_EXPERIMENT_NAME"])
        with mlflow.start_run(run_id=self.run.mlflow_run_id, run_name=None if self.run.mlflow_run_id else self.args.run_name):
            self.run.mlflow_run_id = mlflow.active_run().info.run_id
            yield mlflow

    def mlflow(self):
        """The mlflow module while the job's MLflow run is open on this process, else None."""
        if "mlflow" not in (self.args.report_to or []) or not self.is_world_process_zero():
            return None
        import mlflow

        return mlflow if mlflow.active_run() is not None else None

    @property
    def trained_model(self):
        return self.accelerator.unwrap_model(self.model)

    # ------------------------------------------------------------------ the phases, in order
    def save_trained(self) -> None:
        """Phase `train`: the trained model, as soon as training returns: weights and remote code, config,
        tokenizer, label maps, the run's settings, its data report and its log history."""
        run = self.run
        self.save_run_model()
        run.folder.write_json("label_maps.json", self.trained_model.config.label_maps())
        if run.write_report and run.report is not None:
            run.folder.write_json(REPORT_NAME, run.report.to_dict())
        if run.teacher_outputs:
            run.folder.write_json(TEACHER_OUTPUTS_NAME, run.teacher_outputs)
        run.save_settings()
        self.write_state()
        run.folder.remove_stale()

    def refit_heads(self) -> None:
        """Phase `refit`: the case and quality heads catch up with the final encoder (`train/refit.py`, a Trainer
        over the cached encoder states), before calibration fits their temperatures and thresholds."""
        args, recipe, model = self.args, self.recipe, self.trained_model
        report = refit_pooled_heads(
            model, self.train_datasets, self.data_collator, epochs=recipe.refit_heads_epochs,
            learning_rate=recipe.head_learning_rate or args.learning_rate, weight_decay=args.weight_decay,
            batch_size=args.per_device_train_batch_size, seed=args.seed, max_grad_norm=args.max_grad_norm,
            bf16=args.bf16, qa_refit_c=getattr(recipe, "qa_refit_c", None),
        )  # fmt: skip
        losses = report.get("train_loss", {})
        for epoch, values in enumerate(zip(*losses.values()), start=1):
            self.log({"refit_epoch": epoch, **{f"refit_loss_{task}": v for task, v in zip(losses, values)}})
        self.run.refit_report = report
        if (mlflow := self.mlflow()) is not None:  # before the folder changes: a lost server leaves it as it was
            mlflow.log_dict(report, REFIT_NAME)
        self.save_run_model()
        self.run.folder.write_json(REFIT_NAME, report)

    def calibrate_heads(self) -> None:
        """Phase `calibrate`: temperatures, the critical threshold and the review thresholds, fitted on validation
        and stored in the saved config (`train/calibration.py`); its figures go into the log history."""
        recipe = self.recipe
        report = calibrate(
            self.trained_model, self.eval_datasets, self.data_collator,
            critical_recall_target=recipe.critical_recall_target, review_share=recipe.review_share,
            batch_size=self.args.per_device_eval_batch_size, bf16=self.args.bf16, test_datasets=self.run.test_datasets,
        )  # fmt: skip
        self.run.calibration = report
        self.log(calibration_metrics(report))
        if (mlflow := self.mlflow()) is not None:  # before the folder changes: a lost server leaves it as it was
            mlflow.log_dict(report, CALIBRATION_NAME)
        self.save_run_model()  # the config now holds them
        self.run.folder.write_json(CALIBRATION_NAME, report)

    def evaluate_final(self) -> None:
        """Phase `evaluate`: the final model (the best, with load_best_model_at_end; refit and calibrated) on the
        validation sets, logged like every evaluation, written to `eval_results.json` (validation figures only;
        the held-out ones are in calibration.json)."""
        metrics = self.evaluate()
        if self.run.calibration is not None:
            metrics.update(calibration_metrics(self.run.calibration, held_out=False))
        self.run.metrics = metrics
        self.run.folder.write_json("eval_results.json", {
            key.removeprefix("eval_"): value for key, value in sorted(metrics.items()) if isinstance(value, (int, float))
        })  # fmt: skip
        self.write_state()

    def plot_curves(self) -> None:
        """Phase `curves`: per-task training losses and validation metrics over steps (`training_curves.png`)."""
        history = self.state.log_history
        self.run.folder.save_with(lambda staging: plot_training_curves(history, staging / CURVES_NAME))
        # The evaluation plots (train/report.py): confusion matrices, reliability diagrams, critical threshold curve.
        plots = self.run.folder.save_with(lambda staging: run_plots(
            self.trained_model, {"validation": self.eval_datasets, "test": self.run.test_datasets}, self.data_collator,
            staging, batch_size=self.args.per_device_eval_batch_size, bf16=self.args.bf16))  # fmt: skip
        if (mlflow := self.mlflow()) is not None and self.run.folder.active:
            mlflow.log_artifact(str(self.run.output_dir / CURVES_NAME))
            for name in plots:
                mlflow.log_artifact(str(self.run.output_dir / name), "report")

    def create_model_card(self, folder: Any = None, **kwargs) -> None:
        """The helpline-fusion card in `folder/README.md` (default `output_dir`), never the Trainer's generic draft:
        the card data the trainer's `ModelCardCallback` gathered (`model_card.write_model_card`); keyword arguments
        that name card data fields (`calibration=...`) override it, others (what `Trainer.push_to_hub` passes) are
        ignored."""
        write_model_card(self, folder, **kwargs)

    def write_card(self) -> None:
        """Phase `card`: the model card `README.md` through `create_model_card`, also what `push_to_hub` publishes."""
        recipe, args, run, model = self.recipe, self.args, self.run, self.trained_model
        card_data = dict(
            metrics=run.metrics, repo_id=args.hub_model_id or f"org/{run.output_dir.name}",
            base_model=getattr(model.config, "base_model_name", None), training_args=args,
            validation_report=run.report.to_dict() if run.report is not None else None,
            split_sizes=run.split_sizes, sampling_strategy=self.sampling_strategy,
            license=getattr(recipe, "license", "mit"), eval_data=run.eval_data,
            distillation=distillation_summary(recipe), refit_heads_epochs=(run.refit_report or {}).get("epochs", 0),
            qa_refit_c=((run.refit_report or {}).get("qa_logistic") or {}).get("c"), calibration=run.calibration, plots=card_plots(run.output_dir),
        )  # fmt: skip
        run.folder.save_with(lambda staging: self.create_model_card(staging, **card_data))

    # ------------------------------------------------------------------ saving and publishing
    def save_run_model(self) -> None:
        # `_internal_call`: with --push_to_hub, save_model would push a half-made folder; the one push is at the end.
        self.run.folder.save_with(lambda staging: self.save_model(str(staging), _internal_call=True))
        if self.run.folder.active:
            apply_umask(self.run.output_dir)

    def write_state(self) -> None:
        state = self.state
        self.run.folder.write_json(TRAINING_STATE_NAME, {
            "global_step": state.global_step, "epoch": state.epoch, "log_history": state.log_history,
            "mlflow_run_id": self.run.mlflow_run_id, "metrics": self.run.metrics,
        })  # fmt: skip

    def restore_state(self) -> None:
        """What the earlier phases of this run left in its folder (`--resume_phases`): the step, the log history,
        the metrics, the refit and calibration reports and the MLflow run to reopen."""
        run = self.run
        state = json.loads((run.output_dir / TRAINING_STATE_NAME).read_text(encoding="utf-8"))
        self.state.global_step, self.state.epoch = state.get("global_step", 0), state.get("epoch")
        self.state.log_history = state.get("log_history", [])
        run.metrics, run.mlflow_run_id = state.get("metrics") or {}, state.get("mlflow_run_id")
        for name, attribute in ((REFIT_NAME, "refit_report"), (CALIBRATION_NAME, "calibration")):
            path = run.output_dir / name
            if path.is_file():
                record = json.loads(path.read_text(encoding="utf-8"))
                record.pop("run_id", None)
                setattr(run, attribute, record)

    def push_to_hub(self, commit_message: str | None = None, repo_id: str | None = None, **kwargs) -> str | None:
        """Publish the run's output folder as `helpline-fusion publish` does (`publish.push_with_trainer`): the
        card, label maps, weights and remote code in one commit with a version tag, private unless
        `hub_private_repo=False`; never `training_args.bin`, the data report or the MLflow store. `repo_id`:
        the repository (default `hub_model_id`, or the one the Trainer created). Returns the tag."""
        if repo_id is not None:
            self.hub_model_id = repo_id
        return push_with_trainer(self, commit_message=commit_message or "helpline-fusion training run")
