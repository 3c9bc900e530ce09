"""The Python training API end to end, as a notebook user writes it (issue 31.2): records in (a `datasets.Dataset`
and lists of dicts), `trainer.train()` runs the recipe's phases (refit, calibration, evaluation, curves, card),
and `trainer.push_to_hub()` publishes card, label maps and code, private by default, to the local Hub-protocol
server (tests/hub_server.py). Tiny random encoder, tiny synthetic data, seconds."""

from __future__ import annotations

import json

import pytest
import torch
from datasets import Dataset
from transformers import BertModel

from helpline_fusion.data.synthetic import generate
from helpline_fusion.train.run_folder import check_run_folder
from tests.hub_server import patched_hub_client, running_hub_server

from .conftest import build_tiny_tokenizer, tiny_bert_config

REPO = "test-user/helpline-notebook"


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    root = tmp_path_factory.mktemp("python_api")
    torch.manual_seed(0)
    BertModel(tiny_bert_config()).save_pretrained(root / "encoder")
    build_tiny_tokenizer(root / "encoder")
    files = generate(root / "data", seed=5, n_ner=24, n_cases=24, n_qa=24, n_qa_heldout=8)
    ner = [json.loads(line) for line in files["ner_file"].read_text().splitlines()]
    cases = json.loads(files["cases_file"].read_text())
    quality = json.loads(files["qa_file"].read_text())
    return root, ner, cases, quality


def test_the_notebook_example_trains_runs_the_phases_and_publishes(records, tmp_path):
    from helpline_fusion import AttentionFusionModel, MultiTaskTrainer, TrainingArguments

    root, ner, cases, quality = records
    entity_types = sorted({entity["label"] for record in ner for entity in record["entities"]}, reverse=True)
    model = AttentionFusionModel.from_encoder_pretrained(
        str(root / "encoder"), labels={"ner": entity_types}, window_length=128, window_stride=32
    )
    assert model.config.ner_entity_types == entity_types
    output = tmp_path / "notebook"
    args = TrainingArguments(
        output_dir=str(output), max_steps=4, per_device_train_batch_size=4, per_device_eval_batch_size=16,
        learning_rate=3e-3, use_cpu=True, report_to="none", save_strategy="no", disable_tqdm=True, seed=3,
    )  # fmt: skip
    ner_ds = Dataset.from_list([{"text": r["text"], "entities": r["entities"]} for r in ner])  # a Dataset ...
    trainer = MultiTaskTrainer(
        model=model, args=args,
        train_datasets={"ner": ner_ds, "cls": cases[:18], "qa": quality[:18]},  # ... and lists of records
        eval_datasets={"ner": ner_ds.select(range(18, 24)), "cls": cases[18:], "qa": quality[18:]},
    )  # fmt: skip
    trainer.recipe.refit_heads_epochs = 1  # the recipe's settings, as `helpline-fusion train` names them
    trainer.train()

    # The recipe's phases ran, in order, each leaving the folder one run's.
    manifest = check_run_folder(output)
    assert manifest["phases_done"] == ["train", "refit", "calibrate", "evaluate", "curves", "card"]
    assert {"model.safetensors", "label_maps.json", "calibration.json", "refit_heads.json", "eval_results.json",
            "README.md", "training_curves.png", "data_validation_report.json"} <= set(manifest["files"])  # fmt: skip
    report = json.loads((output / "data_validation_report.json").read_text())
    assert report["files"]["train_datasets['cls']"]["read"] == 18  # in-memory records counted as from a file
    history = trainer.state.log_history
    assert [e["refit_epoch"] for e in history if "refit_loss_cls" in e and "refit_loss_qa" in e] == [1]
    assert any("calib_ece_case_after" in e for e in history) and any("eval_composite" in e for e in history)
    saved = AttentionFusionModel.from_pretrained(output)
    assert saved.config.temperatures and saved.config.ner_entity_types == model.config.ner_entity_types
    assert "on `in-memory dataset`" in (output / "README.md").read_text()  # what the card says it was validated on

    with running_hub_server() as hub, patched_hub_client(hub.endpoint, tmp_path / "home", token=hub.token):
        tag = trainer.push_to_hub(repo_id=REPO)
        assert tag == "v1.0.0" and hub.is_private(REPO)
        files = hub.repo_files(REPO, tag)
    assert {"README.md", "label_maps.json", "modeling_attention_fusion.py", "config.json", "model.safetensors",
            "tokenizer_config.json"} <= set(files)  # fmt: skip
    assert not {"training_args.bin", "data_validation_report.json"} & set(files)
    assert json.loads(files["label_maps.json"])["ner"]["entity_types"] == entity_types


def test_records_for_a_task_the_model_lacks_or_of_the_wrong_type_are_refused(records, tmp_path):
    from helpline_fusion import AttentionFusionModel, MultiTaskTrainer, TrainingArguments

    root, ner, cases, _ = records
    model = AttentionFusionModel.from_encoder_pretrained(str(root / "encoder"), tasks=["ner", "cls"])
    args = TrainingArguments(output_dir=str(tmp_path / "bad"), use_cpu=True, report_to="none")
    with pytest.raises(ValueError, match=r"train_datasets: tasks \['qa'\] are not among the model's tasks \['ner', 'cls'\]"):
        MultiTaskTrainer(model=model, args=args, train_datasets={"ner": ner, "qa": cases})
    with pytest.raises(ValueError, match=r"labels: unknown keys \['entities'\]"):
        AttentionFusionModel.from_encoder_pretrained(str(root / "encoder"), labels={"entities": ["NAME"]})
