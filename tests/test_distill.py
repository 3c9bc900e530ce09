"""Knowledge distillation (`train/distill.py`) with tiny random teachers and student: the KD losses, masking, the
cached teacher outputs against a live forward pass, resuming a distilled run, and the teacher checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModel, BertTokenizerFast

from helpline_fusion.data.collator import MultiTaskCollator
from helpline_fusion.data.loaders import load_all
from helpline_fusion.data.synthetic import generate
from helpline_fusion.data.tokenization import tokenize_task
from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from helpline_fusion.train.distill import (
    add_teacher_outputs,
    check_teacher_labels,
    distill_loss,
    parse_teachers,
    public_name,
)
from helpline_fusion.train.settings import parse_settings
from helpline_fusion.train.training import train

from .conftest import TINY_VOCAB, build_tiny_tokenizer, tiny_bert_config

TASKS = ("ner", "cls", "qa")


def tiny_model(seed: int, **config_kwargs) -> AttentionFusionModel:
    torch.manual_seed(seed)
    model = AttentionFusionModel(AttentionFusionConfig(encoder_config=tiny_bert_config(), **config_kwargs))
    return model.eval()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("distill")
    torch.manual_seed(0)
    AutoModel.from_config(tiny_bert_config()).save_pretrained(root / "encoder")
    tokenizer = build_tiny_tokenizer(root / "encoder")
    for seed, task in enumerate(TASKS, start=1):
        tiny_model(seed, tasks=[task]).save_pretrained(root / f"teacher-{task}")
        build_tiny_tokenizer(root / f"teacher-{task}")
    files = generate(root / "data", seed=5, n_ner=24, n_cases=24, n_qa=24, n_qa_heldout=8)
    loaded, _ = load_all(ner=files["ner_file"], cases=files["cases_file"], qa=files["qa_file"])
    config = AttentionFusionConfig(encoder_config=tiny_bert_config())
    windows = {
        task: tokenize_task(task, ds.select(range(8)), tokenizer, config, max_length=48, stride=16)
        for task, ds in loaded.items()
    }
    return root, files, tokenizer, windows


def batch_of(windows, tokenizer, config, task: str, size: int = 6) -> dict:
    return MultiTaskCollator(tokenizer, config)([{**row} for row in windows[task].select(range(size))])


def forward(model, batch) -> object:
    with torch.no_grad():
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], task=batch["task"])


def logits_of(task: str, outputs) -> object:
    value = {"ner": outputs.ner_logits, "cls": outputs.cls_logits, "qa": outputs.qa_logits}[task]
    return value.clone() if task == "ner" else {head: v.clone() for head, v in value.items()}


@pytest.mark.parametrize("task", TASKS)
def test_kd_loss_is_zero_for_the_teacher_itself_and_positive_otherwise(workspace, task):
    _, _, tokenizer, windows = workspace
    teacher, other = tiny_model(1), tiny_model(2)
    batch = batch_of(windows, tokenizer, teacher.config, task)
    target = logits_of(task, forward(teacher, batch))
    for temperature in (1.0, 3.0):
        same = distill_loss(task, forward(teacher, batch), target, batch["labels"], temperature)
        assert abs(float(same)) < 1e-5
        different = distill_loss(task, forward(other, batch), target, batch["labels"], temperature)
        assert float(different) > 1e-4


def test_masked_positions_add_nothing(workspace):
    _, _, tokenizer, windows = workspace
    teacher, student = tiny_model(1), tiny_model(2)
    # NER: tokens without a label (specials, padding) carry no loss, whatever the teacher says there.
    batch = batch_of(windows, tokenizer, teacher.config, "ner")
    labels, outputs = batch["labels"], forward(student, batch)
    target = logits_of("ner", forward(teacher, batch))
    base = distill_loss("ner", outputs, target, labels, 2.0)
    noisy = target.clone()
    noisy[labels == -100] = torch.randn_like(noisy[labels == -100]) * 50
    assert torch.equal(distill_loss("ner", outputs, noisy, labels, 2.0), base)
    noisy[labels != -100] += torch.randn_like(noisy[labels != -100])  # ... and labelled ones do
    assert not torch.equal(distill_loss("ner", outputs, noisy, labels, 2.0), base)
    # Quality: a sub-metric that is not applicable (-100) carries no loss.
    batch = batch_of(windows, tokenizer, teacher.config, "qa")
    labels = {head: values.clone() for head, values in batch["labels"].items()}
    labels["hold"][:, 0] = -100
    outputs, target = forward(student, batch), logits_of("qa", forward(teacher, batch))
    base = distill_loss("qa", outputs, target, labels, 2.0)
    noisy = {head: values.clone() for head, values in target.items()}
    noisy["hold"][:, 0] += 40.0
    assert torch.equal(distill_loss("qa", outputs, noisy, labels, 2.0), base)
    noisy["hold"][:, 1] += 40.0
    assert not torch.equal(distill_loss("qa", outputs, noisy, labels, 2.0), base)


@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_cached_teacher_outputs_equal_a_live_forward_pass(workspace, tmp_path, padding_side):
    root, _, _, windows = workspace
    tokenizer = BertTokenizerFast.from_pretrained(root / "encoder", padding_side=padding_side)
    teacher = tiny_model(3)
    collator = MultiTaskCollator(tokenizer, teacher.config)
    for task in TASKS:
        with_targets, stats = add_teacher_outputs(task, windows[task], teacher, collator, batch_size=8,
                                                  cache_dir=tmp_path)  # fmt: skip
        assert not stats["cached"] and stats["bytes"] > 0 and stats["windows"] == len(windows[task])
        again, stats_again = add_teacher_outputs(task, windows[task], teacher, collator, cache_dir=tmp_path)
        assert stats_again["cached"] and stats_again["file"] == stats["file"]
        # Batches of another size and order than the map pass: padding must not leak into the cache.
        rows = [with_targets[i] for i in (5, 0, 3, 1)]
        batch = collator(rows)
        live = logits_of(task, forward(teacher, batch))
        cached = batch["teacher_logits"]
        if task == "ner":
            mask = batch["attention_mask"].bool()
            torch.testing.assert_close(cached[mask], live[mask], rtol=0, atol=1e-5)
            assert torch.equal(cached[~mask], torch.zeros_like(cached[~mask]))
        else:
            assert set(cached) == set(live)
            for head in live:
                torch.testing.assert_close(cached[head], live[head], rtol=0, atol=1e-5)
        assert again[0][teacher_key(task, teacher.config)] == with_targets[0][teacher_key(task, teacher.config)]


def teacher_key(task: str, config) -> str:
    return (
        "kd_ner"
        if task == "ner"
        else ("kd_cls_" + next(iter(config.case_heads)))
        if task == "cls"
        else ("kd_qa_" + next(iter(config.qa_heads)))
    )


def run_args(root: Path, files: dict, output: str, *extra: str) -> list[str]:
    teachers = {task: str(root / f"teacher-{task}") for task in TASKS}
    return [
        "--encoder", str(root / "encoder"), "--ner_file", str(files["ner_file"]),
        "--cases_file", str(files["cases_file"]), "--qa_file", str(files["qa_file"]),
        "--output_dir", str(root / output), "--window_length", "48", "--window_stride", "16",
        "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "32", "--learning_rate", "3e-3",
        "--eval_strategy", "no", "--save_strategy", "steps", "--save_steps", "4", "--max_steps", "8",
        "--logging_steps", "2", "--calibrate", "false", "--use_cpu", "true", "--seed", "7", "--report_to", "none",
        "--dataloader_num_workers", "0", "--disable_tqdm", "true",
        "--teachers", json.dumps(teachers), "--distill_alpha", "0.7", "--distill_temperature", "3", *extra,
    ]  # fmt: skip


def test_distilled_run_resumes_to_the_same_weights_and_names_its_teachers(workspace):
    root, files, _, _ = workspace
    straight = train(*parse_settings(run_args(root, files, "straight")))["trainer"]
    checkpoint = root / "straight" / "checkpoint-4"
    resumed = train(*parse_settings(run_args(root, files, "resumed", "--resume_from_checkpoint", str(checkpoint))))
    expected = straight.model.state_dict()
    for name, tensor in resumed["trainer"].model.state_dict().items():
        torch.testing.assert_close(tensor, expected[name], rtol=0, atol=1e-6, msg=name)
    # Per-task hard and soft losses logged; teacher-output cost recorded; the card names no local path.
    logged = {key for entry in straight.state.log_history for key in entry}
    assert {"loss_ner", "loss_ner_kd"} <= logged and ({"loss_cls_kd", "loss_qa_kd"} & logged)
    stats = json.loads((root / "straight" / "teacher_outputs.json").read_text())["teachers"]
    assert {entry["task"] for entry in stats} == set(TASKS) and all(entry["bytes"] > 0 for entry in stats)
    card = (root / "straight" / "README.md").read_text()
    assert "### Distillation" in card and "| ner | local model |" in card and "temperature 3.0" in card
    assert str(root) not in card


def test_teacher_with_another_label_list_is_refused_naming_head_and_lists():
    student = AttentionFusionConfig(encoder_config=tiny_bert_config())
    heads = {**student.case_heads, "priority": ["1", "2"]}
    teacher = AttentionFusionConfig(encoder_config=tiny_bert_config(), case_heads=heads)
    with pytest.raises(ValueError, match=r"teachers\.cls: head 'priority' has teacher labels \['1', '2'\] but "
                                         r"student labels \['1', '2', '3'\]"):  # fmt: skip
        check_teacher_labels("cls", teacher, student)
    check_teacher_labels("cls", AttentionFusionConfig(encoder_config=tiny_bert_config()), student)
    ner_teacher = AttentionFusionConfig(encoder_config=tiny_bert_config(), ner_entity_types=["NAME"])
    with pytest.raises(ValueError, match=r"head 'ner' has teacher labels \['O', 'B-NAME', 'I-NAME'\]"):
        check_teacher_labels("ner", ner_teacher, student)
    with pytest.raises(ValueError, match=r"teachers\.qa: the teacher has no 'qa' head"):
        check_teacher_labels("qa", AttentionFusionConfig(encoder_config=tiny_bert_config(), tasks=["ner"]), student)


def test_teacher_with_another_tokenizer_is_refused_naming_both(workspace, tmp_path):
    root, files, _, _ = workspace
    folder = tmp_path / "teacher-other-vocab"
    tiny_model(4, tasks=["ner"]).save_pretrained(folder)
    folder.joinpath("vocab.txt").write_text("\n".join(TINY_VOCAB[:60]) + "\n")
    BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(folder)
    argv = run_args(root, files, "refused", "--teachers", f"ner={folder}", "--tasks", "ner")
    with pytest.raises(ValueError, match=r"teachers\.ner: the teacher's tokenizer \(\w+ of .*"
                                         r"teacher-other-vocab.*\(60 tokens\)\) differs from the student's \(.*"
                                         r"encoder.*\(\d+ tokens\)\)"):  # fmt: skip
        train(*parse_settings(argv))


def test_teachers_setting_from_yaml_json_or_pairs(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("teachers:\n  ner: outputs/ner\n  qa: org/helpline-qa\ndistill_alpha: 0.3\n")
    project, _ = parse_settings([str(config), "--output_dir", str(tmp_path)])
    assert parse_teachers(project.teachers) == {"ner": "outputs/ner", "qa": "org/helpline-qa"}
    assert project.distill_alpha == 0.3
    assert parse_teachers('{"cls": "a/b"}') == {"cls": "a/b"} == parse_teachers("cls=a/b")
    with pytest.raises(ValueError, match=r"teachers: unknown tasks \['pos'\]"):
        parse_teachers("pos=x")
    with pytest.raises(ValueError, match="task=DIR_OR_ID"):
        parse_teachers("outputs/ner")
    assert public_name("org/helpline-ner") == "org/helpline-ner"
    assert public_name(str(tmp_path)) == public_name("./outputs/ner") == public_name("package:x") == "local model"


def test_changed_labels_miss_the_teacher_cache_and_the_student_gets_the_new_ones(workspace, tmp_path):
    """The cache is keyed on everything it stores: a fixed annotation or another `ner_label_all_subwords`, with the
    same texts and teacher, computes the teacher outputs again instead of handing back the first run's labels."""
    root, files, tokenizer, _ = workspace
    loaded, _ = load_all(ner=files["ner_file"], cases=files["cases_file"])
    teacher = tiny_model(3)
    collator = MultiTaskCollator(tokenizer, teacher.config)
    ner_records = loaded["ner"].select(range(6))
    by_setting = {
        setting: tokenize_task("ner", ner_records, tokenizer,
                               AttentionFusionConfig(encoder_config=tiny_bert_config(), ner_label_all_subwords=setting),
                               max_length=48, stride=16)
        for setting in (True, False)
    }  # fmt: skip
    assert by_setting[True]["input_ids"] == by_setting[False]["input_ids"]  # the same tokens ...
    assert by_setting[True]["labels"] != by_setting[False]["labels"]  # ... other labels
    first, first_stats = add_teacher_outputs("ner", by_setting[True], teacher, collator, cache_dir=tmp_path)
    second, second_stats = add_teacher_outputs("ner", by_setting[False], teacher, collator, cache_dir=tmp_path)
    assert not first_stats["cached"] and not second_stats["cached"] and second_stats["file"] != first_stats["file"]
    assert second["labels"] == by_setting[False]["labels"]

    config = AttentionFusionConfig(encoder_config=tiny_bert_config())
    cases = loaded["cls"].select(range(6))
    fixed = cases.map(lambda record, index: {"priority": "1" if index == 0 else record["priority"]}, with_indices=True)
    assert cases[0]["priority"] != "1"  # the annotation fix changes a label
    windows = {name: tokenize_task("cls", data, tokenizer, config, max_length=48, stride=16)
               for name, data in (("before", cases), ("fixed", fixed))}  # fmt: skip
    _, before_stats = add_teacher_outputs("cls", windows["before"], teacher, collator, cache_dir=tmp_path)
    after, after_stats = add_teacher_outputs("cls", windows["fixed"], teacher, collator, cache_dir=tmp_path)
    assert not after_stats["cached"] and after_stats["file"] != before_stats["file"]
    assert after["cls_priority"] == windows["fixed"]["cls_priority"] != windows["before"]["cls_priority"]
    _, again = add_teacher_outputs("cls", windows["fixed"], teacher, collator, cache_dir=tmp_path)
    assert again["cached"] and again["file"] == after_stats["file"]  # unchanged windows still hit the cache
