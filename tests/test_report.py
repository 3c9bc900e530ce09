"""`helpline-fusion evaluate` prints a report a person reads and writes its plots (train/report.py).

A tiny model is trained (random BERT encoder, synthetic data, calibrated) and evaluated on the generated files:
the report is grouped by task with each figure beside its trivial baseline (the majority class's accuracy, the F1
of answering "met" everywhere, all-`O` NER, "critical" everywhere), holds seqeval's per-type table, quotes no
transcript, and the plots are PNG files beside the metrics JSON; the metrics JSON stays the trainer's keys. The
baselines and the threshold curve are checked against the answers they stand for.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from transformers import AutoModel

from helpline_fusion.data.synthetic import generate
from helpline_fusion.train import report
from helpline_fusion.train.evaluate_cli import main as evaluate_main
from helpline_fusion.train.publish import hub_files
from helpline_fusion.train.run import main as train_main

from .conftest import build_tiny_tokenizer, tiny_bert_config

PNG = b"\x89PNG\r\n\x1a\n"
PLOTS = [
    "report_confusion_priority.png", "report_confusion_main_category.png", "report_reliability_case.png",
    "report_reliability_quality.png", "report_critical_threshold.png",
]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    torch.manual_seed(0)
    AutoModel.from_config(tiny_bert_config()).save_pretrained(root / "encoder")
    build_tiny_tokenizer(root / "encoder")
    files = generate(root / "data", seed=5, n_ner=12, n_cases=40, n_qa=12, n_qa_heldout=6)
    args = [
        "--encoder", str(root / "encoder"), "--ner_file", str(files["ner_file"]),
        "--cases_file", str(files["cases_file"]), "--qa_file", str(files["qa_file"]),
        "--output_dir", str(root / "run"), "--window_length", "96", "--window_stride", "16",
        "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "64", "--learning_rate", "3e-3",
        "--max_steps", "3",
        "--save_strategy", "no", "--use_cpu", "true", "--seed", "3", "--report_to", "none",
        "--dataloader_num_workers", "0", "--disable_tqdm", "true",
    ]  # fmt: skip
    assert train_main(args) == 0
    return root, files


def run_evaluate(capsys, *argv) -> tuple[int, str, str]:
    code = evaluate_main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_evaluate_prints_the_grouped_report_with_baselines_and_writes_the_plots(trained, capsys, tmp_path):
    root, files = trained
    output = tmp_path / "eval" / "metrics.json"
    code, out, err = run_evaluate(
        capsys, "--model", str(root / "run"), "--ner-file", str(files["ner_file"]),
        "--cases-file", str(files["cases_file"]), "--qa-file", str(files["qa_file"]), "--output", str(output),
    )  # fmt: skip
    assert code == 0, err
    metrics = json.loads(output.read_text())
    # The machine output: the trainer's flat keys, not the report.
    assert {"ner_f1", "cls_priority_accuracy", "cls_priority_majority_accuracy", "qa_listening_f1_all_met",
            "composite"} <= set(metrics)  # fmt: skip
    sections = ["NER: 12 records", "Case classification: 40 records", "Call quality: 12 records", "Safety:"]
    positions = [out.index(section) for section in sections]
    assert positions == sorted(positions), out  # grouped, in this order
    assert "baseline: all O" in out and "seqeval" in out and "f1-score" in out and "support" in out
    lines = out.splitlines()
    for head in ("main_category", "sub_category", "intervention", "priority"):
        row = next(line.split() for line in lines if line.split()[:1] == [head])
        assert row[1:3] == [f"{metrics[f'cls_{head}_accuracy']:.4f}", f"{metrics[f'cls_{head}_majority_accuracy']:.4f}"]
    for head in ("opening", "listening", "closing"):
        row = next(line.split() for line in lines if line.split()[:1] == [head])
        assert row[1:3] == [f"{metrics[f'qa_{head}_f1']:.4f}", f"{metrics[f'qa_{head}_f1_all_met']:.4f}"]
    entity = next(line.split() for line in lines if line.strip().startswith("entity F1"))
    assert entity[2:] == [f"{metrics['ner_f1']:.4f}", "0.0000"]  # all-O finds no entity
    assert "critical recall" in out and "false alarms per 100 calls" in out
    assert "expected calibration error" in out  # the model was calibrated
    # No transcript text: no 20-character piece of any evaluated record appears in the report.
    texts = [json.loads(line)["text"] for line in files["ner_file"].read_text().splitlines()[:10]]
    texts += [record["narrative"] for record in json.loads(files["cases_file"].read_text())[:10]]
    for text in texts:
        pieces = {text[i:i + 20] for i in range(0, max(1, len(text) - 20), 7)}
        assert not any(piece in out for piece in pieces if len(piece.strip()) == 20)
    # The plots, beside the metrics JSON.
    for name in PLOTS:
        path = output.parent / name
        assert path.is_file() and path.read_bytes()[:8] == PNG, name
        assert path.stat().st_size > 5000, name


def test_json_prints_the_metrics_and_the_plots_go_into_the_mlflow_run(trained, capsys, tmp_path, monkeypatch):
    import mlflow

    root, files = trained
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("evaluate", artifact_location=(tmp_path / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        pass
    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
    code, out, err = run_evaluate(capsys, "--model", str(root / "run"), "--cases-file", str(files["cases_file"]),
                                  "--json", "--plots-dir", str(tmp_path / "plots"))  # fmt: skip
    assert code == 0, err
    metrics = json.loads(out)  # stdout is the machine output alone
    assert "cls_priority_accuracy" in metrics and "ner_f1" not in metrics
    expected = sorted(["report_confusion_priority.png", "report_confusion_main_category.png",
                       "report_reliability_case.png", "report_critical_threshold.png"])  # fmt: skip
    assert sorted(path.name for path in (tmp_path / "plots").iterdir()) == expected
    logged = sorted(item.path for item in mlflow.MlflowClient().list_artifacts(run.info.run_id, "report"))
    assert logged == sorted([f"report/{name}" for name in expected] + ["report/metrics.json"])
    assert f"logged to MLflow run {run.info.run_id}" in err


def test_without_matplotlib_the_report_still_prints_and_says_so_in_one_line(trained, capsys, tmp_path, monkeypatch):
    root, files = trained
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, out, err = run_evaluate(capsys, "--model", str(root / "run"), "--cases-file", str(files["cases_file"]),
                                  "--output", str(tmp_path / "m.json"))  # fmt: skip
    assert code == 0
    assert "Case classification:" in out
    assert [line for line in err.splitlines() if "matplotlib" in line] == [report.MATPLOTLIB_MISSING]
    assert not list(tmp_path.glob("*.png"))


class Config:
    case_heads = {"priority": ["1", "2", "3"]}
    critical_priority = "1"
    critical_threshold = 0.5
    temperatures = {"cls": {"priority": 1.0}}
    ner_entity_types = ["NAME"]
    qa_heads = {"h": ["a", "b"]}


def cls_rows(peaks: list[float], gold: list[int]) -> list[dict]:
    """One window per record whose critical probability is `peak` (the rest split between 2 and 3)."""
    rows = []
    for index, (peak, label) in enumerate(zip(peaks, gold)):
        rest = (1 - peak) / 2
        logits = np.log(np.array([peak, rest, rest], dtype=np.float32))
        rows.append({"example_id": index, "size": 10, "logits": {"priority": logits}, "gold": {"priority": label}})
    return rows


def test_threshold_curve_is_the_safety_first_rule_at_each_threshold():
    peaks, gold = [0.9, 0.6, 0.3, 0.2, 0.1], [0, 0, 0, 1, 2]
    curve = report.threshold_curve(cls_rows(peaks, gold), Config(), steps=20)
    assert curve["critical_calls"] == 3 and curve["records"] == 5
    at = dict(zip(curve["thresholds"], zip(curve["recall"], curve["false_alarms_per_100"])))
    assert at[0.0] == (1.0, 40.0)  # everything critical: 2 false alarms in 5 calls
    assert at[0.25] == (1.0, 0.0)  # 0.9, 0.6 and 0.3 reach it; 0.2 and 0.1 do not
    assert at[0.5] == (2 / 3, 0.0)
    assert at[1.0] == (2 / 3, 0.0)  # the threshold only adds critical calls: 0.9 and 0.6 are critical by argmax
    assert curve["chosen"] == 0.5 and curve["chosen_recall"] == pytest.approx(2 / 3)
    assert all(a >= b for a, b in zip(curve["recall"], curve["recall"][1:]))  # recall never rises with the threshold


def test_baselines_are_the_constant_answers_scored_by_the_metrics():
    gold_ner = [["B-NAME", "I-NAME", "O"], ["O", "O"]]
    evaluation = report.Evaluation(
        Config(), {},
        {"ner": (gold_ner, gold_ner),
         "cls": ({"priority": np.array([2, 2, 0, 1, -100])}, {"priority": np.array([2, 2, 0, 1, 0])}),
         "qa": ({"h": np.array([[1.0, 0.0], [1.0, -100]])}, {"h": np.array([[1.0, 0.0], [1.0, 1.0]])})},
        {},
    )  # fmt: skip
    b = report.baselines(evaluation)
    assert b["ner_f1"] == 0.0  # all O finds no entity
    assert b["cls_priority_accuracy"] == 0.5 == b["cls_priority_majority_accuracy"]  # always "3" (id 2): 2 of 4
    assert b["critical_critical_recall"] == 1.0 and b["critical_false_alarms_per_100_calls"] == 75.0
    assert b["qa_h_accuracy"] == pytest.approx(2 / 3) and b["qa_h_f1_all_met"] == 0.8


def test_training_writes_the_plots_beside_its_card_and_the_card_shows_them(trained):
    root, _ = trained
    folder = root / "run"
    card = (folder / "README.md").read_text()
    for name in PLOTS:
        assert (folder / name).read_bytes()[:8] == PNG, name
        assert f"]({name})" in card, name  # an image the Hub renders from the repository's own file
    manifest = json.loads((folder / "run_manifest.json").read_text())
    assert set(PLOTS) <= set(manifest["files"])  # written by the run
    assert set(PLOTS) <= set(hub_files(folder))  # and published with it
    versions = report.software_versions()
    assert f"torch {versions['torch']}, transformers {versions['transformers']}" in card
    assert f"helpline-fusion {versions['helpline-fusion']}" in card
