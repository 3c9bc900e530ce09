"""A Hub dataset id with a config, a revision and a split, in `validate`, `train` and `evaluate` (issue 31.1), against the
local Hub-protocol server (tests/hub_server.py): the real `datasets.load_dataset` downloads the data; a split the
dataset has (`validation`) is used, not re-split; the report names the dataset, config, revision and split."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hub_server import hub_client_env, run_hub_client, running_hub_server

from .conftest import build_tiny_tokenizer, tiny_bert_config

REPO = "org/cases"
HEADER = "case_id,transcript,category,intervention,priority\n"


def _rows(start: int, count: int) -> str:
    return "".join(f"c{i},The caller reports a problem at home number {i}.,Custody,Counselling,{1 + i % 3}\n"
                   for i in range(start, start + count))  # fmt: skip


# Config v2 (train + validation CSV files) and a default config; a second commit adds training records, so the
# first commit's revision is told apart by its size.
PUBLISH = f'''
import os
from huggingface_hub import HfApi
api = HfApi()
api.create_repo({REPO!r}, repo_type="dataset")
os.makedirs("data/v2", exist_ok=True)
open("data/README.md", "w").write(
    "---\\nconfigs:\\n- config_name: v2\\n  data_files:\\n  - split: train\\n    path: v2/train.csv\\n"
    "  - split: validation\\n    path: v2/validation.csv\\n- config_name: other\\n  data_files: other.csv\\n---\\n"
)
open("data/other.csv", "w").write({HEADER + _rows(100, 3)!r})
open("data/v2/train.csv", "w").write({HEADER + _rows(0, 12)!r})
open("data/v2/validation.csv", "w").write({HEADER + _rows(50, 4)!r})
first = api.upload_folder(repo_id={REPO!r}, repo_type="dataset", folder_path="data", commit_message="v1")
open("data/v2/train.csv", "w").write({HEADER + _rows(0, 20)!r})
api.upload_folder(repo_id={REPO!r}, repo_type="dataset", folder_path="data", commit_message="more records")
print("FIRST", first.oid)
'''


@pytest.fixture(scope="module")
def hub_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub_dataset")
    with running_hub_server() as hub:
        out = run_hub_client(PUBLISH, hub.endpoint, root / "publisher", cwd=root)
        yield hub, out.stdout.split("FIRST ")[1].split()[0], root


def _cli(hub, root: Path, *args: str, home: str = "client") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "helpline_fusion.cli", *args], env=hub_client_env(hub.endpoint, root / home),
        cwd=root, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_validate_reads_a_hub_dataset_at_a_config_revision_and_split(hub_dataset, tmp_path):
    hub, first, root = hub_dataset
    report = tmp_path / "report.json"
    source = ["--cases-file", REPO, "--cases-config", "v2", "--cases-columns", "narrative=transcript,uniqueid=case_id"]
    proc = _cli(hub, root, "validate", *source, "--cases-revision", first, "--report", str(report))
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = json.loads(report.read_text())["files"]
    assert {name: entry["read"] for name, entry in files.items()} == {
        f"{REPO}:v2@{first} [train]": 12, f"{REPO}:v2@{first} [validation]": 4,  # the first commit: 12, not 20
    }  # fmt: skip
    assert all(entry["rejected"] == 0 for entry in files.values())
    # The latest revision, and another config; a wrong column is refused naming the closest one.
    latest = _cli(hub, root, "validate", *source, "--report", str(report))
    assert latest.returncode == 0 and json.loads(report.read_text())["files"][f"{REPO}:v2 [train]"]["read"] == 20
    other = _cli(hub, root, "validate", "--cases-file", REPO, "--cases-config", "other", "--cases-columns",
                 "transcrpt", "--report", str(report))  # fmt: skip
    assert other.returncode == 2 and "no column 'transcrpt'" in other.stderr and "closest: 'transcript'" in other.stderr
    missing = _cli(hub, root, "validate", *source, "--cases-split", "training")
    assert missing.returncode == 2 and "no split 'training'; available splits: ['train', 'validation']" in missing.stderr


@pytest.mark.slow  # a training and an evaluation process: about 40 s of CPU
def test_train_and_evaluate_read_a_hub_dataset_and_keep_its_validation_split(hub_dataset, tmp_path):
    from transformers import BertModel

    hub, first, root = hub_dataset
    encoder = tmp_path / "encoder"
    BertModel(tiny_bert_config()).save_pretrained(encoder)
    build_tiny_tokenizer(encoder)
    output = tmp_path / "model"
    source = ["--cases_file", REPO, "--cases_config", "v2", "--cases_revision", first, "--cases_split", "train",
              "--cases_columns", "narrative=transcript,uniqueid=case_id"]  # fmt: skip
    proc = _cli(hub, root, "train", "--tasks", "cls", *source, "--encoder", str(encoder), "--output_dir", str(output),
                "--max_steps", "1", "--eval_strategy", "no", "--save_strategy", "no", "--window_length", "64",
                "--window_stride", "16", "--per_device_train_batch_size", "4", "--report_to", "none", "--use_cpu",
                "true", "--dataloader_num_workers", "0", "--disable_tqdm", "true", "--calibrate", "false",
                "--validation_size", "0.5")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    files = json.loads((output / "data_validation_report.json").read_text())["files"]
    assert {name: entry["read"] for name, entry in files.items()} == {
        f"{REPO}:v2@{first} [train]": 12, f"{REPO}:v2@{first} [validation]": 4,
    }  # fmt: skip
    # The dataset's own validation split, not half of the training records (--validation_size 0.5).
    assert "- cls: 12 training and 4 validation records." in (output / "README.md").read_text()
    metrics = tmp_path / "metrics.json"
    proc = _cli(hub, root, "evaluate", "--model", str(output), "--cases-file", REPO, "--cases-config", "v2",
                "--cases-revision", first, "--cases-split", "validation", "--cases-columns",
                "narrative=transcript,uniqueid=case_id", "--output", str(metrics), "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "cls_priority_accuracy" in json.loads(metrics.read_text())
