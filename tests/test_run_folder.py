"""A training output folder is one run (`train/run_folder.py`): every JSON file carries the run id, the manifest
lists every file with its hash, a mixed folder is refused naming the file, a second training into a folder in use
is refused, a checkpoint of other settings is not resumed, a failed later phase leaves a loadable model and the
command that finishes it, a model save past the file-size limit keeps nothing half-written, and a `--hub_token`
is stored nowhere. One tiny trained folder (module fixture) serves most tests."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel

from helpline_fusion.data.synthetic import generate
from helpline_fusion.modeling_attention_fusion import AttentionFusionModel
from helpline_fusion.train import trainer as trainer_module
from helpline_fusion.train import training
from helpline_fusion.train.run import main as train_main
from helpline_fusion.train.run import resume_phases_command
from helpline_fusion.train.run_folder import (
    RUN_MANIFEST,
    MixedRunFolderError,
    OutputDirLockedError,
    check_run_folder,
    output_dir_lock,
    write_atomic,
)
from helpline_fusion.train.run_settings import load_training_args

from .conftest import build_tiny_tokenizer, tiny_bert_config

SECRET = "hf_CanaryToken0123456789abcdefSECRET"
RUN_JSON = {
    "eval_results.json", "calibration.json", "refit_heads.json", "run_settings.json", "label_maps.json",
    "data_validation_report.json", "training_state.json",
}  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One thread: tiny tensors on a shared CPU run several times faster, and the runs repeat exactly."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("run_folder")
    torch.manual_seed(0)
    AutoModel.from_config(tiny_bert_config()).save_pretrained(root / "encoder")
    build_tiny_tokenizer(root / "encoder")
    files = generate(root / "data", seed=3, n_ner=24, n_cases=24, n_qa=24, n_qa_heldout=8)
    return root, files


def run_args(root: Path, files: dict, output: Path, *extra: str) -> list[str]:
    return [
        "--encoder", str(root / "encoder"), "--ner_file", str(files["ner_file"]),
        "--cases_file", str(files["cases_file"]), "--qa_file", str(files["qa_file"]),
        "--qa_eval_file", str(files["qa_heldout_file"]), "--output_dir", str(output),
        "--window_length", "128", "--window_stride", "32", "--max_train_examples", "8",
        "--per_device_train_batch_size", "4",
        "--per_device_eval_batch_size", "16", "--learning_rate", "3e-3", "--max_steps", "6",
        "--save_strategy", "steps", "--save_steps", "3", "--eval_strategy", "no", "--refit_heads_epochs", "1",
        "--use_cpu", "true", "--seed", "7", "--report_to", "none", "--dataloader_num_workers", "0",
        "--disable_tqdm", "true", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def finished(workspace):
    """One complete tiny run, given a --hub_token (it must end up in no file)."""
    root, files = workspace
    output = root / "finished"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_TOKEN", "restored-after-the-run")  # train moves --hub_token here; undone afterwards
        assert train_main(run_args(root, files, output, "--hub_token", SECRET)) == 0
    return output


def test_a_finished_folder_is_one_run_and_loads(finished):
    manifest = check_run_folder(finished)
    assert manifest["phases_done"] == list(training.PHASES) and manifest["phases_pending"] == []
    run_id = manifest["run_id"]
    assert RUN_JSON | {"model.safetensors", "config.json", "README.md", "training_curves.png"} <= set(manifest["files"])
    for name in RUN_JSON:
        assert json.loads((finished / name).read_text())["run_id"] == run_id, name
    assert "run_id" not in json.loads((finished / "tokenizer_config.json").read_text())
    settings = json.loads((finished / "run_settings.json").read_text())
    assert settings["settings_digest"] == manifest["settings_digest"]
    for checkpoint in ("checkpoint-3", "checkpoint-6"):  # each checkpoint records the run's settings
        copied = json.loads((finished / checkpoint / "run_settings.json").read_text())
        assert copied["run_id"] == run_id and copied["settings_digest"] == manifest["settings_digest"]
    assert type(AttentionFusionModel.from_pretrained(finished)).__name__ == "AttentionFusionModel"
    assert not list(finished.glob(".staging-*"))


def test_a_hub_token_is_stored_in_no_file(finished):
    files = [path for path in finished.rglob("*") if path.is_file()]
    assert any(path.name == "training_args.bin" for path in files)
    assert [path for path in files if SECRET.encode() in path.read_bytes()] == []
    assert load_training_args(finished / "training_args.bin").hub_token is None  # read without pickle code
    assert os.environ.get("HF_TOKEN") != SECRET


def test_a_pickle_naming_other_globals_is_refused_unread(tmp_path):
    path = tmp_path / "training_args.bin"
    torch.save({"call": os.getcwd}, path)  # a function global, as a crafted pickle would name
    with pytest.raises(ValueError, match=r"training_args.bin: refused, it names \['posix.getcwd'\]"):
        load_training_args(path)


def flat(record, prefix: str = "") -> dict:
    """A nested JSON record as {path: value}, so that numbers can be compared within a tolerance."""
    if isinstance(record, dict):
        return {k: v for key, value in record.items() for k, v in flat(value, f"{prefix}/{key}").items()}
    if isinstance(record, list):
        return {k: v for index, value in enumerate(record) for k, v in flat(value, f"{prefix}/{index}").items()}
    return {prefix: record}


def copy_top_level(folder: Path, target: Path) -> Path:
    target.mkdir()
    for path in folder.iterdir():
        if path.is_file():
            shutil.copy2(path, target / path.name)
    return target


def test_a_mixed_folder_is_refused_naming_the_file(finished, tmp_path):
    folder = copy_top_level(finished, tmp_path / "copy")
    run_id = check_run_folder(folder)["run_id"]
    (folder / "teacher_outputs.json").write_text(json.dumps({"run_id": "0" * 32, "teachers": []}))
    with pytest.raises(MixedRunFolderError) as error:
        check_run_folder(folder)
    assert str(error.value) == (
        f"{folder / 'teacher_outputs.json'}: written by run {'0' * 32}, not by run {run_id} of {RUN_MANIFEST}"
    )
    (folder / "teacher_outputs.json").unlink()
    results = json.loads((folder / "eval_results.json").read_text())
    (folder / "eval_results.json").write_text(json.dumps({**results, "composite": 0.99}))  # an older run's score
    with pytest.raises(MixedRunFolderError, match=r"eval_results.json: differs from the file run \w+ wrote"):
        check_run_folder(folder)
    shutil.copy2(finished / "eval_results.json", folder / "eval_results.json")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])  # a half-written weights file
    with pytest.raises(MixedRunFolderError, match=r"model.safetensors: differs from the file run"):
        check_run_folder(folder)
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").symlink_to(finished / "model.safetensors")  # the same bytes, through a link
    with pytest.raises(MixedRunFolderError, match=r"model.safetensors: a symbolic link, not the file run \w+ wrote"):
        check_run_folder(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(MixedRunFolderError, match=rf"model.safetensors: listed in {RUN_MANIFEST} of run \w+ but missing"):
        check_run_folder(folder)
    (folder / RUN_MANIFEST).unlink()
    with pytest.raises(MixedRunFolderError, match=rf"{RUN_MANIFEST}: missing; .* holds no complete training run"):
        check_run_folder(folder)


def test_write_atomic_keeps_the_old_file_when_the_write_fails(tmp_path):
    target = tmp_path / "eval_results.json"
    target.write_text("old")
    (tmp_path / "blocker").mkdir()
    with pytest.raises(OSError):
        write_atomic(tmp_path / "blocker", "new")  # os.replace onto a folder fails after the temporary is written
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "eval_results.json"]
    write_atomic(target, "new")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "eval_results.json"]


def test_resume_refuses_a_checkpoint_of_other_settings_or_without_a_record(workspace, finished, tmp_path, capsys):
    root, files = workspace
    elsewhere = tmp_path / "resumed"
    checkpoint = finished / "checkpoint-3"
    args = run_args(root, files, elsewhere, "--resume_from_checkpoint", str(checkpoint), "--learning_rate", "1e-2")
    assert train_main(args) == 2
    assert capsys.readouterr().err == (
        f"helpline-fusion train: resume_from_checkpoint: {checkpoint / 'run_settings.json'} records other settings "
        "than this run's: learning_rate: 0.003 there, 0.01 here; resume with the checkpoint's settings, or train "
        "afresh into a new output_dir\n"
    )
    unrecorded = tmp_path / "old" / "checkpoint-3"
    shutil.copytree(checkpoint, unrecorded)
    (unrecorded / "run_settings.json").unlink()
    assert train_main(run_args(root, files, elsewhere, "--resume_from_checkpoint", str(unrecorded))) == 2
    assert capsys.readouterr().err == (
        f"helpline-fusion train: resume_from_checkpoint: {unrecorded / 'run_settings.json'} is missing, so nothing "
        "says which settings trained this checkpoint (an older version or another program wrote it); train afresh "
        "into a new output_dir\n"
    )
    assert not (elsewhere / "data_validation_report.json").exists()  # refused before anything was written


def test_resume_latest_skips_a_newer_checkpoint_of_other_settings(finished, tmp_path, caplog):
    """The audit's M3 case: a folder holding a previous run's later checkpoint; `--resume_from_checkpoint true`
    resumes this run's own newest checkpoint and says which it skipped, never the other run's."""
    from helpline_fusion.train.checkpoints import resolve_resume

    folder = tmp_path / "shared"
    for name in ("checkpoint-3", "checkpoint-6"):
        shutil.copytree(finished / name, folder / name)
    other = json.loads((folder / "checkpoint-6" / "run_settings.json").read_text())
    other["training"]["learning_rate"] = 0.5  # checkpoint-6 now comes from a run of other settings
    (folder / "checkpoint-6" / "run_settings.json").write_text(json.dumps(other))
    expected = json.loads((finished / "run_settings.json").read_text())
    with caplog.at_level("WARNING"):
        assert resolve_resume("true", folder, expected=expected) == str(folder / "checkpoint-3")
    assert f"skipping {folder / 'checkpoint-6'}: {folder / 'checkpoint-6' / 'run_settings.json'} records other " \
        "settings than this run's: learning_rate: 0.5 there, 0.003 here" in caplog.text
    assert resolve_resume("true", folder) == str(folder / "checkpoint-6")  # without a record to match: the newest
    shutil.rmtree(folder / "checkpoint-3")
    with pytest.raises(ValueError, match=rf"no complete checkpoint of this run's settings in {folder} to resume"):
        resolve_resume("last", folder, expected=expected)


HOLDER = textwrap.dedent(
    """
    import sys
    from helpline_fusion.train.run_folder import output_dir_lock
    with output_dir_lock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.read()
    """
)


def test_a_second_training_into_a_folder_in_use_is_refused(workspace, tmp_path, capsys):
    root, files = workspace
    output = tmp_path / "busy"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(output)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline() == "locked\n"
        assert train_main(run_args(root, files, output)) == 2
        assert capsys.readouterr().err == (
            f"helpline-fusion train: output_dir {output} is in use by another training (pid {holder.pid})\n"
        )
        assert sorted(path.name for path in output.iterdir()) == [".helpline-fusion.lock"]
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with output_dir_lock(output):  # free again once the holder ended
        with pytest.raises(OutputDirLockedError, match=f"output_dir {output} is in use by another training"):
            with output_dir_lock(output):
                pass


def test_a_failed_later_phase_keeps_the_model_and_the_printed_command_finishes_it(
    workspace, finished, capsys, monkeypatch
):
    root, files = workspace
    output = root / "interrupted"
    args = run_args(root, files, output, "--report_to", "mlflow")  # the embedded store in output_dir
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_FLATTEN_PARAMS"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(name, "placeholder")  # recorded, so that what the run exports is undone afterwards
        monkeypatch.delenv(name)

    def exploding(*args, **kwargs):
        raise RuntimeError("calibration exploded")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer_module, "calibrate", exploding)
        assert train_main(args) == 2
    command = resume_phases_command(args)
    assert capsys.readouterr().err == (
        f"helpline-fusion train: phase 'calibrate' failed (RuntimeError: calibration exploded); the trained model "
        f"is saved in {output} (phases done: train, refit). Run the remaining phases (calibrate, evaluate, curves, "
        f"card) without retraining: {command}\n"
    )
    assert command.endswith(" --resume_phases true") and command.startswith("helpline-fusion train --encoder ")
    AttentionFusionModel.from_pretrained(output)  # loadable as it is
    with pytest.raises(MixedRunFolderError, match=r"stopped before its phases \['calibrate', 'evaluate', 'curves'"):
        check_run_folder(output)
    first = check_run_folder(output, allow_unfinished=True)
    assert first["phases_done"] == ["train", "refit"] and not (output / "eval_results.json").exists()

    # The command with other settings is refused, naming the record; the printed one finishes the run.
    assert train_main([*shlex.split(command)[2:], "--learning_rate", "1e-2"]) == 2
    assert capsys.readouterr().err.startswith(
        f"helpline-fusion train: resume_phases: {output / 'run_settings.json'} records other settings than these "
        "(learning_rate: 0.003 there, 0.01 here)"
    )
    assert train_main(shlex.split(command)[2:]) == 0
    manifest = check_run_folder(output)
    assert manifest["phases_done"] == list(training.PHASES) and manifest["run_id"] == first["run_id"]
    # The same weights, calibration and scores as the run that was never interrupted.
    got, expected = load_file(output / "model.safetensors"), load_file(finished / "model.safetensors")
    assert got.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=1e-6, msg=name)

    def without_id(name: str, folder: Path) -> dict:
        record = json.loads((folder / name).read_text())
        record.pop("run_id")
        return record

    # Calibration on the reloaded model: the same figures (the last float digit may differ from the in-memory model's).
    assert flat(without_id("calibration.json", output)) == pytest.approx(flat(without_id("calibration.json", finished)), abs=1e-5)
    assert without_id("eval_results.json", output) == pytest.approx(without_id("eval_results.json", finished), abs=1e-5)
    assert "## " in (output / "README.md").read_text() and (output / "training_curves.png").stat().st_size > 0
    # One MLflow run holds it all: training, then the final evaluation and the reports the finishing run logged.
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{output / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 1
    assert runs[0].data.metrics["eval_composite"] == pytest.approx(json.loads((output / "eval_results.json").read_text())["composite"])
    assert {"calibration.json", "training_curves.png"} <= {a.path for a in client.list_artifacts(runs[0].info.run_id)}


LIMITED = textwrap.dedent(
    """
    import resource, signal, sys
    limit = int(sys.argv[1])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    from helpline_fusion.cli import main
    sys.exit(main(sys.argv[2:]))
    """
)


def test_a_model_save_past_the_file_size_limit_keeps_nothing_half_written(workspace, finished, tmp_path, capsys):
    root, files = workspace
    weights = (finished / "model.safetensors").stat().st_size
    others = max(path.stat().st_size for path in finished.iterdir() if path.is_file() and path.suffix == ".json")
    limit = (weights + others) // 2
    assert others < limit < weights
    output = tmp_path / "full"
    args = run_args(root, files, output, "--max_steps", "2", "--save_strategy", "no", "--refit_heads_epochs", "0")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-c", LIMITED, str(limit), "train", *args], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"helpline-fusion train: phase 'train' failed while saving the trained model to {output} ("
    ) and last.endswith(
        f"no model was saved there (nothing half-written is kept: {RUN_MANIFEST} does not list it); free space and "
        "train again"
    ), last
    assert "File too large" in last
    assert not (output / "model.safetensors").exists() and not list(output.glob(".staging-*"))
    with pytest.raises(MixedRunFolderError, match=rf"{RUN_MANIFEST}: missing"):
        check_run_folder(output)  # what publish checks
    assert train_main([*args, "--resume_phases", "true"]) == 2  # nor does finishing the run accept it
    assert capsys.readouterr().err == (
        f"helpline-fusion train: resume_phases: {output / RUN_MANIFEST}: missing; {output} holds no complete "
        "training run (a run writes this file last)\n"
    )


def test_init_from_and_teachers_load_with_the_installed_classes_never_the_folders_code(workspace, finished, tmp_path):
    from helpline_fusion.train.distill import load_teacher, split_revision

    root, files = workspace
    poisoned = tmp_path / "poisoned"
    shutil.copytree(finished, poisoned, ignore=shutil.ignore_patterns("checkpoint-*", RUN_MANIFEST, ".*"))
    marker = tmp_path / "remote-code-ran"
    for module in poisoned.glob("*.py"):  # what a tampered folder or repo would ship
        module.write_text(f"open({str(marker)!r}, 'w').write('ran')\n" + module.read_text())
    model, _ = load_teacher("ner", str(poisoned))
    assert type(model).__module__.startswith("helpline_fusion.")
    args = run_args(root, files, tmp_path / "fine-tuned", "--init_from", str(poisoned), "--max_steps", "1",
                    "--save_strategy", "no", "--refit_heads_epochs", "0", "--calibrate", "false")  # fmt: skip
    assert train_main(args) == 0
    assert not marker.exists()
    assert split_revision("org/helpline-ner@v1.2.0") == ("org/helpline-ner", "v1.2.0")
    assert split_revision(str(poisoned)) == (str(poisoned), None)


def test_a_run_into_a_reused_folder_never_leaves_the_previous_runs_files_beside_its_model(
    workspace, finished, tmp_path, capsys
):
    """The M4 case: a new run into a finished run's folder that fails after training. The folder then holds the
    new model and none of the old run's reports (no old eval_results.json for publish's "only if better")."""
    root, files = workspace
    output = copy_top_level(finished, tmp_path / "reused")
    old = check_run_folder(output)
    args = run_args(root, files, output, "--max_steps", "2", "--save_strategy", "no", "--refit_heads_epochs", "0",
                    "--calibrate", "false")  # fmt: skip

    def exploding(self):
        raise OSError(28, "No space left on device")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training.MultiTaskTrainer, "evaluate_final", exploding)
        assert train_main(args) == 2
    assert "phase 'evaluate' failed (OSError: [Errno 28] No space left on device)" in capsys.readouterr().err
    manifest = check_run_folder(output, allow_unfinished=True)  # one run's files, consistent
    assert manifest["run_id"] != old["run_id"] and manifest["phases_done"] == ["train"]
    for name in ("eval_results.json", "calibration.json", "refit_heads.json", "README.md", "training_curves.png"):
        assert not (output / name).exists(), name  # the previous run's, removed with the new model's first manifest
    for name in RUN_JSON - {"eval_results.json", "calibration.json", "refit_heads.json"}:
        assert json.loads((output / name).read_text())["run_id"] == manifest["run_id"], name


def test_a_tracking_server_lost_while_training_costs_the_mlflow_record_not_the_model(
    workspace, tmp_path, capsys, caplog, monkeypatch
):
    """MLflow calls inside `trainer.train()` (every log, the end of the run) that fail are one warning; the trained
    model is saved and the later phases run. An outage in a later phase is that phase's failure, and
    `--resume_phases true --report_to none` finishes the run without MLflow."""
    from transformers.integrations import MLflowCallback

    root, files = workspace
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_FLATTEN_PARAMS"):
        monkeypatch.setenv(name, "placeholder")  # recorded, so that what the run exports is undone afterwards
        monkeypatch.delenv(name)
    calls = []

    def gone(self, *args, **kwargs):
        calls.append(1)
        raise ConnectionError("tracking server went away")

    output = tmp_path / "lost_while_training"
    args = run_args(root, files, output, "--report_to", "mlflow", "--save_strategy", "no", "--logging_steps", "1")
    with pytest.MonkeyPatch.context() as patch, caplog.at_level("WARNING"):
        patch.setattr(MLflowCallback, "on_log", gone)
        assert train_main(args) == 0
    warnings = [r.getMessage() for r in caplog.records if "MLflow logging failed" in r.getMessage()]
    assert warnings == [
        "MLflow logging failed (ConnectionError: tracking server went away); training goes on without it, and the "
        "trained model is still saved"
    ]
    assert len(calls) == 1  # after the first failure the callback stops calling the server
    assert check_run_folder(output)["phases_done"] == list(training.PHASES)

    # The server gone after training: the first phase that logs to it fails, naming itself, with the command that
    # finishes the run; without MLflow it finishes.
    output = tmp_path / "lost_after_training"
    args = run_args(root, files, output, "--report_to", "mlflow", "--save_strategy", "no")

    import mlflow

    def no_server(*args, **kwargs):  # up while training; gone when the refit phase logs its report
        raise ConnectionError("tracking server went away")

    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mlflow, "log_dict", no_server)
        patch.setattr(training.RunInfoCallback, "on_train_begin", lambda *args, **kwargs: None)  # logs a dict too
        assert train_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("helpline-fusion train: phase 'refit' failed (ConnectionError: tracking server went away)")
    assert check_run_folder(output, allow_unfinished=True)["phases_done"] == ["train"]
    assert train_main([*args, "--resume_phases", "true", "--report_to", "none"]) == 0
    assert check_run_folder(output)["phases_done"] == list(training.PHASES)


def test_a_run_that_fails_while_training_leaves_a_previous_run_in_the_folder_whole(
    workspace, finished, tmp_path, capsys
):
    root, files = workspace
    output = copy_top_level(finished, tmp_path / "reused_then_failed")
    old = check_run_folder(output)
    args = run_args(root, files, output, "--save_strategy", "no")

    def exploding(self, *args, **kwargs):
        raise RuntimeError("killed while training")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training.MultiTaskTrainer, "train", exploding)
        with pytest.raises(RuntimeError, match="killed while training"):
            train_main(args)
    assert check_run_folder(output) == old  # every file of the earlier run as it was, the report included


def test_a_checkpoint_trained_on_other_data_is_not_resumed(workspace, finished):
    """A run is its settings and its data: after an annotation is fixed, the same settings do not resume a
    checkpoint trained on the old file (the record holds each local data file's sha256)."""
    from helpline_fusion.train.checkpoints import check_resume_settings
    from helpline_fusion.train.run_folder import file_sha256

    _, files = workspace
    record = json.loads((finished / "checkpoint-6" / "run_settings.json").read_text())
    assert record["data"] == {name: file_sha256(files[key]) for name, key in (
        ("ner_file", "ner_file"), ("cases_file", "cases_file"), ("qa_file", "qa_file"),
        ("qa_eval_file", "qa_heldout_file"))}  # fmt: skip
    expected = {key: value for key, value in record.items() if key not in ("run_id", "settings_digest")}
    check_resume_settings(finished / "checkpoint-6", expected)  # the same data: resumable
    fixed = {**expected, "data": {**expected["data"], "cases_file": "0" * 64}}
    with pytest.raises(ValueError, match=r"cases_file \(sha256 of the file\): '[0-9a-f]{12}' there, '000000000000' here"):
        check_resume_settings(finished / "checkpoint-6", fixed)


@pytest.mark.parametrize("error, said", [
    (OSError(28, "No space left on device"), "cannot write to {out}: [Errno 28] No space left on device"),
    (ConnectionError(111, "Connection refused"), "ConnectionError: [Errno 111] Connection refused"),
])  # fmt: skip
def test_an_os_error_is_one_line_that_says_writing_only_when_it_was(workspace, tmp_path, capsys, error, said):
    root, files = workspace
    output = tmp_path / "out"

    def failing(*args, **kwargs):
        raise error

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "train", failing)
        assert train_main(run_args(root, files, output)) == 2
    assert capsys.readouterr().err == f"helpline-fusion train: {said.format(out=output)}\n"
