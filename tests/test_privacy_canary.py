"""A privacy canary through the whole life of a model.

NER, case and quality files get records whose transcripts and entity texts (and a case's victim name) hold a unique
canary string: records that are kept, repaired (spans outside the text, a missing priority, NaN and "not
applicable" quality values) and rejected (text not a string, no labels, unparseable labels), and, for `validate`
and `predict`, a malformed JSON line holding the canary. Then, each as the real command in its own process:
`validate`, `train` (tiny encoder, checkpoints, evaluation, the embedded MLflow store, calibration, the validation
report), `evaluate`, `predict` (with the malformed line), `publish` to the local Hub-protocol server, and a failing
`train` (a bad entity label on a canary record).

Everything they wrote or printed is scanned for the canary, case-insensitively (the tiny tokenizer lowercases):
stdout and stderr of each command, the output folder with its checkpoints (`trainer_state.json`,
`training_args.bin`, optimizer state...), the MLflow SQLite store and its artifact folder, the model card, every
file of the published repo, the working directory, and the commands' own `HF_HOME` and `TMPDIR`. The canary may
appear only in `predict`'s output file, which the user asked for.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModel

from helpline_fusion.data.synthetic import generate
from tests.hub_server import hub_client_env, running_hub_server

from .conftest import build_tiny_tokenizer, tiny_bert_config

CANARY = "Zqxcanary Vorpel7731"
NAME = CANARY.split()[0]


def ner_canary_records() -> list[dict]:
    text = f"hello my name is {CANARY} and i am calling from the town about my child"
    start = text.index(CANARY)
    name = {"start": start, "end": start + len(CANARY), "label": "NAME", "text": CANARY}  # an extra field too
    return [
        {"id": "canary-kept", "text": text, "entities": [name]},
        {"id": "canary-repaired", "text": text, "entities": [name, {"start": 5, "end": 500, "label": "LOCATION"}]},
        {"id": "canary-rejected", "text": [text], "entities": [name]},  # text not a string
        {"id": "canary-no-entities", "text": text, "entities": CANARY},  # entities not a list
    ]


def case_canary_records() -> list[dict]:
    narrative = f"The caller {CANARY} reports that a child is being beaten at home."
    victim = {"name": CANARY, "age": "12"}
    return [
        {"uniqueid": "canary-case-1", "narrative": narrative, "category": "Physical Abuse",
         "intervention": "Counselling", "priority": "1", "victim": victim},
        {"uniqueid": "canary-case-2", "narrative": narrative, "category": "Physical Abuse",
         "intervention": "counseling\nreferral", "victim": victim},  # no priority: repaired (masked)
        {"uniqueid": "canary-case-3", "narrative": narrative, "victim": victim},  # no labels: rejected
    ]  # fmt: skip


def qa_canary_records() -> list[dict]:
    text = f"Agent: hello, this is the helpline. Caller: my name is {CANARY}. Agent: thank you for calling."
    return [
        {"sample_id": "canary-qa-1", "text": text, "labels": {"opening": [1], "hold": "No hold was required"}},
        {"sample_id": "canary-qa-2", "text": text, "labels": json.dumps({"listening": [1, None, 0, "x", 2]})},
        {"sample_id": "canary-qa-3", "text": text, "labels": "{" + CANARY},  # unparseable: rejected
    ]


def add_records(path: Path, records: list[dict]) -> None:
    if path.suffix == ".jsonl":
        with path.open("a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(record) + "\n" for record in records)
    else:
        path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8")) + records), encoding="utf-8")


def plant_canaries(inputs: Path, size: int):
    """A tiny encoder and tokenizer in `inputs/encoder`, the generated data with the canary records added, and a
    copy of the NER file with a malformed canary line: `(files, malformed NER file, tokenizer)`."""
    torch.manual_seed(0)
    AutoModel.from_config(tiny_bert_config()).save_pretrained(inputs / "encoder")
    tokenizer = build_tiny_tokenizer(inputs / "encoder")
    files = generate(inputs / "data", seed=9, n_ner=size, n_cases=size, n_qa=size, n_qa_heldout=size // 4)
    add_records(files["ner_file"], ner_canary_records())
    add_records(files["cases_file"], case_canary_records())
    add_records(files["qa_file"], qa_canary_records())
    malformed = inputs / "ner_with_malformed_line.jsonl"
    malformed.write_text(files["ner_file"].read_text() + '{"text": "' + CANARY + ' unterminated\n', encoding="utf-8")
    return files, malformed, tokenizer


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory):
    """Run every command once; return (root, {command: (returncode, stdout, stderr)}, hub repo files)."""
    root = tmp_path_factory.mktemp("canary")
    inputs = root / "inputs"  # the user's own files: the only place besides predict's output the canary belongs
    files, malformed, _ = plant_canaries(inputs, size=40)
    bad_label = inputs / "ner_bad_label.jsonl"
    bad_label.write_text(
        files["ner_file"].read_text()
        + json.dumps({"id": "canary-bad-label", "text": f"i am {CANARY}",
                      "entities": [{"start": 5, "end": 5 + len(CANARY), "label": "SUPERHERO"}]}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    calls = inputs / "calls.jsonl"
    calls.write_text(
        json.dumps({"id": "call-1", "text": f"my name is {CANARY} and my child is 12 years old"}) + "\n"
        + '{"id": "call-2", "text": "' + CANARY + ' broken\n'
        + json.dumps({"id": "call-3", "text": f"{CANARY} is calling for help"}) + "\n",
        encoding="utf-8",
    )  # fmt: skip

    work, home, tmp = root / "cwd", root / "hf_home", root / "tmp"
    for folder in (work, home, tmp):
        folder.mkdir()
    out = root / "out"
    train_args = [
        "--encoder", str(inputs / "encoder"), "--ner_file", str(files["ner_file"]),
        "--cases_file", str(files["cases_file"]), "--qa_file", str(files["qa_file"]),
        "--output_dir", str(out), "--window_length", "48", "--window_stride", "16",
        "--per_device_train_batch_size", "4", "--max_steps", "8", "--save_strategy", "steps", "--save_steps", "4",
        "--eval_strategy", "steps", "--eval_steps", "4", "--logging_steps", "2", "--load_best_model_at_end", "true",
        "--report_to", "mlflow", "--run_name", "canary", "--use_cpu", "true", "--seed", "1",
        "--dataloader_num_workers", "0",
    ]  # fmt: skip
    evaluate = ["--model", str(out), "--ner-file", str(files["ner_file"]), "--cases-file", str(files["cases_file"]),
                "--qa-file", str(files["qa_file"]), "--output", str(root / "metrics.json")]  # fmt: skip
    results = {}
    with running_hub_server() as hub:
        env = hub_client_env(hub.endpoint, home, token=hub.token)
        env.update(TMPDIR=str(tmp), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):
            env.pop(name, None)
        commands = {
            "validate": ["validate", "--ner-file", str(malformed), "--cases-file", str(files["cases_file"]),
                         "--qa-file", str(files["qa_file"]), "--report", str(root / "validate_report.json")],
            "train": ["train", *train_args],
            "evaluate": ["evaluate", *evaluate],
            "predict": ["predict", "--model", str(out), str(calls), "--output", str(root / "predictions.jsonl")],
            "publish": ["publish", str(out), "--repo", "org/canary", "--tag", "v1.0.0"],
            "failing_train": ["train", *train_args, "--ner_file", str(bad_label), "--output_dir", str(root / "failed")],
        }  # fmt: skip
        for name, args in commands.items():
            proc = subprocess.run(
                [sys.executable, "-m", "helpline_fusion.cli", *args],
                cwd=work, env=env, capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            results[name] = (proc.returncode, proc.stdout, proc.stderr)
        repo_files = hub.repo_files("org/canary")
    return root, results, repo_files


def leaks(data: bytes) -> bool:
    lowered = data.lower()
    return any(piece.lower().encode() in lowered for piece in (CANARY, NAME, CANARY.split()[1]))


@pytest.mark.slow
def test_every_command_ran_as_expected(lifecycle):
    root, results, repo_files = lifecycle
    codes = {name: code for name, (code, _, _) in results.items()}
    detail = {name: err[-3000:] for name, (code, _, err) in results.items() if code not in (0, 2)}
    assert codes == {"validate": 2, "train": 0, "evaluate": 0, "predict": 0, "publish": 0, "failing_train": 2}, detail
    report = json.loads((root / "validate_report.json").read_text())["files"]
    ner_entry = next(entry for path, entry in report.items() if path.endswith("ner_with_malformed_line.jsonl"))
    assert ner_entry["reasons"]["malformed_json"] == 1 and ner_entry["rejected"] >= 3
    assert "SUPERHERO" in results["failing_train"][2] and "canary-bad-label" in results["failing_train"][2]
    predictions = [json.loads(line) for line in (root / "predictions.jsonl").read_text().splitlines()]
    assert [row["id"] for row in predictions] == ["call-1", 2, "call-3"] and "error" in predictions[1]
    # The canary is in the output the user asked for (so the scan below would see a leak if it were elsewhere).
    assert leaks((root / "predictions.jsonl").read_bytes())
    assert {"model.safetensors", "README.md", "config.json"} <= set(repo_files)
    # MLflow: the embedded store and its artifacts in the output folder, nothing in the working directory.
    out = root / "out"
    assert (out / "mlflow.db").is_file()
    assert {"training_curves.png", "calibration.json", "data_validation_report.json"} <= {
        path.name for path in (out / "mlruns").rglob("*") if path.is_file()
    }
    assert not any((root / "cwd").iterdir()), list((root / "cwd").iterdir())


@pytest.mark.slow
def test_the_canary_appears_only_in_predict_output(lifecycle):
    root, results, repo_files = lifecycle
    leaked = [f"{name} {stream}" for name, (_, stdout, stderr) in results.items()
              for stream, text in (("stdout", stdout), ("stderr", stderr)) if leaks(text.encode())]  # fmt: skip
    allowed = {root / "predictions.jsonl"}
    scanned = 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and path not in allowed and root / "inputs" not in path.parents:
            scanned += 1
            if leaks(path.read_bytes()):
                leaked.append(str(path.relative_to(root)))
    leaked += [f"hub org/canary:{name}" for name, data in repo_files.items() if leaks(data)]
    assert not leaked, leaked
    # The scan covered what the issue names.
    names = {path.name for path in root.rglob("*") if path.is_file()}
    assert {"trainer_state.json", "training_args.bin", "optimizer.pt", "mlflow.db", "README.md",
            "eval_results.json", "data_validation_report.json"} <= names  # fmt: skip
    assert scanned > 30
