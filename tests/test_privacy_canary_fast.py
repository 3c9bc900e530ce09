"""The privacy canary in the default suite: one short life of a model, scanned for the canary in three forms.

The slow canary (`tests/test_privacy_canary.py`) runs every command with checkpoints and a failing run; this one
runs in the default suite, so CI tries privacy on every change: a tiny encoder, a few steps, and each real command
in its own process: `validate`, `train` (with the head refit, calibration and the embedded MLflow store),
`evaluate`, `predict`, `publish` to the local Hub-protocol server, and a distillation run that uses the first model
as its NER teacher (its cache of teacher outputs is written into the output folder).

Everything the commands printed or wrote is scanned for the canary as written, in lower case (the tiny tokenizer
lowercases) and as its token-id sequence under the run's tokenizer (as 64-, 32- and 16-bit integers and as JSON
or Python lists), so a cache of tokenised transcripts is caught as surely as a logged sentence.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from tests.hub_server import hub_client_env, running_hub_server

from .test_privacy_canary import CANARY, plant_canaries


def canary_token_ids(tokenizer) -> list[int]:
    ids = tokenizer(CANARY, add_special_tokens=False)["input_ids"]
    assert len(ids) >= 10 and tokenizer.unk_token_id not in ids, ids  # a sequence long enough to be unique
    return ids


def token_patterns(ids: list[int]) -> list[bytes | re.Pattern[bytes]]:
    """The canary's token ids as they can sit in a file: packed integers, or a list written as text."""
    packed: list[bytes | re.Pattern[bytes]] = [np.asarray(ids, dtype=dtype).tobytes() for dtype in ("<i8", "<i4", "<i2")]
    packed.append(re.compile(rb"\D" + rb"\s*,\s*".join(str(i).encode() for i in ids) + rb"\D"))
    return packed


def leaks(data: bytes, patterns) -> list[str]:
    found = []
    if CANARY.encode() in data:
        found.append("literal")
    lowered = data.lower()
    if any(piece.lower().encode() in lowered for piece in CANARY.split()):
        found.append("lower-case")
    for pattern in patterns:
        hit = pattern.search(data) if isinstance(pattern, re.Pattern) else pattern in data
        if hit:
            found.append("token ids")
            break
    return found


@pytest.fixture(scope="module")
def short_life(tmp_path_factory):
    root = tmp_path_factory.mktemp("canary_fast")
    inputs = root / "inputs"  # the user's own files: the only place besides predict's output the canary belongs
    files, malformed, tokenizer = plant_canaries(inputs, size=24)
    calls = inputs / "calls.jsonl"
    calls.write_text(
        json.dumps({"id": "call-1", "text": f"my name is {CANARY} and my child is 12 years old"}) + "\n"
        + json.dumps({"id": "call-2", "text": f"{CANARY} is calling for help"}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    work, home, tmp = root / "cwd", root / "hf_home", root / "tmp"
    for folder in (work, home, tmp):
        folder.mkdir()
    out, student = root / "out", root / "student"
    data_args = ["--ner_file", str(files["ner_file"]), "--cases_file", str(files["cases_file"]),
                 "--qa_file", str(files["qa_file"])]  # fmt: skip
    train_args = [
        "--encoder", str(inputs / "encoder"), *data_args, "--window_length", "48", "--window_stride", "16",
        "--per_device_train_batch_size", "4", "--max_steps", "4", "--save_strategy", "no", "--eval_strategy", "no",
        "--logging_steps", "2", "--refit_heads_epochs", "1", "--calibrate", "true", "--report_to", "mlflow",
        "--use_cpu", "true", "--seed", "1", "--dataloader_num_workers", "0",
    ]  # fmt: skip
    commands = {
        "validate": ["validate", "--ner-file", str(malformed), "--cases-file", str(files["cases_file"]),
                     "--qa-file", str(files["qa_file"]), "--report", str(root / "validate_report.json")],
        "train": ["train", *train_args, "--output_dir", str(out), "--run_name", "canary"],
        "evaluate": ["evaluate", "--model", str(out), "--ner-file", str(files["ner_file"]),
                     "--cases-file", str(files["cases_file"]), "--qa-file", str(files["qa_file"]),
                     "--output", str(root / "metrics.json")],
        "predict": ["predict", "--model", str(out), str(calls), "--output", str(root / "predictions.jsonl")],
        "publish": ["publish", str(out), "--repo", "org/canary", "--tag", "v1.0.0"],
        "distill": ["train", *train_args, "--output_dir", str(student), "--teachers", f"ner={out}"],
    }  # fmt: skip
    results = {}
    with running_hub_server() as hub:
        env = hub_client_env(hub.endpoint, home, token=hub.token)
        env.update(TMPDIR=str(tmp), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):
            env.pop(name, None)
        for name, args in commands.items():
            proc = subprocess.run(
                [sys.executable, "-m", "helpline_fusion.cli", *args],
                cwd=work, env=env, capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            results[name] = (proc.returncode, proc.stdout, proc.stderr)
        repo_files = hub.repo_files("org/canary")
    ids = canary_token_ids(tokenizer)
    return root, results, repo_files, ids, token_patterns(ids)


def test_each_command_ran_and_the_scan_can_see_the_canary(short_life):
    root, results, repo_files, ids, patterns = short_life
    codes = {name: code for name, (code, _, _) in results.items()}
    detail = {name: err[-3000:] for name, (code, _, err) in results.items() if code not in (0, 2)}
    assert codes == {"validate": 2, "train": 0, "evaluate": 0, "predict": 0, "publish": 0, "distill": 0}, detail
    # The phases this test is meant to cover did run.
    assert (root / "out" / "calibration.json").is_file() and (root / "out" / "refit_heads.json").is_file()
    assert any((root / "student").rglob("*.arrow")), "the distillation run cached no teacher outputs"
    assert {"model.safetensors", "config.json", "README.md"} <= set(repo_files)
    # Each form of the scan finds the canary where it belongs: its text in predict's output (entity texts), the
    # literal, and the token ids in the tokenised form of a transcript holding it.
    assert "lower-case" in leaks((root / "predictions.jsonl").read_bytes(), patterns)
    assert leaks(f"<{CANARY}>".encode(), patterns) == ["literal", "lower-case"]
    for form in (np.asarray(ids, "<i8").tobytes(), np.asarray(ids, "<i4").tobytes(), json.dumps(ids).encode(),
                 str([7, *ids]).encode()):
        assert leaks(b"\x00" + form + b"\x00", patterns) == ["token ids"], form


def test_the_canary_appears_only_in_predict_output(short_life):
    root, results, repo_files, _, patterns = short_life
    leaked = [f"{name} {stream}: {leaks(text.encode(), patterns)}" for name, (_, stdout, stderr) in results.items()
              for stream, text in (("stdout", stdout), ("stderr", stderr)) if leaks(text.encode(), patterns)]  # fmt: skip
    allowed = {root / "predictions.jsonl"}
    scanned = 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and path not in allowed and root / "inputs" not in path.parents:
            scanned += 1
            found = leaks(path.read_bytes(), patterns)
            if found:
                leaked.append(f"{path.relative_to(root)}: {found}")
    leaked += [f"hub org/canary:{name}" for name, data in repo_files.items() if leaks(data, patterns)]
    assert not leaked, leaked
    names = {path.name for path in root.rglob("*") if path.is_file()}
    assert {"mlflow.db", "README.md", "eval_results.json", "calibration.json", "refit_heads.json",
            "metrics.json", "validate_report.json"} <= names  # fmt: skip
    assert scanned > 20
