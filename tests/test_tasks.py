"""The task registry (`train/tasks.py`, the payload side in `labels_attention_fusion.TASK_INFO`): every entry is
complete and names things that exist; a model trained on two tasks runs the training, refit, calibration and
evaluation paths through it; and no `task == "ner"`-style branch is left in the files converted to it."""

from __future__ import annotations

import ast
import dataclasses
import math
from pathlib import Path

import pytest
import torch
from transformers import AutoModel

from helpline_fusion.data import loaders, tokenization
from helpline_fusion.data.labels import CLS_PREFIX, QA_PREFIX
from helpline_fusion.data.synthetic import generate
from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from helpline_fusion.modeling_attention_fusion.labels_attention_fusion import (
    SENTENCE_TASKS,
    TASK_INFO,
    TASK_RESULT_KEYS,
    TASK_TITLES,
    TASKS,
    TaskInfo,
)
from helpline_fusion.modeling_attention_fusion.modeling_attention_fusion import AttentionFusionOutput
from helpline_fusion.train.settings import ProjectArguments, parse_settings
from helpline_fusion.train.tasks import TASK_SPECS, TaskSpec, task_spec
from helpline_fusion.train.training import train

from .conftest import build_tiny_tokenizer, tiny_bert_config

PACKAGE = Path(__file__).resolve().parents[1]
# The files whose per-task branches now read the registry (the package root is the repository root).
CONVERTED = [
    "train/distill.py", "train/evaluation.py", "data/collator.py", "train/refit.py", "train/training.py",
    "train/calibration.py", "modeling_attention_fusion/modeling_attention_fusion.py", "data/loaders.py",
    "modeling_attention_fusion/inference_attention_fusion.py", "train/report.py", "train/export.py",
]  # fmt: skip


# --------------------------------------------------------------------------- every entry complete
def test_every_task_has_one_complete_entry():
    assert list(TASK_SPECS) == list(TASK_INFO) == list(TASKS) == ["ner", "cls", "qa"]
    assert TASK_RESULT_KEYS == {"ner": "entities", "cls": "case", "qa": "quality"}  # what published models carry
    assert TASK_TITLES == {"ner": "NER", "cls": "case classification", "qa": "call quality"}
    assert SENTENCE_TASKS == ("cls", "qa")
    project_fields = {f.name for f in dataclasses.fields(ProjectArguments)}
    config = AttentionFusionConfig(encoder_config=tiny_bert_config())
    model = AttentionFusionModel(config)
    output_fields = {f.name for f in dataclasses.fields(AttentionFusionOutput)}
    for task, spec in TASK_SPECS.items():
        assert isinstance(spec, TaskSpec) and spec.id == task
        # The payload side is the payload's entry, unchanged.
        assert TaskInfo(**{f.name: getattr(spec, f.name) for f in dataclasses.fields(TaskInfo)}) == TASK_INFO[task]
        for f in dataclasses.fields(spec):
            assert getattr(spec, f.name) is not None or f.name in {
                "heads_field", "label_prefix", "state_layer", "turn_pooling", "eval_setting", "train_window_settings"
            }, f"{task}: {f.name} is unset"
        for role in ("loader", "tokenise", "loss", "fold", "metrics", "distill_loss"):
            assert callable(getattr(spec, role)), f"{task}: {role}"
        assert spec.loader is loaders.LOADERS[task] and spec.tokenise is tokenization.TOKENIZERS[task]
        assert spec.data_setting in project_fields
        assert spec.eval_setting is None or spec.eval_setting in project_fields
        assert spec.train_window_settings is None or set(spec.train_window_settings) <= project_fields
        assert spec.logits in output_fields and isinstance(getattr(model, spec.head), torch.nn.Module)
        for config_field in (spec.heads_field, spec.state_layer, spec.turn_pooling):
            assert config_field is None or hasattr(config, config_field), f"{task}: config has no {config_field}"
        assert model.task_head(task) is getattr(model, spec.head)
        if spec.token_level:
            assert spec.label_prefix is None and not spec.refit and not spec.calibrated
        else:
            assert isinstance(getattr(config, spec.heads_field), dict) and getattr(config, spec.heads_field)
            assert spec.label_prefix == {"cls": CLS_PREFIX, "qa": QA_PREFIX}[task]  # what tokenisation writes
            assert spec.refit and spec.calibrated
    assert [t for t, s in TASK_SPECS.items() if s.multi_label] == ["qa"]


def test_unknown_task_is_refused_naming_the_valid_ones():
    with pytest.raises(ValueError, match=r"task: unknown task 'pos'; valid: \['ner', 'cls', 'qa'\]"):
        task_spec("pos")


def test_registry_losses_are_the_models_losses():
    """The hard loss the registry names for a task (the refit's) is the one the model's forward computes."""
    torch.manual_seed(0)
    config = AttentionFusionConfig(encoder_config=tiny_bert_config(), case_class_weights={"priority": [3.0, 1.0, 1.0]})
    model = AttentionFusionModel(config).eval()
    ids = torch.randint(5, 60, (3, 12))
    labels = {
        "ner": torch.randint(0, len(config.ner_labels), (3, 12)),
        "cls": {head: torch.randint(0, len(names), (3,)) for head, names in config.case_heads.items()},
        "qa": {head: torch.randint(0, 2, (3, len(names))).float() for head, names in config.qa_heads.items()},
    }
    for task, spec in TASK_SPECS.items():
        out = model(input_ids=ids, task=task, labels=labels[task])
        again = spec.loss(getattr(out, spec.logits), labels[task], config.case_class_weights)
        assert torch.allclose(out.task_losses[task], again), task
        # Distilling from itself: the soft loss is (numerically) zero.
        soft = spec.distill_loss(getattr(out, spec.logits), getattr(out, spec.logits), labels[task], 2.0)
        assert abs(float(soft.detach())) < 1e-5, task


# --------------------------------------------------------------------------- a helpline that trains two tasks
@pytest.fixture(scope="module")
def two_task_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("two_tasks")
    torch.manual_seed(0)
    AutoModel.from_config(tiny_bert_config()).save_pretrained(root / "encoder")
    build_tiny_tokenizer(root / "encoder")
    files = generate(root / "data", seed=5, n_ner=24, n_cases=40, n_qa=8, n_qa_heldout=4)
    args = [
        "--encoder", str(root / "encoder"), "--tasks", "ner", "cls",
        "--ner_file", str(files["ner_file"]), "--cases_file", str(files["cases_file"]),
        "--output_dir", str(root / "run"), "--window_length", "48", "--window_stride", "12",
        "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "16", "--max_steps", "4",
        "--eval_strategy", "no", "--save_strategy", "no", "--refit_heads_epochs", "1", "--calibrate", "true",
        "--use_cpu", "true", "--seed", "3", "--report_to", "none", "--dataloader_num_workers", "0",
        "--disable_tqdm", "true",
    ]  # fmt: skip
    return train(*parse_settings(args))


def test_two_task_model_runs_through_the_registry_paths(two_task_run):
    trainer = two_task_run["trainer"]
    model, run = trainer.model, trainer.run
    assert model.config.tasks == ["ner", "cls"] and model.qa_head is None
    assert set(trainer.train_datasets) == {"ner", "cls"}  # data settings and tokenisers of the two tasks only
    metrics = two_task_run["metrics"]
    assert any(key.startswith("eval_ner_") for key in metrics) and any(key.startswith("eval_cls_") for key in metrics)
    assert not any(key.startswith("eval_qa_") for key in metrics)
    assert all(math.isfinite(value) for key, value in metrics.items() if isinstance(value, float))
    assert set(run.refit_report["train_loss"]) == {"cls"}  # the only refit task it has
    assert set(run.calibration["temperatures"]) == {"cls"}  # the only calibrated task it has
    assert set(model.config.temperatures) == {"cls"}
    # The evaluation the trainer reports is the registry's fold and metrics over these two tasks.
    from helpline_fusion.train.evaluation import evaluate_tasks

    again = evaluate_tasks(model, trainer.eval_datasets, trainer.data_collator)
    assert {key.split("_")[0] for key in again if key != "composite"} == {"ner", "cls"}
    assert again["ner_f1"] == pytest.approx(metrics["eval_ner_f1"])


# --------------------------------------------------------------------------- no branch left
def _task_branches(source: str) -> list[str]:
    """`task == "ner"`, `"cls" != x`, `task in ("cls", "qa")`-style comparisons against a task id."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for op, (left, right) in zip(node.ops, zip(operands, operands[1:])):
            if isinstance(op, (ast.Eq, ast.NotEq)):
                pairs = ((left, right), (right, left))
                if any(_is_task_id(a) and not _is_pooling_kind(b) for a, b in pairs):
                    found.append(f"line {node.lineno}: {ast.unparse(node)}")
            elif isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, (ast.Tuple, ast.List, ast.Set)):
                if any(_is_task_id(element) for element in right.elts):
                    found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def _is_task_id(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value in TASKS


def _is_pooling_kind(node: ast.AST) -> bool:
    # `self.kind == "cls"` is the first-token ([CLS]) pooling choice (POOLING_CHOICES), not the task.
    return isinstance(node, ast.Attribute) and node.attr == "kind"


def test_the_branch_finder_finds_branches():
    found = _task_branches('if task == "ner":\n    pass\nx = "qa" != name\ny = task in ("cls", "qa")\nz = self.kind == "cls"')
    assert [line.split(":")[0] for line in found] == ["line 1", "line 3", "line 4"]


@pytest.mark.parametrize("relative", CONVERTED)
def test_no_task_branch_is_left_in_a_converted_file(relative):
    path = PACKAGE / relative
    assert _task_branches(path.read_text()) == [], f"{relative} still branches on a task id"
