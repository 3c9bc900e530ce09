"""Learnability: a tiny random encoder must overfit a handful of NER, case and call-quality records to near-perfect
scores in a fixed number of steps.

What it guards: the training recipe and the labels, on the real code paths. The records are written in the real file
formats, read by the real loaders (`load_all`), labelled from the data (`config_kwargs_from_data`), cut into windows
by the real `tokenize_task`, batched by the real `MultiTaskCollator`, trained by the real `MultiTaskTrainer` (encoder
and head learning rates) and scored twice:

- by the real `evaluate_tasks` (`trainer.evaluate`, windows folded back into records): NER F1 and every case and
  quality head's accuracy. This catches recipe bugs: a head the optimizer never updates, a loss that ignores a task
  or a head, labels the collator pads or masks away, an evaluation that reads the wrong outputs.
- by `model.predict` on the raw texts against the records as written in this file (character spans, label strings,
  0/1 values). The first check alone cannot catch a label bug: its gold comes out of the same tokenisation as the
  training labels, and a model this size memorises any labelling of a few windows, wrong or right (NER labels
  shuffled across windows still reach F1 1.0 there). Against gold that never went through the tokenisation, BIO
  tags on the wrong tokens, a label id mapped to the wrong class, or QA values on the wrong head all fail.

A label or recipe bug then fails here in seconds (about 8 s of training on one CPU thread) instead of after an hour
of training on the real data. The untrained model is scored too and must fail every check, which proves that each
assertion can fail.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from transformers import TrainingArguments, set_seed

from helpline_fusion.data.collator import MultiTaskCollator
from helpline_fusion.data.labels import config_kwargs_from_data
from helpline_fusion.data.loaders import load_all
from helpline_fusion.data.tokenization import tokenize_task
from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from helpline_fusion.train.trainer import MultiTaskTrainer

from .conftest import build_tiny_tokenizer, tiny_bert_config

SEED = 0
MAX_STEPS = 400
LEARNING_RATE = 3e-3  # the encoder
HEAD_LEARNING_RATE = 1e-2
WINDOW_LENGTH, WINDOW_STRIDE = 48, 16  # short windows: several records span two or three of them
THRESHOLD = 0.9

# NER transcripts with the entities marked inline as [text](TYPE): multi-word entities, a record without any.
NER_RECORDS = [
    "hello, my name is [amina](NAME) and i am [12](AGE) years old. i live in [kisumu](LOCATION), call me on "
    "[0712 345 678](PHONE_NUMBER).",
    "i am calling about my neighbour [brian otieno](NAME), he is [9](AGE) years old and lives in [kibera](LOCATION).",
    "this is [grace wanjiru](NAME) from [nakuru](LOCATION). my number is [0722 111 222](PHONE_NUMBER).",
    "the child is [6](AGE) years old. her name is [faith](NAME) and she is at [mombasa](LOCATION) now.",
    "please help, my daughter [mercy](NAME) is missing since monday. we are in [eldoret](LOCATION).",
    "you can reach me on [0733 987 654](PHONE_NUMBER). i am [kevin](NAME), [15](AGE) years old.",
    "my son [peter kamau](NAME) was beaten at school in [thika](LOCATION). he is [11](AGE).",
    "i have no details to give, i only want to ask how the helpline works.",
]

# (narrative, category, intervention, priority); the main category follows from the sub-category.
CASE_RECORDS = [
    ("a boy aged 10 is beaten every day by his stepfather with a stick.", "Physical Abuse", "Police Referral", "1"),
    ("the girl was touched by a neighbour and is afraid to go home.", "Sexual Abuse", "Medical Referral", "1"),
    ("my son is teased at school by older pupils and refuses to go to class.", "Bullying", "Counselling", "3"),
    ("the baby is very thin and the mother has no food in the house.", "Malnutrition", "Nutritional Support", "2"),
    ("the father took the children away and the mother wants them back.", "Custody", "Legal Aid", "3"),
    ("the uncle hits the twins and they have bruises on their arms.", "Physical Abuse", "Police Referral", "2"),
    ("pupils laugh at her in class and take her lunch every day.", "Bullying", "Counselling", "3"),
    ("the parents separated and cannot agree who keeps the child.", "Custody", "Legal Aid", "2"),
]

# A small quality schema of three heads (one with two sub-metrics, not applicable in calls without a hold).
QA_HEADS = {
    "opening": ["use of call opening phrase"],
    "hold": ["explains before placing on hold", "thanks caller for holding"],
    "closing": ["proper call closing phrase used"],
}
NO_HOLD = "No hold was required"
GREETING = "good morning, you are through to the helpline, what can we do for you? "
QA_RECORDS = [
    (GREETING + "my child is sick. please hold while i check. thank you for "
     "holding. goodbye and take care.", {"opening": [1], "hold": [1, 1], "closing": [1]}),
    ("yes, what is it? my child is sick. wait. ok i am back. that is all.",
     {"opening": [0], "hold": [0, 0], "closing": [0]}),
    (GREETING + "my son ran away. we will send help. goodbye and take care.",
     {"opening": [1], "hold": NO_HOLD, "closing": [1]}),
    ("yes, what is it? my daughter is hurt. please hold while i check. ok i am back. goodbye and take care.",
     {"opening": [0], "hold": [1, 0], "closing": [1]}),
    (GREETING + "she is hungry. wait. thank you for holding. that is all.",
     {"opening": [1], "hold": [0, 1], "closing": [0]}),
    ("yes, what is it? he was beaten at school. call the police. that is all.",
     {"opening": [0], "hold": NO_HOLD, "closing": [0]}),
    (GREETING + "my child is missing. please hold while i check. thank you for "
     "holding. that is all.", {"opening": [1], "hold": [1, 1], "closing": [0]}),
    ("yes, what is it? the baby is thin. wait. thank you for holding. goodbye and take care.",
     {"opening": [0], "hold": [0, 1], "closing": [1]}),
]  # fmt: skip


def _ner_record(marked: str) -> dict:
    text, entities, position = "", [], 0
    for match in re.finditer(r"\[([^\]]+)\]\(([A-Z_]+)\)", marked):
        text += marked[position : match.start()]
        entities.append({"start": len(text), "end": len(text) + len(match.group(1)), "label": match.group(2)})
        text += match.group(1)
        position = match.end()
    return {"text": text + marked[position:], "entities": entities}


def write_records(directory: Path) -> dict[str, Path]:
    """The records in the real file formats: NER JSON lines, case and QA JSON arrays."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {"ner": directory / "ner.jsonl", "cases": directory / "cases.json", "qa": directory / "qa.json"}
    files["ner"].write_text("".join(json.dumps(_ner_record(r)) + "\n" for r in NER_RECORDS))
    cases = [
        {"uniqueid": f"case-{i}", "narrative": text, "category": category, "intervention": intervention,
         "priority": priority}
        for i, (text, category, intervention, priority) in enumerate(CASE_RECORDS)
    ]  # fmt: skip
    files["cases"].write_text(json.dumps(cases))
    qa = [{"sample_id": f"qa-{i}", "text": text, "labels": labels} for i, (text, labels) in enumerate(QA_RECORDS)]
    files["qa"].write_text(json.dumps(qa))
    return files


def build(directory: Path, seed: int = SEED):
    """Model, tokenised training sets, collator and tokenizer, built as `train.training` builds them."""
    tokenizer = build_tiny_tokenizer(directory / "tokenizer")
    files = write_records(directory / "data")
    base = AttentionFusionConfig(qa_heads=QA_HEADS)
    loaded, _ = load_all(ner=files["ner"], cases=files["cases"], qa=files["qa"], config=base, labels_from_data=True)
    label_kwargs = config_kwargs_from_data(ner=loaded["ner"], cases=loaded["cls"], qa=loaded["qa"], base=base)
    set_seed(seed)
    encoder_config = tiny_bert_config(
        hidden_size=48, intermediate_size=96, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    )
    config = AttentionFusionConfig(
        encoder_config=encoder_config, classifier_dropout=0.0, window_length=WINDOW_LENGTH,
        window_stride=WINDOW_STRIDE, **label_kwargs,
    )  # fmt: skip
    model = AttentionFusionModel(config)
    datasets = {
        task: tokenize_task(task, dataset, tokenizer, config, max_length=WINDOW_LENGTH, stride=WINDOW_STRIDE)
        for task, dataset in loaded.items()
    }
    return model, datasets, MultiTaskCollator(tokenizer, config), tokenizer


def make_trainer(
    model,
    datasets,
    collator,
    output_dir: Path,
    seed: int = SEED,
    max_steps: int = MAX_STEPS,
    learning_rate: float = LEARNING_RATE,
    head_learning_rate: float = HEAD_LEARNING_RATE,
):
    args = TrainingArguments(
        output_dir=str(output_dir), use_cpu=True, report_to=[], max_steps=max_steps, learning_rate=learning_rate,
        warmup_steps=0, weight_decay=0.0, per_device_train_batch_size=4, per_device_eval_batch_size=32,
        save_strategy="no", eval_strategy="no", logging_steps=10_000, seed=seed, data_seed=seed,
        dataloader_num_workers=0, disable_tqdm=True, remove_unused_columns=False,
    )  # fmt: skip
    return MultiTaskTrainer(
        model=model, args=args, train_datasets=datasets, data_collator=collator, head_learning_rate=head_learning_rate
    )


def scores(metrics: dict[str, float], config) -> dict[str, float]:
    """The scores that must reach the bar: from `evaluate_tasks`, NER F1 and every case and quality head's accuracy;
    from `record_scores`, the same against the raw records."""
    keys = ["eval_ner_f1", *(f"eval_cls_{head}_accuracy" for head in config.case_heads)]
    keys += [f"eval_qa_{head}_accuracy" for head in config.qa_heads]
    keys += ["records_ner_f1", *(f"records_cls_{head}_accuracy" for head in config.case_heads)]
    keys += [f"records_qa_{head}_accuracy" for head in config.qa_heads]
    return {key: metrics.get(key, 0.0) for key in keys}


def failures(metrics: dict[str, float], config) -> dict[str, float]:
    return {key: round(value, 3) for key, value in scores(metrics, config).items() if value < THRESHOLD}


def record_scores(model, tokenizer) -> dict[str, float]:
    """Scores of `model.predict` on the raw texts against the records as written above: gold that never went through
    the tokenisation, so a label put on the wrong tokens, record or head in training cannot also hide in the gold."""
    texts = [_ner_record(marked)["text"] for marked in NER_RECORDS]
    gold = {(i, e["label"], e["start"], e["end"]) for i, marked in enumerate(NER_RECORDS)
            for e in _ner_record(marked)["entities"]}  # fmt: skip
    found = {(i, e["label"], e["start"], e["end"]) for i, call in enumerate(model.predict(texts, tokenizer))
             for e in call["entities"]}  # fmt: skip
    result = {"records_ner_f1": 2 * len(gold & found) / (len(gold) + len(found))}
    cases = model.predict([record[0] for record in CASE_RECORDS], tokenizer)
    expected = {
        "sub_category": [record[1] for record in CASE_RECORDS],
        "main_category": [model.config.sub_to_main[record[1]] for record in CASE_RECORDS],
        "intervention": [record[2] for record in CASE_RECORDS],
        "priority": [record[3] for record in CASE_RECORDS],
    }
    for head, labels in expected.items():
        hits = [case["case"][head]["label"] == label for case, label in zip(cases, labels)]
        result[f"records_cls_{head}_accuracy"] = sum(hits) / len(hits)
    calls = model.predict([record[0] for record in QA_RECORDS], tokenizer)
    for head, names in QA_HEADS.items():
        hits = [
            call["quality"][head][name]["met"] == bool(value)
            for call, (_, labels) in zip(calls, QA_RECORDS)
            if labels[head] != NO_HOLD
            for name, value in zip(names, labels[head])
        ]
        result[f"records_qa_{head}_accuracy"] = sum(hits) / len(hits)
    return result


def test_tiny_encoder_overfits_every_task(tmp_path, one_thread):
    model, datasets, collator, tokenizer = build(tmp_path)
    # Every head is scored: four case heads, all three quality heads; some records span several windows.
    assert set(model.config.case_heads) == {"main_category", "sub_category", "intervention", "priority"}
    assert set(model.config.qa_heads) == set(QA_HEADS)
    for task, dataset in datasets.items():
        assert len(set(dataset["example_id"])) == 8 < len(dataset), task
    trainer = make_trainer(model, datasets, collator, tmp_path / "run")

    untrained = failures({**trainer.evaluate(eval_dataset=datasets), **record_scores(model, tokenizer)}, model.config)
    assert len(untrained) == len(scores({}, model.config)), f"the untrained model passes some checks: {untrained}"

    trainer.train()
    missed = failures({**trainer.evaluate(eval_dataset=datasets), **record_scores(model, tokenizer)}, model.config)
    assert not missed, f"below {THRESHOLD} after {MAX_STEPS} steps: {missed}"
