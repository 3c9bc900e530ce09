"""A tiny-encoder training run end to end: loss falls, metric keys, best checkpoint, output folder, MLflow,
resume, and `helpline-fusion evaluate`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import torch
from transformers import AutoModel

from helpline_fusion.data.synthetic import generate
from helpline_fusion.train.run import main as train_main
from helpline_fusion.train.settings import parse_settings
from helpline_fusion.train.training import train

from .conftest import build_tiny_tokenizer, tiny_bert_config

EXPECTED_KEYS = {
    "eval_ner_f1", "eval_ner_f1_NAME", "eval_ner_f1_PHONE_NUMBER", "eval_composite",
    "eval_cls_main_category_accuracy", "eval_cls_sub_category_macro_f1", "eval_cls_priority_critical_recall",
    "eval_qa_listening_f1", "eval_qa_hold_f1",
}
OUTPUT_FILES = {
    "config.json", "model.safetensors", "modeling_attention_fusion.py", "configuration_attention_fusion.py",
    "tokenizer.json", "label_maps.json", "eval_results.json", "data_validation_report.json", "README.md",
    "training_curves.png", "calibration.json",
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    torch.manual_seed(0)
    encoder = AutoModel.from_config(tiny_bert_config(hidden_size=48, num_attention_heads=4))
    encoder.save_pretrained(root / "encoder")
    build_tiny_tokenizer(root / "encoder")
    files = generate(root / "data", seed=3, n_ner=60, n_cases=60, n_qa=60, n_qa_heldout=20)
    return root, files


def run_args(root: Path, files: dict, output: str, *extra: str) -> list[str]:
    return [
        "--encoder", str(root / "encoder"),
        "--ner_file", str(files["ner_file"]), "--cases_file", str(files["cases_file"]),
        "--qa_file", str(files["qa_file"]), "--qa_eval_file", str(files["qa_heldout_file"]),
        "--output_dir", str(root / output), "--window_length", "64", "--window_stride", "16",
        "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "16", "--learning_rate", "3e-3",
        "--eval_strategy", "steps", "--save_strategy", "steps", "--logging_steps", "4", "--use_cpu", "true",
        "--seed", "11", "--report_to", "none", "--dataloader_num_workers", "0", "--disable_tqdm", "true",
        *extra,
    ]


@pytest.fixture(scope="module")
def trained(workspace):
    root, files = workspace
    args = run_args(root, files, "run", "--max_steps", "24", "--eval_steps", "12", "--save_steps", "12",
                    "--load_best_model_at_end", "true", "--report_to", "mlflow", "--run_name", "tiny")
    assert train_main(args) == 0
    return root / "run"


def test_output_folder_is_complete_and_loads_with_remote_code(trained):
    assert OUTPUT_FILES <= {path.name for path in trained.iterdir()}
    model = AutoModel.from_pretrained(trained, trust_remote_code=True)
    assert type(model).__name__ == "AttentionFusionModel"
    label_maps = json.loads((trained / "label_maps.json").read_text())
    assert label_maps["case"]["priority"] == ["1", "2", "3"]
    report = json.loads((trained / "data_validation_report.json").read_text())
    for entry in report["files"].values():
        assert entry["kept"] + entry["repaired"] + entry["rejected"] == entry["read"]
    # Calibration on validation is stored in the saved config, which `predict` reads.
    calibration = json.loads((trained / "calibration.json").read_text())
    assert model.config.critical_threshold == calibration["critical"]["critical_threshold"] <= 0.5
    assert set(model.config.temperatures) == {"cls", "qa"}
    assert set(model.config.temperatures["cls"]) == set(model.config.case_heads)
    assert {f"case.{h}" for h in model.config.case_heads} <= set(model.config.review_thresholds)
    # The training records' class frequencies, the share of the model fitted beside them, and the priority's
    # class weights undone in the decisions (balance_priority).
    assert set(model.config.case_class_priors) == set(model.config.case_heads) == set(model.config.case_prior_mix)
    assert all(sum(p) == pytest.approx(1.0, abs=1e-4) for p in model.config.case_class_priors.values())
    assert all(0.0 <= share <= 1.0 for share in model.config.case_prior_mix.values())
    assert calibration["prior_mix"] == model.config.case_prior_mix
    assert model.config.case_prior_correction and model.config.case_class_weights["priority"]
    per_head = calibration["review"]["case_per_head"]
    assert set(per_head) == set(model.config.case_heads)
    assert all(0.0 <= v["error_rate_flagged"] <= 1.0 and v["records"] > 0 for v in per_head.values())
    assert (trained / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_metric_keys_and_loss_falls(trained):
    state = json.loads(sorted(trained.glob("checkpoint-*/trainer_state.json"))[-1].read_text())
    for task in ("ner", "cls", "qa"):
        losses = [entry[f"loss_{task}"] for entry in state["log_history"] if f"loss_{task}" in entry]
        assert len(losses) >= 2 and losses[-1] < losses[0], (task, losses)
    evals = [entry for entry in state["log_history"] if "eval_composite" in entry]
    assert len(evals) == 2
    assert EXPECTED_KEYS <= set(evals[0])
    results = json.loads((trained / "eval_results.json").read_text())
    assert {key.removeprefix("eval_") for key in EXPECTED_KEYS} <= set(results)


def test_best_checkpoint_is_restored(trained):
    state = json.loads((trained / "checkpoint-24" / "trainer_state.json").read_text())
    best = state["best_model_checkpoint"]
    evals = {e["step"]: e["eval_composite"] for e in state["log_history"] if "eval_composite" in e}
    best_step = max(evals, key=evals.get)
    assert best.endswith(f"checkpoint-{best_step}")
    best_entry = next(e for e in state["log_history"] if e.get("step") == best_step and "eval_composite" in e)
    final = json.loads((trained / "eval_results.json").read_text())
    # The restored weights score as the best checkpoint did on what calibration leaves alone (it refits the case
    # heads' temperatures and the critical threshold; quality decisions at p >= 0.5 do not move with a temperature).
    untouched = [key for key in final if key.startswith(("ner_", "qa_"))]
    assert untouched
    for key in untouched:
        assert final[key] == pytest.approx(best_entry[f"eval_{key}"], abs=1e-6), key


def test_mlflow_store_holds_the_run_without_transcript_text(trained, workspace):
    _, files = workspace
    store = trained / "mlflow.db"
    assert store.is_file()
    with sqlite3.connect(store) as db:
        runs = db.execute("select run_uuid, name from runs").fetchall()
        assert len(runs) == 1 and runs[0][1] == "tiny"
        metrics = {row[0] for row in db.execute("select key from metrics")}
        params = dict(db.execute("select key, value from params").fetchall())
        tags = dict(db.execute("select key, value from tags").fetchall())
    assert {"loss", "loss_ner", "loss_cls", "loss_qa", "eval_composite", "eval_ner_f1"} <= metrics
    assert params["schema_ner_tags"] == "19" and params["data_ner_read"] == "60"
    assert tags["sampling_strategy"] == "shuffled" and int(tags["parameter_count"]) > 0
    # The curves and the calibration report are artifacts of the same run; calibration numbers are metrics.
    artifacts = {path.name for path in trained.glob("mlruns/**/*") if path.is_file()}
    assert {"training_curves.png", "calibration.json"} <= artifacts, artifacts
    assert {"calib_critical_recall", "calib_ece_case_before", "calib_ece_case_after"} <= metrics
    transcripts = [json.loads(line)["text"] for line in Path(files["ner_file"]).read_text().splitlines()]
    everything = store.read_bytes().decode("utf-8", errors="ignore")
    for artifact in trained.glob("mlruns/**/*"):
        if artifact.is_file():
            everything += artifact.read_text(errors="ignore")
    for text in transcripts:
        for piece in (text[:40], text[len(text) // 2 : len(text) // 2 + 40]):
            assert piece not in everything


def test_resume_reaches_the_same_final_state(workspace, monkeypatch):
    from helpline_fusion.train import training

    from .task_order import TaskOrderTrainer

    monkeypatch.setattr(training, "MultiTaskTrainer", TaskOrderTrainer)
    root, files = workspace
    common = ["--max_steps", "16", "--save_steps", "8", "--eval_strategy", "no"]
    straight = train(*parse_settings(run_args(root, files, "straight", *common)))["trainer"]
    # The run interrupted after its checkpoint at step 8, continued elsewhere from that checkpoint.
    checkpoint = root / "straight" / "checkpoint-8"
    resumed = train(*parse_settings(run_args(root, files, "resumed", *common, "--resume_from_checkpoint", str(checkpoint))))
    resumed = resumed["trainer"]
    assert len(straight.task_history) == 16
    assert resumed.task_history == straight.task_history[8:]  # the sampler continues where it stopped
    expected = straight.model.state_dict()
    for name, tensor in resumed.model.state_dict().items():
        torch.testing.assert_close(tensor, expected[name], rtol=0, atol=1e-6, msg=name)


def test_evaluate_cli_gives_the_trainers_evaluation(trained, workspace, tmp_path, capsys):
    from transformers import AutoTokenizer, TrainingArguments

    from helpline_fusion.cli import main as cli
    from helpline_fusion.data.collator import MultiTaskCollator
    from helpline_fusion.data.loaders import load_all
    from helpline_fusion.data.tokenization import tokenize_task
    from helpline_fusion.train.trainer import MultiTaskTrainer

    _, files = workspace
    output = tmp_path / "metrics.json"
    code = cli(["evaluate", "--model", str(trained), "--ner-file", str(files["ner_file"]),
                "--cases-file", str(files["cases_file"]), "--qa-file", str(files["qa_heldout_file"]),
                "--output", str(output), "--batch-size", "16"])
    assert code == 0
    metrics = json.loads(output.read_text())
    assert {key.removeprefix("eval_") for key in EXPECTED_KEYS} <= set(metrics)
    assert "composite" in capsys.readouterr().out

    # The same saved model and files through the Trainer's own evaluation: the same numbers, key by key.
    model = AutoModel.from_pretrained(trained, trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained(trained, trust_remote_code=True)
    loaded, _ = load_all(ner=files["ner_file"], cases=files["cases_file"], qa=files["qa_heldout_file"],
                         config=model.config)
    datasets = {task: tokenize_task(task, dataset, tokenizer, model.config) for task, dataset in loaded.items()}
    args = TrainingArguments(output_dir=str(tmp_path / "eval"), use_cpu=True, report_to=[],
                             per_device_eval_batch_size=16, disable_tqdm=True)
    trainer = MultiTaskTrainer(model=model, args=args, eval_datasets=datasets,
                               data_collator=MultiTaskCollator(tokenizer, model.config))
    expected = {key.removeprefix("eval_"): value for key, value in trainer.evaluate().items() if key not in {"eval_epoch", "epoch"}}
    assert set(metrics) == set(expected)
    assert metrics == pytest.approx(expected, abs=1e-9)
    assert 0 < metrics["ner_f1"] or 0 < metrics["cls_priority_accuracy"]  # not a pair of empty evaluations


def test_settings_from_yaml_with_command_line_overrides(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("encoder: x\nmax_steps: 5\nsampling_strategy: round_robin\nlearning_rate: 0.001\n")
    project, args = parse_settings([str(config), "--max_steps", "7", "--ner_file", "my.jsonl"])
    assert args.max_steps == 7 and args.learning_rate == 0.001
    assert project.sampling_strategy == "round_robin" and project.ner_file == "my.jsonl"
    config.write_text("encoder: x\nsampling_stratgy: round_robin\n")
    with pytest.raises(ValueError, match=r"unknown settings \['sampling_stratgy'\]"):
        parse_settings([str(config)])


def test_missing_data_file_is_named(workspace, tmp_path, capsys):
    root, files = workspace
    args = run_args(root, files, "missing") + ["--ner_file", str(tmp_path / "nope.jsonl")]
    assert train_main(args) == 2
    assert f"ner_file: data file {tmp_path / 'nope.jsonl'} not found" in capsys.readouterr().err


def test_unknown_sampling_strategy_fails_before_training(workspace, capsys):
    root, files = workspace
    assert train_main(run_args(root, files, "bad", "--max_steps", "2", "--sampling_strategy", "random")) == 2
    err = capsys.readouterr().err
    assert "sampling_strategy: unknown strategy 'random'; valid: shuffled, proportional, temperature, round_robin" in err
    assert not (root / "bad" / "model.safetensors").exists()


def test_ner_train_windows_are_shorter_but_validation_reads_the_models_windows(workspace):
    """`ner_train_window_length` cuts only the NER training records into shorter windows: the case and quality
    training windows, the validation windows of every task and the saved model keep `window_length`."""
    root, files = workspace
    extra = ["--max_steps", "2", "--eval_strategy", "no", "--save_strategy", "no", "--ner_train_window_length", "24"]
    trainer = train(*parse_settings(run_args(root, files, "short_ner", *extra)))["trainer"]

    def longest(dataset):
        return max(len(ids) for ids in dataset["input_ids"])

    assert longest(trainer.train_datasets["ner"]) == 24
    assert longest(trainer.eval_datasets["ner"]) == 64  # validated as `predict` reads it
    assert longest(trainer.train_datasets["cls"]) == 64 and longest(trainer.train_datasets["qa"]) == 64
    assert trainer.model.config.window_length == 64
    overlaps = []  # consecutive windows of one record share a quarter of the 24 tokens (stride 6)
    ids, examples = trainer.train_datasets["ner"]["input_ids"], trainer.train_datasets["ner"]["example_id"]
    for (first, a), (second, b) in zip(zip(examples, ids), zip(examples[1:], ids[1:])):
        if first == second:
            overlaps.append(a[-7:-1] == b[1:7])
    assert overlaps and all(overlaps)
    with pytest.raises(ValueError, match="ner_train_window_length"):
        train(*parse_settings(run_args(root, files, "bad_ner", *extra, "--ner_train_window_stride", "40")))
