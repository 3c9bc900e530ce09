"""The trained model in MLflow's registry (train/mlflow_model.py): a tiny training run against a real `mlflow server`
on 127.0.0.1 (the fixture of tests/test_mlflow_server.py) logs the model as a `pyfunc` and registers it by name;
the test loads `models:/NAME/1` through the server, predicts on a synthetic sentence and gets what the saved
folder's `model.predict` gives; the run and the version carry each other's ids and the package and code versions.
`mlflow_log_model false` logs no model; the pyfunc's input is checked at the boundary.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from helpline_fusion.train import mlflow_model
from helpline_fusion.train.run import main as train_main

from .test_mlflow_server import mlflow_server, train_args, workspace  # noqa: F401 - fixtures
from .test_report import trained  # noqa: F401 - fixture

NAME = "helpline-fusion-test"


@pytest.mark.slow
def test_the_registered_model_loads_by_name_through_the_server_and_predicts(workspace, mlflow_server):  # noqa: F811
    import mlflow
    from mlflow import MlflowClient
    from transformers import AutoTokenizer

    from helpline_fusion.modeling_attention_fusion import AttentionFusionModel

    root, files = workspace
    uri, _ = mlflow_server
    output = root / "out"
    assert train_main([*train_args(root, files, output, uri), "--mlflow_registered_model", NAME]) == 0

    client = MlflowClient(tracking_uri=uri)
    run = client.search_runs([client.get_experiment_by_name("helpline-server-test").experiment_id])[0]
    version = client.get_model_version(NAME, "1")
    # Tags both ways: the run names the registered version, the version names the run; both carry the versions.
    assert version.run_id == run.info.run_id == version.tags["helpline_fusion.run_id"]
    assert run.data.tags["helpline_fusion.registered_model"] == NAME
    assert run.data.tags["helpline_fusion.registered_version"] == "1"
    for key in ("package_version", "torch_version", "transformers_version"):
        assert run.data.tags[f"helpline_fusion.{key}"] == version.tags[f"helpline_fusion.{key}"] != ""
    assert "helpline_fusion.hub_repo" not in run.data.tags  # the run pushed nothing

    mlflow.set_tracking_uri(uri)
    loaded = mlflow.pyfunc.load_model(f"models:/{NAME}/1")
    assert loaded.metadata.get_input_schema().input_names() == ["transcript"]
    text = "Hello, I am calling because a child in my street was sent away from school today."
    result = loaded.predict(pd.DataFrame({"transcript": [text]}))
    model = AttentionFusionModel.from_pretrained(output)
    expected = model.predict([text], AutoTokenizer.from_pretrained(output))
    assert json.dumps(result, sort_keys=True, default=str) == json.dumps(expected, sort_keys=True, default=str)
    # The input example stored with the model is the synthetic sentence, not a record of the training data.
    folder = Path(mlflow.artifacts.download_artifacts(f"models:/{NAME}/1", dst_path=str(root / "registered")))
    example = (folder / "input_example.json").read_text()
    assert mlflow_model.INPUT_EXAMPLE in example
    training_texts = [json.loads(line)["text"] for line in files["ner_file"].read_text().splitlines()]
    assert not any(text[:40] in example for text in training_texts)
    # The model's own files only: no checkpoints, training arguments, data report or MLflow store.
    weights = list(folder.rglob("model.safetensors"))
    assert len(weights) == 1
    shipped = {path.name for path in weights[0].parent.iterdir()}
    assert {"model.safetensors", "config.json", "README.md", "report_critical_threshold.png"} <= shipped
    assert not {"training_args.bin", "data_validation_report.json", "mlflow.db", "run_settings.json"} & shipped


def test_mlflow_log_model_false_logs_no_model(tmp_path, monkeypatch, caplog):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = mlflow.create_experiment("off", artifact_location=(tmp_path / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        pass
    args = SimpleNamespace(report_to=["mlflow"], process_index=0)
    project = SimpleNamespace(mlflow_log_model=False, mlflow_registered_model=None)
    assert mlflow_model.log_run_model(tmp_path / "no-folder", project, args, run.info.run_id) is None
    assert mlflow.MlflowClient().list_artifacts(run.info.run_id) == []
    # Turned on, the same call reaches MLflow: the missing folder is named in the one warning it logs.
    project.mlflow_log_model = True
    with caplog.at_level("WARNING"):
        assert mlflow_model.log_run_model(tmp_path / "no-folder", project, args, run.info.run_id) is None
    assert "MLflow: logging the trained model failed" in caplog.text and "no-folder" in caplog.text


def test_registering_without_mlflow_warns_and_logs_nothing(caplog):
    args = SimpleNamespace(report_to=["none"], process_index=0)
    project = SimpleNamespace(mlflow_log_model=True, mlflow_registered_model=NAME)
    with caplog.at_level("WARNING"):
        assert mlflow_model.log_run_model("out", project, args, None) is None
    assert f"mlflow_registered_model {NAME}: the run does not report to MLflow" in caplog.text


def test_pyfunc_input_is_checked_at_the_boundary():
    assert mlflow_model.transcripts(pd.DataFrame({"transcript": ["a", "b"]})) == ["a", "b"]
    assert mlflow_model.transcripts(pd.DataFrame({"call": ["a"]})) == ["a"]  # the only column
    assert mlflow_model.transcripts("a") == ["a"] and mlflow_model.transcripts({"transcript": ["a"]}) == ["a"]
    with pytest.raises(ValueError, match=r"expected a 'transcript' column, found columns \['a', 'b'\]"):
        mlflow_model.transcripts(pd.DataFrame({"a": ["x"], "b": ["y"]}))
    with pytest.raises(ValueError, match="input row 1: expected a transcript string, got int"):
        mlflow_model.transcripts(["fine", 3])


@pytest.mark.slow
def test_a_published_model_links_run_version_hub_repo_and_tag(trained, tmp_path, monkeypatch):  # noqa: F811
    import mlflow

    root, _ = trained
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("linked", artifact_location=(tmp_path / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        pass
    info = mlflow_model.log_trained_model(root / "run", run_id=run.info.run_id, registered_model=NAME,
                                          hub_repo="org/helpline-fusion", hub_tag="v1.2.0")  # fmt: skip
    client = mlflow.MlflowClient()
    run_tags = client.get_run(run.info.run_id).data.tags
    version_tags = client.get_model_version(NAME, str(info.registered_model_version)).tags
    for tags in (run_tags, version_tags):
        assert tags["helpline_fusion.hub_repo"] == "org/helpline-fusion" and tags["helpline_fusion.hub_tag"] == "v1.2.0"
    assert version_tags["helpline_fusion.run_id"] == run.info.run_id
    assert run_tags["helpline_fusion.registered_version"] == str(info.registered_model_version)
    assert run_tags["helpline_fusion.model_uri"] == info.model_uri
    assert client.get_run(run.info.run_id).info.status == "FINISHED"  # reopened for the model, closed again
