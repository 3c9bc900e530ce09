"""A training run killed with SIGKILL loses nothing: resumed with `--resume_from_checkpoint true`, it starts from
the newest COMPLETE checkpoint and ends with the same weights as a run that was never interrupted.

Real subprocesses (`python -m helpline_fusion.cli train ...`, a tiny random encoder, checkpoints every 4 steps,
12 steps), killed with SIGKILL at two moments:
    - while a checkpoint is being written: a test driver wraps the Trainer's `_save_rng_state` so that, at step 8,
      after the weights and optimizer are on disk but before `trainer_state.json` is, it signals the test and sleeps;
      the test kills it there, leaving a half-written `checkpoint-8`;
    - between checkpoints: the driver signals from inside training step 7 and the test kills it there.
    - in a phase after training (the final evaluation): the model saved when training ended is loadable, and
      `--resume_phases true` runs the phases left without training again.
The driver only adds the pause and the signal; the training code is the package's.

Weights are compared tensor by tensor EXACTLY (`torch.equal`): on one CPU thread the resumed run replays the same
batches, dropout masks and optimizer updates.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel

from helpline_fusion.data.synthetic import generate
from helpline_fusion.train.checkpoints import checkpoint_problem, last_complete_checkpoint, resolve_resume
from helpline_fusion.train.run_folder import MixedRunFolderError, check_run_folder

from .conftest import build_tiny_tokenizer, tiny_bert_config

DRIVER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import transformers

    marker, mode, step = Path(os.environ["KILL_MARKER"]), os.environ["KILL_MODE"], int(os.environ["KILL_STEP"])
    if mode == "in_save":  # pause after the weights and optimizer, before trainer_state.json
        original = transformers.Trainer._save_rng_state

        def paused(self, output_dir):
            original(self, output_dir)
            if self.state.global_step == step:
                marker.write_text(output_dir)
                time.sleep(600)

        transformers.Trainer._save_rng_state = paused
    elif mode == "between":  # pause inside a training step that is not a checkpoint step
        original = transformers.Trainer.training_step

        def paused(self, *args, **kwargs):
            if self.state.global_step + 1 == step:
                marker.write_text(str(step))
                time.sleep(600)
            return original(self, *args, **kwargs)

        transformers.Trainer.training_step = paused
    elif mode == "in_phase":  # pause in the final evaluation, after the trained model was saved
        from helpline_fusion.train.trainer import MultiTaskTrainer

        def paused(self):
            marker.write_text("evaluate")
            time.sleep(600)

        MultiTaskTrainer.evaluate_final = paused
    from helpline_fusion.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    torch.manual_seed(0)
    AutoModel.from_config(tiny_bert_config()).save_pretrained(root / "encoder")
    build_tiny_tokenizer(root / "encoder")
    files = generate(root / "data", seed=5, n_ner=40, n_cases=40, n_qa=40, n_qa_heldout=10)
    (root / "driver.py").write_text(DRIVER)
    return root, files


def train_command(root: Path, files: dict, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable, str(root / "driver.py"), "train",
        "--encoder", str(root / "encoder"), "--ner_file", str(files["ner_file"]),
        "--cases_file", str(files["cases_file"]), "--qa_file", str(files["qa_file"]),
        "--output_dir", str(output), "--window_length", "48", "--window_stride", "16",
        "--per_device_train_batch_size", "4", "--learning_rate", "3e-3", "--max_steps", "12",
        "--save_strategy", "steps", "--save_steps", "4", "--eval_strategy", "no", "--calibrate", "false",
        "--use_cpu", "true", "--seed", "7", "--report_to", "none", "--dataloader_num_workers", "0",
        "--disable_tqdm", "true", *extra,
    ]  # fmt: skip


def environment(marker: Path, mode: str = "none", step: int = 0) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
            "KILL_MARKER": str(marker), "KILL_MODE": mode, "KILL_STEP": str(step)}  # fmt: skip


def run_to_end(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def run_and_kill(command: list[str], env: dict[str, str], marker: Path) -> None:
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-4000:]
            assert time.monotonic() < deadline, "the run never reached the kill point"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()


def assert_same_weights(folder: Path, reference: Path) -> None:
    got, expected = load_file(folder / "model.safetensors"), load_file(reference / "model.safetensors")
    assert got.keys() == expected.keys()
    different = [name for name in expected if not torch.equal(got[name], expected[name])]
    assert not different, different


@pytest.fixture(scope="module")
def reference(workspace):
    root, files = workspace
    output = root / "reference"
    run_to_end(train_command(root, files, output), environment(root / "unused"))
    return output


@pytest.mark.slow
def test_killed_while_writing_a_checkpoint_resumes_from_the_last_complete_one(workspace, reference):
    root, files = workspace
    output, marker = root / "killed_in_save", root / "marker_in_save"
    run_and_kill(train_command(root, files, output), environment(marker, "in_save", 8), marker)
    half = output / "checkpoint-8"
    assert (half / "model.safetensors").is_file() and not (half / "trainer_state.json").exists()
    assert "trainer_state.json is missing" in checkpoint_problem(half)
    assert last_complete_checkpoint(output) == output / "checkpoint-4"
    with pytest.raises(ValueError, match=r"checkpoint-8 is not a complete checkpoint .* newest complete one is"):
        resolve_resume(str(half), output)

    proc = run_to_end(train_command(root, files, output, "--resume_from_checkpoint", "true"), environment(marker))
    assert f"skipping {half}: trainer_state.json is missing" in proc.stderr
    assert f"resuming from {output / 'checkpoint-4'}" in proc.stderr
    assert_same_weights(output, reference)
    state = json.loads((output / "checkpoint-12" / "trainer_state.json").read_text())
    assert state["global_step"] == 12


@pytest.mark.slow
def test_killed_between_checkpoints_resumes_to_the_same_weights(workspace, reference):
    root, files = workspace
    output, marker = root / "killed_between", root / "marker_between"
    run_and_kill(train_command(root, files, output), environment(marker, "between", 7), marker)
    assert sorted(path.name for path in output.glob("checkpoint-*")) == ["checkpoint-4"]
    assert not (output / "model.safetensors").exists()
    run_to_end(train_command(root, files, output, "--resume_from_checkpoint", "last"), environment(marker))
    assert_same_weights(output, reference)


@pytest.mark.slow
def test_killed_in_a_phase_after_training_keeps_the_model_and_resume_phases_finishes_it(workspace, reference):
    root, files = workspace
    output, marker = root / "killed_in_phase", root / "marker_in_phase"
    run_and_kill(train_command(root, files, output), environment(marker, "in_phase"), marker)
    assert_same_weights(output, reference)  # saved when training ended, before the phase that was killed
    with pytest.raises(MixedRunFolderError, match=r"stopped before its phases \['evaluate', 'curves', 'card'\]"):
        check_run_folder(output)
    assert not (output / "eval_results.json").exists()
    proc = run_to_end(train_command(root, files, output, "--resume_phases", "true"), environment(marker))
    assert f"resume_phases: {output} holds phases ['train']; running ['evaluate', 'curves', 'card']" in proc.stderr
    assert "train_runtime" not in proc.stdout  # no training step ran
    manifest = check_run_folder(output)
    assert manifest["phases_done"] == ["train", "evaluate", "curves", "card"]
    assert_same_weights(output, reference)
    assert (output / "eval_results.json").read_text().replace(manifest["run_id"], "") == (
        (reference / "eval_results.json").read_text().replace(check_run_folder(reference)["run_id"], "")
    )


def test_a_truncated_trainer_state_or_weights_file_is_incomplete(tmp_path):
    from safetensors.torch import save_file

    folder = tmp_path / "checkpoint-8"
    folder.mkdir()
    save_file({"w": torch.ones(64)}, folder / "model.safetensors")
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth"):
        (folder / name).write_bytes(b"x")
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": 8, "log_history": []}))
    assert checkpoint_problem(folder) is None
    text = (folder / "trainer_state.json").read_text()
    (folder / "trainer_state.json").write_text(text[: len(text) // 2])
    assert "truncated" in checkpoint_problem(folder)
    (folder / "trainer_state.json").write_text(text)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[:-10])
    assert checkpoint_problem(folder) == "model.safetensors is truncated"
    with pytest.raises(ValueError, match="no complete checkpoint in"):
        resolve_resume("true", tmp_path)
    assert resolve_resume(None, tmp_path) is None and resolve_resume("false", tmp_path) is None
