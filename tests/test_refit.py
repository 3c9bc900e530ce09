"""Refitting the case and quality heads on the frozen encoder after training (`refit_heads_epochs`,
train/refit.py): only those heads change, they learn from the cached states exactly what the full model computes,
the same seed gives the same heads, and a training run applies it before saving."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from datasets import Dataset

from helpline_fusion.data.collator import MultiTaskCollator
from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from helpline_fusion.train.refit import refit_pooled_heads
from helpline_fusion.train.settings import parse_settings
from helpline_fusion.train.training import train

from .conftest import TINY_VOCAB, build_tiny_tokenizer, tiny_bert_config

# Two marker tokens decide every label: a window holding MARK_A is class 0 / "met", one holding MARK_B class 1 /
# "not met". The windows differ in length, so batches are padded.
MARK_A, MARK_B = 10, 11


def _windows(config, count: int = 24):
    generator = torch.Generator().manual_seed(3)
    rows: dict[str, list] = {"cls": [], "qa": []}
    for index in range(count):
        marker = MARK_A if index % 2 == 0 else MARK_B
        filler = torch.randint(20, len(TINY_VOCAB), (int(torch.randint(4, 14, (1,), generator=generator)),),
                               generator=generator).tolist()  # fmt: skip
        ids = [2, *filler[:2], marker, *filler[2:], 3]
        label = 0 if marker == MARK_A else 1
        base = {"input_ids": ids, "attention_mask": [1] * len(ids), "example_id": index}
        rows["cls"].append({**base, "task": "cls", **{f"cls_{head}": label for head in config.case_heads}})
        rows["qa"].append({**base, "task": "qa", **{f"qa_{head}": [float(1 - label)] * len(subs) for head, subs in config.qa_heads.items()}})
    return {task: Dataset.from_list(values) for task, values in rows.items()}


def _model(**kwargs) -> AttentionFusionModel:
    torch.manual_seed(0)
    return AttentionFusionModel(AttentionFusionConfig(encoder_config=tiny_bert_config(), **kwargs))


def _accuracy(model, datasets, collator) -> dict[str, float]:
    """Training-window accuracy of every case head and quality sub-metric, through the full model's forward."""
    model.eval()
    scores = {}
    with torch.no_grad():
        for task, dataset in datasets.items():
            batch = collator([dataset[i] for i in range(len(dataset))])
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], task=task)
            logits = out.cls_logits if task == "cls" else out.qa_logits
            for head, gold in batch["labels"].items():
                pred = logits[head].argmax(-1) if task == "cls" else (logits[head] > 0).float()
                scores[f"{task}.{head}"] = float((pred == gold).float().mean())
    return scores


@pytest.mark.parametrize("mix", [False, True], ids=["last-layer", "layer-mix"])
def test_refit_trains_only_the_sentence_heads_and_they_learn_what_the_model_sees(tmp_path, mix):
    model = _model(pool_per_head=True, pool_layer_mix=mix)
    tokenizer = build_tiny_tokenizer(tmp_path / "tok")
    collator = MultiTaskCollator(tokenizer, model.config)
    datasets = _windows(model.config)
    before = copy.deepcopy(model.state_dict())
    untrained = _accuracy(model, datasets, collator)
    assert min(untrained.values()) < 0.9  # the check below can fail

    report = refit_pooled_heads(model, datasets, collator, epochs=60, learning_rate=1e-2, batch_size=8, seed=0)

    after = model.state_dict()
    for name, tensor in before.items():
        if not name.startswith(("cls_head.", "qa_head.")):
            assert torch.equal(tensor, after[name]), name  # the encoder and the NER head are not touched
    assert any(not torch.equal(before[n], after[n]) for n in before if n.startswith("cls_head."))
    assert any(not torch.equal(before[n], after[n]) for n in before if n.startswith("qa_head."))
    # Trained on cached states, scored through the real forward: the cache held what the model computes.
    assert min(_accuracy(model, datasets, collator).values()) == 1.0
    assert report["windows"] == {"cls": 24, "qa": 24} and report["epochs"] == 60
    for losses in report["train_loss"].values():
        assert len(losses) == 60 and losses[-1] < losses[0] / 4


def test_the_same_seed_gives_the_same_heads_and_zero_epochs_change_nothing(tmp_path):
    model = _model(pool_per_head=True)
    collator = MultiTaskCollator(build_tiny_tokenizer(tmp_path / "tok"), model.config)
    datasets = _windows(model.config)
    first, second = copy.deepcopy(model), copy.deepcopy(model)
    refit_pooled_heads(first, datasets, collator, epochs=2, learning_rate=1e-2, batch_size=8, seed=5)
    refit_pooled_heads(second, datasets, collator, epochs=2, learning_rate=1e-2, batch_size=8, seed=5)
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name]), name
    untouched = copy.deepcopy(model)
    assert refit_pooled_heads(untouched, datasets, collator, epochs=0, learning_rate=1e-2) == {}
    assert all(torch.equal(t, model.state_dict()[n]) for n, t in untouched.state_dict().items())
    with pytest.raises(ValueError, match=r"refit_heads_epochs: expected 0 or more epochs, got -1"):
        refit_pooled_heads(untouched, datasets, collator, epochs=-1, learning_rate=1e-2)


def test_a_training_run_refits_after_training_and_leaves_ner_and_the_encoder_alone(tmp_path):
    from transformers import BertModel

    encoder = tmp_path / "encoder"
    BertModel(tiny_bert_config()).save_pretrained(encoder)
    build_tiny_tokenizer(encoder)

    def run(name: str, *extra: str):
        argv = [
            "--encoder", str(encoder), "--synthetic", "true", "--synthetic_size", "24", "--output_dir", str(tmp_path / name),
            "--max_steps", "3", "--eval_strategy", "no", "--save_strategy", "no", "--window_length", "128",
            "--window_stride", "32", "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "32",
            "--report_to", "none", "--use_cpu", "true", "--dataloader_num_workers", "0", "--disable_tqdm", "true",
            "--head_learning_rate", "5e-3", "--seed", "7", *extra,
        ]  # fmt: skip
        return train(*parse_settings(argv))

    plain = run("plain")["trainer"].model.state_dict()
    refit = run("refit", "--refit_heads_epochs", "2")
    refitted = refit["trainer"].model.state_dict()
    for name, tensor in plain.items():
        if name.startswith(("encoder.", "ner_head.")):
            assert torch.equal(tensor, refitted[name]), name
    assert any(not torch.equal(plain[n], refitted[n]) for n in plain if n.startswith("cls_head."))
    assert any(not torch.equal(plain[n], refitted[n]) for n in plain if n.startswith("qa_head."))
    output = tmp_path / "refit"
    report = json.loads((output / "refit_heads.json").read_text())
    assert report["epochs"] == 2 and report["learning_rate"] == 5e-3 and set(report["windows"]) == {"cls", "qa"}
    assert not (tmp_path / "plain" / "refit_heads.json").exists()
    assert json.loads((output / "run_settings.json").read_text())["project"]["refit_heads_epochs"] == 2
    card = (output / "README.md").read_text()
    assert "the case and quality heads were refit alone for 2 epochs" in card
    assert "were refit" not in (tmp_path / "plain" / "README.md").read_text()
    # The saved model is the refitted one.
    saved = AttentionFusionModel.from_pretrained(output).state_dict()
    for name, tensor in refitted.items():
        torch.testing.assert_close(saved[name], tensor, msg=name)
    with pytest.raises(ValueError, match="refit_heads_epochs: expected 0 or more epochs, got -2"):
        run("bad", "--refit_heads_epochs", "-2")
