"""Checkpoint selection scores the rule the model ships: `evaluate` decides exactly as `predict()` does, and the
Trainer scales every task's loss alike under gradient accumulation."""

from __future__ import annotations

import pytest
import torch
from transformers import TrainingArguments

from helpline_fusion.data.tokenization import tokenize_task
from helpline_fusion.train.evaluation import record_decisions
from helpline_fusion.train.trainer import MultiTaskTrainer

from .test_learnability import build

WINDOW_LENGTH, WINDOW_STRIDE = 20, 6  # every record spans several windows, so folding them matters


def _repair_bio(tags: list[str]) -> list[str]:
    """`I-X` that does not continue an `X` entity starts one (the rule `predict` decodes with)."""
    repaired: list[str] = []
    for tag in tags:
        if tag.startswith("I-") and (not repaired or repaired[-1] == "O" or repaired[-1][2:] != tag[2:]):
            tag = "B-" + tag[2:]
        repaired.append(tag)
    return repaired


def _word_tags(text: str, entities: list[dict], tokenizer) -> list[str]:
    """Word-level BIO tags of `predict`'s entities, read back over the tokenizer's words of the whole text."""
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    spans: dict[int, list[int]] = {}
    for word, (start, end) in zip(encoding.word_ids(), encoding["offset_mapping"]):
        spans.setdefault(word, [start, end])[1] = end
    tags = []
    for word in sorted(spans):
        start = spans[word][0]
        inside = [e for e in entities if e["start"] <= start < e["end"]]
        assert len(inside) <= 1, f"word {word} lies in two entities"
        tags.append("O" if not inside else ("B-" if start == inside[0]["start"] else "I-") + inside[0]["label"])
    return tags


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    model, _, collator, tokenizer = build(tmp_path_factory.mktemp("eval_predict"))
    config = model.config
    config.window_length, config.window_stride = WINDOW_LENGTH, WINDOW_STRIDE
    # Calibration state of a trained model: temperatures, a critical threshold some windows reach.
    config.temperatures = {"cls": {head: 0.5 for head in config.case_heads}, "qa": {h: 2.0 for h in config.qa_heads}}
    config.critical_threshold = 0.34
    from helpline_fusion.data.loaders import load_all

    from .test_learnability import QA_HEADS, write_records

    files = write_records(tmp_path_factory.mktemp("records"))
    base = type(config)(qa_heads=QA_HEADS)
    loaded, _ = load_all(ner=files["ner"], cases=files["cases"], qa=files["qa"], config=base, labels_from_data=True)
    datasets = {
        task: tokenize_task(task, dataset, tokenizer, config, max_length=WINDOW_LENGTH, stride=WINDOW_STRIDE)
        for task, dataset in loaded.items()
    }
    return model.eval(), loaded, datasets, collator, tokenizer


def test_evaluate_and_predict_make_identical_decisions(setup):
    model, loaded, datasets, collator, tokenizer = setup
    config = model.config
    decisions = record_decisions(model, datasets, collator, batch_size=8)
    assert set(decisions) == {"ner", "cls", "qa"}

    # Case heads: the same label per record and head (safety-first priority and the joint main/sub decision included).
    texts = list(loaded["cls"]["text"])
    assert max(len(w) for w in datasets["cls"]["input_ids"]) == WINDOW_LENGTH  # several windows per record
    results = model.predict(texts, tokenizer, batch_size=8)
    _, predicted = decisions["cls"]
    for head, labels in config.case_heads.items():
        from_predict = [labels.index(result["case"][head]["label"]) for result in results]
        assert predicted[head].tolist() == from_predict, head
    assert any(result["case"]["priority"]["critical_windows"] for result in results)  # the override was exercised
    assert len({tuple(predicted[head].tolist()) for head in config.case_heads}) > 1

    # Quality: the same met / not met per sub-metric.
    results = model.predict(list(loaded["qa"]["text"]), tokenizer, batch_size=8)
    _, predicted = decisions["qa"]
    for head, names in config.qa_heads.items():
        from_predict = [[float(result["quality"][head][name]["met"]) for name in names] for result in results]
        assert predicted[head].tolist() == from_predict, head

    # NER: the same tag for every word of every transcript (predict's entities read back onto words).
    texts = list(loaded["ner"]["text"])
    results = model.predict(texts, tokenizer, batch_size=8)
    _, predicted = decisions["ner"]
    assert sum(len(result["entities"]) for result in results) > 0
    for index, (text, result, tags) in enumerate(zip(texts, results, predicted)):
        assert _repair_bio(tags) == _word_tags(text, result["entities"], tokenizer), f"record {index}"


def test_gradient_accumulation_scales_every_task_loss_alike(setup, tmp_path):
    model, _, datasets, collator, _ = setup
    args = TrainingArguments(
        output_dir=str(tmp_path), use_cpu=True, report_to=[], gradient_accumulation_steps=2, max_steps=1,
        per_device_train_batch_size=4, remove_unused_columns=False, disable_tqdm=True,
    )  # fmt: skip
    trainer = MultiTaskTrainer(model=model, args=args, train_datasets=datasets, data_collator=collator)
    assert trainer.model_accepts_loss_kwargs is False
    trainer.current_gradient_accumulation_steps = 2  # as the training loop sets it for a full accumulation window
    model.train()
    steps = {}
    for task, dataset in datasets.items():
        torch.manual_seed(0)
        inputs = collator([{**dataset[i], "task": task} for i in range(4)])
        # The count the training loop hands to training_step: tensors (NER) are counted, dicts are not.
        num_items = trainer._get_num_items_in_batch([inputs], torch.device("cpu"))
        torch.manual_seed(1)
        step_loss = trainer.training_step(model, inputs, num_items)
        model.zero_grad()
        torch.manual_seed(1)
        with torch.no_grad():
            plain = model(**inputs).loss
        steps[task] = float(step_loss) / float(plain)
    assert steps == pytest.approx({"ner": 0.5, "cls": 0.5, "qa": 0.5}, rel=1e-4)
