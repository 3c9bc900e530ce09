"""`bench/bench_distill.py --reuse-from`: finished `bench/bench_quality.py` runs stand in for the teachers and the
student without KD, only after their recorded settings (`train/run_settings.py`) match; tiny random encoder,
bundled synthetic data, a few steps per run."""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from transformers import AutoModel

from helpline_fusion.data.synthetic import generate
from helpline_fusion.train.run_settings import (
    RUN_SETTINGS_NAME,
    differing_settings,
    run_settings,
    settings_from_folder,
)
from helpline_fusion.train.settings import parse_settings

from .conftest import build_tiny_tokenizer, tiny_bert_config

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"
ROLES = {"teacher_ner": "ner_only", "teacher_cls": "cls_only", "teacher_qa": "qa_only", "student": "fused"}


def _bench_module(name: str):
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH_DIR))  # as `python bench/<script>.py` runs: its siblings importable
        return importlib.import_module(name)


@pytest.fixture(scope="module")
def tiny_run_config(tmp_path_factory):
    """A tiny run config (random encoder, bundled synthetic data, 3 steps) and the overrides both benches get."""
    root = tmp_path_factory.mktemp("bench-distill")
    torch.manual_seed(0)
    AutoModel.from_config(tiny_bert_config()).save_pretrained(root / "encoder")
    build_tiny_tokenizer(root / "encoder")
    files = generate(root / "data", seed=5, n_ner=30, n_cases=30, n_qa=30, n_qa_heldout=8)
    config = root / "tiny.yaml"
    config.write_text(
        "\n".join([
            f"encoder: {root / 'encoder'}", f"ner_file: {files['ner_file']}", f"cases_file: {files['cases_file']}",
            f"qa_file: {files['qa_file']}", "window_length: 48", "window_stride: 16", "max_train_examples: 12",
            "head_learning_rate: 1.0e-3", "encoder_name: org/tiny-encoder",
            "encoder_attention_dropout: 0.0", "calibrate: false", "max_steps: 3", "per_device_train_batch_size: 4",
            "per_device_eval_batch_size: 32", "learning_rate: 3.0e-3", "eval_strategy: 'no'", "save_strategy: 'no'",
            "load_best_model_at_end: false", "logging_steps: 1", "use_cpu: true", "seed: 7", "report_to: [mlflow]",
            "dataloader_num_workers: 0", "disable_tqdm: true",
        ])
        + "\n"
    )  # fmt: skip
    # The --ner_file override lets bench_distill run without ../shared (its check); it is the config's own file.
    return config, root / "quality", ["--ner_file", str(files["ner_file"])]


def _train_variants(config: Path, output: Path, overrides: list[str], names: list[str]) -> None:
    """bench_quality's runs `names` of the config, trained as `bench_quality.py` trains them (`train_variant`)."""
    quality = _bench_module("bench_quality")
    args = argparse.Namespace(config=str(config), output=str(output), quick=False, overrides=overrides)
    for name in names:
        quality.train_variant(name, quality.VARIANTS[name], args)


@pytest.fixture(scope="module")
def quality_runs(tiny_run_config):
    """bench_quality's `ner_only` run: the first role --reuse-from checks, enough to see a refusal."""
    config, output, overrides = tiny_run_config
    _train_variants(config, output, overrides, ["ner_only"])
    return config, output, overrides


@pytest.fixture(scope="module")
def all_quality_runs(quality_runs):
    """All four runs of bench_quality (ner_only, cls_only, qa_only, fused)."""
    config, output, overrides = quality_runs
    _train_variants(config, output, overrides, ["cls_only", "qa_only", "fused"])
    return config, output, overrides


def _fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under `folder`: content hash and modification time (a rewrite of equal bytes shows too)."""
    return {
        str(path.relative_to(folder)): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_training_records_the_settings_it_was_given(quality_runs):
    config, output, overrides = quality_runs
    record = json.loads((output / "ner_only" / RUN_SETTINGS_NAME).read_text())
    assert record["format"] == 1
    assert record["project"]["tasks"] == ["ner"] and record["project"]["head_learning_rate"] == 1e-3
    assert record["project"]["qa_eval_file"] is None  # as given, not the path training filled in
    assert record["training"]["learning_rate"] == 3e-3 and record["training"]["max_steps"] == 3
    assert record["training"]["hub_token"] in (None, "<HUB_TOKEN>")  # never a token
    # The same settings for another output folder and reporting: no difference; another learning rate: one.
    same = run_settings(*parse_settings([str(config), *overrides, "--tasks", "ner", "--output_dir", "elsewhere"]))
    assert differing_settings(record, same) == []
    other = run_settings(*parse_settings([str(config), "--tasks", "ner", "--learning_rate", "1e-2"]))
    assert [key for key, _, _ in differing_settings(record, other)] == ["learning_rate"]


@pytest.mark.slow  # four tiny trainings to reuse, then the KD student's: about 30 s on one core
def test_reuse_from_trains_only_the_kd_student(all_quality_runs, tmp_path, capsys):
    config, output, overrides = all_quality_runs
    distill = _bench_module("bench_distill")
    before = _fingerprint(output)
    out = tmp_path / "distill"
    argv = ["--config", str(config), "--output", str(out), "--reuse-from", str(output), "--transcripts", "4", "--"]
    assert distill.main([*argv, *overrides]) == 0
    assert _fingerprint(output) == before  # the reused runs untouched: nothing retrained, nothing written there
    assert sorted(path.name for path in out.iterdir()) == ["distill.json", "student_kd"]
    summary = json.loads((out / "distill.json").read_text())
    assert summary["reuse_from"] == str(output)
    for role, variant in ROLES.items():
        run = summary["runs"][role]
        assert run["reused_from"] == run["output_dir"] == str(output / variant)
        recorded = json.loads((output / variant / "eval_results.json").read_text())
        assert run["metrics"] == {key: value for key, value in recorded.items() if key != "run_id"}
    kd = summary["runs"]["student_kd"]
    assert kd["reused_from"] is None and kd["steps"] == 3 and len(kd["teacher_outputs"]) == 3
    record = json.loads((out / "student_kd" / RUN_SETTINGS_NAME).read_text())
    assert json.loads(record["project"]["teachers"]) == {t: str(output / f"{t}_only") for t in ("ner", "cls", "qa")}
    # The KD student differs from the reused student without KD in its teachers only.
    fused = json.loads((output / "fused" / RUN_SETTINGS_NAME).read_text())
    assert [key for key, _, _ in differing_settings(record, fused)] == ["teachers"]
    printed = capsys.readouterr().out
    assert f"reused: {output / 'ner_only'}" in printed and "teacher-output cache:" in printed and " MB on disk" in printed


@pytest.mark.parametrize(
    "override, setting",
    [(["--learning_rate", "1e-2"], "learning_rate"), (["--window_stride", "8"], "window_stride")],
)
def test_reuse_from_refuses_a_run_trained_otherwise(quality_runs, tmp_path, capsys, override, setting):
    config, output, overrides = quality_runs
    distill = _bench_module("bench_distill")
    out = tmp_path / "distill"
    argv = ["--config", str(config), "--output", str(out), "--reuse-from", str(output), "--"]
    assert distill.main([*argv, *overrides, *override]) == 2
    error = capsys.readouterr().err
    assert f"{output / 'ner_only'} was trained with other settings than teacher_ner would be" in error
    assert f"{setting}: " in error and " there, " in error and " here" in error
    assert not out.exists()  # refused before any training


def test_reuse_from_a_folder_without_settings_record_checks_what_it_can(quality_runs, tmp_path, capsys):
    config, output, overrides = quality_runs
    old = tmp_path / "old"
    shutil.copytree(output / "ner_only", old / "ner_only")
    for record in old.glob(f"*/{RUN_SETTINGS_NAME}"):
        record.unlink()
    expected = run_settings(*parse_settings([str(config), *overrides, "--tasks", "ner"]))
    recorded, unrecovered = settings_from_folder(old / "ner_only", expected)
    # training_args.bin (as training left it) and config.json agree with the settings as given...
    assert differing_settings(recorded, expected) == []
    assert {"head_learning_rate", "sampling_strategy", "ner_file"} <= set(unrecovered)
    assert not {"window_stride", "tasks", "encoder_name", "encoder_attention_dropout"} & set(unrecovered)
    # ... and still catch a different training argument or model setting.
    other = run_settings(*parse_settings([str(config), *overrides, "--tasks", "ner", "--window_stride", "8",
                                          "--weight_decay", "0.1", "--encoder_attention_dropout", "0.1",
                                          "--encoder_name", "org/other"]))  # fmt: skip
    assert [key for key, _, _ in differing_settings(recorded, other)] == [
        "encoder_attention_dropout", "encoder_name", "window_stride", "weight_decay"
    ]
    distill = _bench_module("bench_distill")
    argv = ["--config", str(config), "--output", str(tmp_path / "d"), "--reuse-from", str(old), "--", *overrides]
    assert distill.main(argv) == 2
    error = capsys.readouterr().err
    assert f"{old / 'ner_only'} has no run_settings.json" in error and "head_learning_rate" in error
    assert "--accept-unrecorded" in error
