"""MLflow as teams run it: a real `mlflow server` on 127.0.0.1 (SQLite backend, its own artifact root in a
temporary folder), a tiny training run reporting to it over HTTP, and the run found through the MLflow client with
its metrics, parameters and artifacts. With the server unreachable, training fails before any data or model work
with a message naming the URI.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from transformers import AutoModel

from helpline_fusion.data.synthetic import generate
from helpline_fusion.train.run import main as train_main

from .conftest import build_tiny_tokenizer, tiny_bert_config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def train_args(root: Path, files: dict, output: Path, uri: str) -> list[str]:
    return [
        "--encoder", str(root / "encoder"), "--ner_file", str(files["ner_file"]),
        "--cases_file", str(files["cases_file"]), "--qa_file", str(files["qa_file"]),
        "--output_dir", str(output), "--window_length", "48", "--window_stride", "16",
        "--per_device_train_batch_size", "4", "--max_steps", "6", "--eval_strategy", "steps", "--eval_steps", "3",
        "--save_strategy", "no", "--logging_steps", "2", "--use_cpu", "true", "--seed", "3",
        "--report_to", "mlflow", "--run_name", "server-run", "--mlflow_tracking_uri", uri,
        "--mlflow_experiment", "helpline-server-test", "--dataloader_num_workers", "0", "--disable_tqdm", "true",
    ]  # fmt: skip


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_FLATTEN_PARAMS"):
        monkeypatch.delenv(name, raising=False)  # restored after the test: configure_mlflow exports them
    monkeypatch.chdir(tmp_path)  # nothing may land in the working directory
    torch.manual_seed(0)
    AutoModel.from_config(tiny_bert_config()).save_pretrained(tmp_path / "encoder")
    build_tiny_tokenizer(tmp_path / "encoder")
    files = generate(tmp_path / "data", seed=5, n_ner=30, n_cases=30, n_qa=30, n_qa_heldout=10)
    return tmp_path, files


@pytest.fixture
def mlflow_server(tmp_path):
    port = free_port()
    root = tmp_path / "server"
    root.mkdir()
    command = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{root / 'server.db'}", "--artifacts-destination", str(root / "artifacts"),
    ]  # fmt: skip
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(command, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (root / "server.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "mlflow server did not start"
                time.sleep(0.5)
        yield uri, root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.slow
def test_a_run_reports_to_a_real_mlflow_server(workspace, mlflow_server):
    from mlflow import MlflowClient

    root, files = workspace
    uri, server_root = mlflow_server
    output = root / "out"
    assert train_main(train_args(root, files, output, uri)) == 0

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("helpline-server-test")
    runs = client.search_runs([experiment.experiment_id])
    assert [run.info.run_name for run in runs] == ["server-run"]
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert {"loss", "loss_ner", "loss_cls", "loss_qa", "eval_composite", "eval_ner_f1", "calib_critical_recall"} <= set(
        run.data.metrics
    )
    assert [m.step for m in client.get_metric_history(run.info.run_id, "eval_composite")][:2] == [3, 6]
    assert run.data.params["max_steps"] == "6" and run.data.params["data_ner_read"] == "30"
    assert run.data.tags["sampling_strategy"] == "shuffled"
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"data_validation_report.json", "training_curves.png", "calibration.json"} <= artifacts
    # The artifacts went through the server to its own artifact root, not beside the output or the working directory.
    stored = {path.name for path in (server_root / "artifacts").rglob("*") if path.is_file()}
    assert {"data_validation_report.json", "training_curves.png", "calibration.json"} <= stored
    assert not (output / "mlflow.db").exists() and not (output / "mlruns").exists()
    assert not (root / "mlruns").exists() and not (root / "mlflow.db").exists()


def test_an_unreachable_server_fails_before_training_naming_the_uri(workspace, capsys):
    root, files = workspace
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    code = train_main(train_args(root, files, root / "out", uri))
    elapsed = time.monotonic() - started
    assert code == 2
    err = capsys.readouterr().err
    assert f"no MLflow server answers at {uri}" in err
    assert elapsed < 15, elapsed  # not after the client's minutes of retries
    assert not (root / "out" / "data_validation_report.json").exists()  # before any data or model work
    assert not os.path.exists(root / "out" / "model.safetensors")
