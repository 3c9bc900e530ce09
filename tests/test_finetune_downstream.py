"""Downstream fine-tuning of a published model with another helpline's sub-categories.

A tiny model, trained with label maps built from its data, is published with `helpline-fusion publish` on the
Hub-protocol server of tests/hub_server.py (what that server proves and what it does not, e.g. LFS/Xet transfer and
real authentication, is stated there and in test_publish.py). Then `train/run.py --init_from org/helpline-fusion`
fine-tunes it, with the model, its config and its tokenizer fetched through the server, on cases whose sub-category
list differs (several sub-categories merged into one per main category, so every other head's label list is
unchanged). Proven: only the sub_category head is re-initialised, with one log line; every other weight starts as
published; the same MultiTaskTrainer trains and evaluates it; the new label list is saved.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel

from helpline_fusion.data.synthetic import generate
from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from helpline_fusion.modeling_attention_fusion.configuration_attention_fusion import SUB_TO_MAIN_CATEGORY
from helpline_fusion.train import training
from helpline_fusion.train.finetune import load_for_finetuning
from helpline_fusion.train.publish import publish_folder
from helpline_fusion.train.run import main as train_main
from tests.hub_server import patched_hub_client, running_hub_server

from .conftest import build_tiny_tokenizer, tiny_bert_config

REPO = "org/helpline-fusion"
SUB_HEAD = "cls_head.heads.sub_category."


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub_server() as server, patched_hub_client(
        server.endpoint, tmp_path_factory.mktemp("hf_home"), token=server.token
    ):
        yield server


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("downstream")
    torch.manual_seed(0)
    AutoModel.from_config(tiny_bert_config()).save_pretrained(root / "encoder")
    build_tiny_tokenizer(root / "encoder")
    files = generate(root / "data", seed=7, n_ner=40, n_cases=40, n_qa=40, n_qa_heldout=10)
    return root, files


def run_args(root: Path, files: dict, output: str, cases_file: str, *extra: str) -> list[str]:
    return [
        "--ner_file", str(files["ner_file"]), "--cases_file", cases_file, "--qa_file", str(files["qa_file"]),
        "--qa_eval_file", str(files["qa_heldout_file"]), "--labels_from_data", "true",
        "--output_dir", str(root / output), "--window_length", "64", "--window_stride", "16",
        "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "16", "--learning_rate", "3e-3",
        "--max_steps", "3", "--save_strategy", "no", "--use_cpu", "true", "--seed", "5", "--report_to", "none",
        "--dataloader_num_workers", "0", "--disable_tqdm", "true", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def published(workspace, hub) -> AttentionFusionConfig:
    """The publisher's model: trained on the synthetic data (labels from the data), published as v1.0.0."""
    root, files = workspace
    assert train_main(run_args(root, files, "base", str(files["cases_file"]), "--encoder", str(root / "encoder"))) == 0
    publish_folder(root / "base", REPO, tag="v1.0.0")
    return AttentionFusionConfig.from_pretrained(root / "base")


@pytest.fixture(scope="module")
def other_helpline_cases(workspace, published) -> tuple[Path, list[str]]:
    """The same cases with each main category's sub-categories merged into one: only the sub-category list differs."""
    root, files = workspace
    records = json.loads(Path(files["cases_file"]).read_text())
    merged: dict[str, str] = {}
    for sub in sorted(published.case_heads["sub_category"]):
        merged[sub] = merged.get(sub) or next(
            s for s in sorted(published.case_heads["sub_category"])
            if SUB_TO_MAIN_CATEGORY.get(s) == SUB_TO_MAIN_CATEGORY.get(sub)
        )  # fmt: skip
    for record in records:
        category = (record.get("category") or "").strip()
        if category in merged:
            record["category"] = merged[category]
    path = root / "other_helpline_cases.json"
    path.write_text(json.dumps(records))
    new_subs = sorted(set(merged.values()))
    assert 1 < len(new_subs) < len(published.case_heads["sub_category"])
    return path, new_subs


def test_finetuning_from_the_hub_reinitialises_only_the_changed_head(
    workspace, hub, published, other_helpline_cases, caplog, monkeypatch
):
    root, files = workspace
    cases_file, new_subs = other_helpline_cases
    loaded: dict[str, torch.Tensor] = {}

    def spy(*args, **kwargs):  # the model exactly as the training job gets it, before any step
        model = load_for_finetuning(*args, **kwargs)
        loaded.update({name: tensor.detach().clone() for name, tensor in model.state_dict().items()})
        return model

    monkeypatch.setattr(training, "load_for_finetuning", spy)
    first_request = hub.request_count
    with caplog.at_level(logging.INFO, logger="helpline_fusion.train.finetune"):
        code = train_main(run_args(root, files, "downstream", str(cases_file), "--init_from", REPO))

    assert code == 0
    fetched = {  # /{repo}/resolve/{revision}/{file}
        r.path.split("/resolve/")[1].split("/", 1)[1] for r in hub.requests[first_request:] if "/resolve/" in r.path
    }
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= fetched  # through the server, not a folder
    lines = [r.getMessage() for r in caplog.records if "re-initialising head" in r.getMessage()]
    old = len(published.case_heads["sub_category"])
    assert lines == [
        f"re-initialising head cls.sub_category: its labels differ from the trained model's ({old} -> "
        f"{len(new_subs)} labels)"
    ]

    hub_weights = AttentionFusionModel.from_pretrained(REPO).state_dict()
    assert loaded.keys() == hub_weights.keys()
    for name, tensor in loaded.items():
        if name.startswith(SUB_HEAD):
            assert tensor.shape[0] == len(new_subs) and hub_weights[name].shape[0] == old
        else:
            torch.testing.assert_close(tensor, hub_weights[name], rtol=0, atol=0, msg=name)

    output = root / "downstream"
    config = AttentionFusionConfig.from_pretrained(output)
    assert config.case_heads["sub_category"] == new_subs
    assert {h: v for h, v in config.case_heads.items() if h != "sub_category"} == {
        h: v for h, v in published.case_heads.items() if h != "sub_category"
    }
    assert config.ner_entity_types == published.ner_entity_types and config.qa_heads == published.qa_heads
    assert json.loads((output / "label_maps.json").read_text())["case"]["sub_category"] == new_subs
    trained = load_file(output / "model.safetensors")
    assert not torch.equal(trained[SUB_HEAD + "weight"], loaded[SUB_HEAD + "weight"])  # the trainer trained it ...
    assert not torch.equal(trained["cls_head.heads.priority.weight"], loaded["cls_head.heads.priority.weight"])
    metrics = json.loads((output / "eval_results.json").read_text())  # ... and evaluated every head
    assert {"composite", "cls_sub_category_accuracy", "cls_main_category_accuracy", "ner_f1"} <= set(metrics)


def test_load_for_finetuning_pins_a_published_version(hub, published, other_helpline_cases):
    _, new_subs = other_helpline_cases
    model = load_for_finetuning(
        REPO, revision="v1.0.0", case_heads={**published.case_heads, "sub_category": new_subs}
    )
    hub_weights = AttentionFusionModel.from_pretrained(REPO, revision="v1.0.0").state_dict()

    assert model.config.case_heads["sub_category"] == new_subs
    torch.testing.assert_close(model.state_dict()["cls_head.heads.main_category.weight"],
                               hub_weights["cls_head.heads.main_category.weight"], rtol=0, atol=0)  # fmt: skip
    assert model.cls_head.heads["sub_category"].out_features == len(new_subs)
