"""`helpline-fusion predict` loses nothing and runs no downloaded code (issue 26, points 1, 4 and 11).

- An output that is the input (the same path, a symlink, a hard link, or whose partial file is the input) is
  refused, exit code 2, one line naming both; the input's bytes are unchanged.
- Results go to `OUTPUT.partial` and replace the output only when the run ends well: a model that raises
  half-way, a full disk (`RLIMIT_FSIZE` in a subprocess) or a second run on the same output leave the earlier
  complete results as they were, and the partial file holds whole lines only.
- The model and tokenizer load with the installed classes: a folder whose `*.py` files (and a tokenizer
  `auto_map`) would write a marker still predicts, and the marker is never written; `--revision` reaches the Hub.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys

import pytest

from helpline_fusion.train.predict_cli import main

CALLS = [{"id": f"call-{index}", "text": f"my child is {index} years old and calling from kisumu"} for index in range(70)]


def write_calls(path, calls=CALLS):
    path.write_text("".join(json.dumps(call) + "\n" for call in calls), encoding="utf-8")
    return path


def read_rows(path):
    content = path.read_bytes()
    assert content == b"" or content.endswith(b"\n"), "a cut last line"
    return [json.loads(line) for line in content.decode("utf-8").splitlines()]


def refusal(output, source):
    return (
        f"helpline-fusion predict: --output {output} is the input {source} (the same file); writing the results "
        "would destroy the input: choose another --output\n"
    )


# ----------------------------------------------------------------------------- point 1: the input is never the output
@pytest.mark.parametrize("alias", ["same path", "symlink", "hard link", "dotdot path", "partial file"])
def test_an_output_that_is_the_input_is_refused_and_the_input_kept(model_dir, tmp_path, capsys, alias):
    source = write_calls(tmp_path / "calls.jsonl")
    before = source.read_bytes()
    if alias == "same path":
        output = source
    elif alias == "symlink":
        output = tmp_path / "link.jsonl"
        output.symlink_to(source)
    elif alias == "hard link":
        output = tmp_path / "hard.jsonl"
        os.link(source, output)
    elif alias == "dotdot path":
        (tmp_path / "sub").mkdir()
        output = tmp_path / "sub" / ".." / "calls.jsonl"
    else:  # the run would write OUTPUT.partial first: that is the input here
        output = tmp_path / "calls"
        source = source.rename(tmp_path / "calls.partial")
    code = main(["--model", str(model_dir), str(source), "--output", str(output)])
    assert (code, capsys.readouterr().err) == (2, refusal(output, source))
    assert source.read_bytes() == before


# ----------------------------------------------------------------------------- point 1: a failed rerun loses nothing
@pytest.mark.parametrize("fault", [RuntimeError("out of memory (simulated)"), KeyboardInterrupt()], ids=repr)
def test_a_rerun_that_fails_half_way_leaves_the_earlier_results_and_whole_lines(
    model_dir, tmp_path, monkeypatch, capsys, fault
):
    from helpline_fusion.modeling_attention_fusion import AttentionFusionModel

    source, output = write_calls(tmp_path / "calls.jsonl"), tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    assert main(["--model", str(model_dir), str(source), "--output", str(output)]) == 0
    earlier = output.read_bytes()
    assert len(read_rows(output)) == len(CALLS)
    capsys.readouterr()

    original, calls = AttentionFusionModel.predict, []

    def fails_on_the_second_chunk(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise fault
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AttentionFusionModel, "predict", fails_on_the_second_chunk)
    if isinstance(fault, KeyboardInterrupt):  # Ctrl-C: one line, exit code 130
        assert main(["--model", str(model_dir), str(source), "--output", str(output)]) == 130
        assert capsys.readouterr().err.splitlines()[-1] == (
            f"helpline-fusion predict: interrupted; {output} left as it was, the lines written so far are in {partial}"
        )
    else:  # a fault of the model is not ours to word: it propagates, and still destroys nothing
        with pytest.raises(RuntimeError, match="simulated"):
            main(["--model", str(model_dir), str(source), "--output", str(output)])
    assert output.read_bytes() == earlier
    rows = read_rows(partial)  # the first chunk (64 records at batch size 8), in order
    assert [row["id"] for row in rows] == [call["id"] for call in CALLS[:64]]


def test_an_output_that_is_a_folder_is_refused(model_dir, tmp_path, capsys):
    source = write_calls(tmp_path / "calls.jsonl", CALLS[:1])
    assert main(["--model", str(model_dir), str(source), "--output", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"helpline-fusion predict: --output {tmp_path} is a folder; expected the path of a JSON Lines file to write\n"
    )


def test_a_successful_run_replaces_the_output_atomically_and_privately(model_dir, tmp_path, capsys):
    source, output = write_calls(tmp_path / "calls.jsonl", CALLS[:3]), tmp_path / "out.jsonl"
    output.write_bytes(b'{"id": "earlier"}\n')
    output.chmod(0o644)
    with output.open("rb") as earlier:  # a reader of the earlier results keeps reading them whole
        assert main(["--model", str(model_dir), str(source), "--output", str(output)]) == 0
        assert earlier.read() == b'{"id": "earlier"}\n'
    assert [row["id"] for row in read_rows(output)] == ["call-0", "call-1", "call-2"]
    assert not (tmp_path / "out.jsonl.partial").exists()
    assert stat.S_IMODE(output.stat().st_mode) & 0o137 == 0  # 0o640 at most: entity texts are names and places
    assert capsys.readouterr().err.endswith(f"3 transcripts analysed, 0 records rejected; wrote 3 lines to {output}\n")


def test_a_second_run_on_the_same_output_is_refused(model_dir, tmp_path, capsys):
    import fcntl

    source, output = write_calls(tmp_path / "calls.jsonl", CALLS[:3]), tmp_path / "out.jsonl"
    output.write_bytes(b'{"id": "earlier"}\n')
    partial = tmp_path / "out.jsonl.partial"
    with partial.open("wb") as running:  # what a run in progress holds
        running.write(b'{"id": "call-0"}\n')
        running.flush()
        fcntl.flock(running.fileno(), fcntl.LOCK_EX)
        code = main(["--model", str(model_dir), str(source), "--output", str(output)])
    assert code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"helpline-fusion predict: {output}: another predict is writing it ({partial} is locked); wait for it or "
        "choose another --output"
    )
    assert output.read_bytes() == b'{"id": "earlier"}\n' and partial.read_bytes() == b'{"id": "call-0"}\n'


# ----------------------------------------------------------------------------- point 11: a full disk
def _file_size_limit(limit: int):
    def apply() -> None:  # in the child, before exec: writes past `limit` bytes raise EFBIG instead of killing it
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_fails_in_one_line_and_leaves_no_truncated_output(model_dir, tmp_path):
    """Two runs at once (one over an earlier run's results, one with no output yet), each in a process whose files
    may not grow past `limit` bytes: the second chunk's write fails half-way."""
    source = write_calls(tmp_path / "calls.jsonl", CALLS * 3)
    limit = 400_000  # the first chunk of 64 lines fits (about 4 kB each), the second crosses the limit
    previous = b'{"id": "earlier", "line": 1}\n' * 10
    outputs = {"earlier": tmp_path / "earlier" / "out.jsonl", "none": tmp_path / "none" / "out.jsonl"}
    outputs["earlier"].parent.mkdir()
    outputs["earlier"].write_bytes(previous)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONDONTWRITEBYTECODE": "1"}  # fmt: skip
    procs = {
        case: subprocess.Popen(
            [sys.executable, "-m", "helpline_fusion.cli", "predict", "--model", str(model_dir), str(source),
             "--output", str(output), "--batch-size", "8"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            preexec_fn=_file_size_limit(limit),
        )  # fmt: skip
        for case, output in outputs.items()
    }
    errors = {case: proc.communicate(timeout=300)[1] for case, proc in procs.items()}
    for case, output in outputs.items():
        partial = output.with_name("out.jsonl.partial")
        rows = read_rows(partial)  # whole lines only, though the write that failed was cut at the limit
        assert 64 <= len(rows) < len(CALLS) * 3 and partial.stat().st_size <= limit
        assert [row["id"] for row in rows] == [call["id"] for call in (CALLS * 3)[: len(rows)]]
        kept = f"{output} left as it was" if case == "earlier" else f"{output} not written"
        messages = [line for line in errors[case].splitlines()  # less the CPU-dependent precision-choice line
                    if line.startswith("helpline-fusion predict:") and " precision auto -> " not in line]
        assert (procs[case].returncode, messages) == (2, [
            f"helpline-fusion predict: cannot write the results to {partial} (File too large); {kept}, the "
            f"{len(rows)} complete lines written before are in {partial}"
        ]), errors[case][-3000:]  # fmt: skip
        assert "Traceback" not in errors[case]
    assert outputs["earlier"].read_bytes() == previous
    assert not outputs["none"].exists()


# ----------------------------------------------------------------------------- point 4: no downloaded code runs
def hostile_copy(model_dir, folder, marker):
    """`model_dir` with every shipped `*.py` replaced by code that writes `marker` and raises at import, and a
    tokenizer `auto_map` pointing at more of the same."""
    shutil.copytree(model_dir, folder)
    code = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\nraise SystemExit('remote code ran')\n"
    for name in [p.name for p in folder.glob("*.py")] + ["tokenization_evil.py"]:
        (folder / name).write_text(code)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["auto_map"] = {"AutoTokenizer": ["tokenization_evil.EvilTokenizer", "tokenization_evil.EvilTokenizer"]}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def test_a_folder_with_hostile_code_predicts_with_the_installed_classes(model_dir, tmp_path, capsys):
    # In-process: had transformers imported the folder's code, the marker would exist and the import raised.
    # pytest's stdin cannot be read, as in CI: a trust prompt would fail the run.
    marker = tmp_path / "remote-code-ran"
    hostile = hostile_copy(model_dir, tmp_path / "hostile", marker)
    source = write_calls(tmp_path / "calls.jsonl", CALLS[:3])
    for model, output in ((hostile, tmp_path / "hostile.jsonl"), (model_dir, tmp_path / "plain.jsonl")):
        assert main(["--model", str(model), str(source), "--output", str(output)]) == 0, capsys.readouterr().err
    assert not marker.exists()
    assert not [name for name in sys.modules if "tokenization_evil" in name]
    assert read_rows(tmp_path / "hostile.jsonl") == read_rows(tmp_path / "plain.jsonl")  # the same weights


def test_evaluate_loads_a_hostile_folder_with_the_installed_classes(model_dir, tmp_path, capsys):
    from helpline_fusion.train.evaluate_cli import main as evaluate_main

    marker = tmp_path / "remote-code-ran"
    hostile = hostile_copy(model_dir, tmp_path / "hostile", marker)
    ner = tmp_path / "ner.jsonl"
    ner.write_text(json.dumps({"text": "my name is amina", "entities": [{"start": 11, "end": 16, "label": "NAME"}]})
                   + "\n", encoding="utf-8")  # fmt: skip
    metrics = tmp_path / "metrics.json"
    assert evaluate_main(["--model", str(hostile), "--ner-file", str(ner), "--output", str(metrics)]) == 0
    assert not marker.exists()
    assert "ner_f1" in json.loads(metrics.read_text())


def test_a_model_of_another_type_is_refused_in_one_line(tmp_path, capsys):
    from .conftest import build_tiny_tokenizer, tiny_bert_config

    folder = tmp_path / "bert"
    build_tiny_tokenizer(folder)
    tiny_bert_config().save_pretrained(folder)
    source = write_calls(tmp_path / "calls.jsonl", CALLS[:1])
    assert main(["--model", str(folder), str(source), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"helpline-fusion predict: --model {folder}: a model of type 'bert', expected a helpline-fusion model "
        "(model_type 'helpline_attention_fusion')"
    )


def test_revision_reaches_the_hub_for_the_model_and_the_tokenizer(model_dir, tmp_path, capsys):
    from huggingface_hub import CommitOperationDelete, HfApi

    from .hub_server import patched_hub_client, running_hub_server

    source = write_calls(tmp_path / "calls.jsonl", CALLS[:2])
    repo = "test-user/fusion"
    with running_hub_server() as hub, patched_hub_client(hub.endpoint, tmp_path / "hf_home", token=hub.token):
        api = HfApi()
        api.create_repo(repo)
        api.upload_folder(repo_id=repo, folder_path=str(model_dir), allow_patterns=["*.json", "*.safetensors"])
        api.create_tag(repo, tag="v1")
        api.create_commit(repo, [CommitOperationDelete("config.json"), CommitOperationDelete("tokenizer_config.json")],
                          commit_message="main is broken after v1")  # fmt: skip
        first = len(hub.requests)
        output = tmp_path / "out.jsonl"
        assert main(["--model", repo, "--revision", "v1", str(source), "--output", str(output)]) == 0
        pinned = {f"/{repo}/resolve/v1/", f"/{repo}/resolve/{hub.tags(repo)['v1']}/"}  # the tag, then its commit
        downloads = [r.path for r in hub.requests[first:] if "/resolve/" in r.path]
        assert downloads and all(any(p in path for p in pinned) for path in downloads), downloads
        assert any("config.json" in path for path in downloads) and any("tokenizer" in path for path in downloads)
        assert [row["id"] for row in read_rows(output)] == ["call-0", "call-1"]
        capsys.readouterr()
        # Without the pin, main (which has no config) is what loads: a one-line refusal, not the tagged model.
        assert main(["--model", repo, str(source), "--output", str(tmp_path / "main.jsonl")]) == 2
        assert capsys.readouterr().err == f"helpline-fusion predict: --model {repo}: no config.json naming a model_type there\n"


def test_evaluate_passes_revision_to_the_loader(tmp_path, monkeypatch, capsys):
    from helpline_fusion.train import evaluate_cli, predict_cli

    seen = []

    def refuse(name, device=None, revision=None, setting="--model"):
        seen.append((name, revision))
        raise ValueError(f"{setting} {name}: stopped here")

    monkeypatch.setattr(predict_cli, "load_model", refuse)
    ner = tmp_path / "ner.jsonl"
    ner.write_text('{"text": "a call", "entities": []}\n', encoding="utf-8")
    assert evaluate_cli.main(["--model", "org/fusion", "--revision", "v1.2.0", "--ner-file", str(ner)]) == 2
    assert seen == [("org/fusion", "v1.2.0")]
    assert capsys.readouterr().err == "helpline-fusion evaluate: --model org/fusion: stopped here\n"


def test_a_symlink_planted_at_the_partial_name_is_refused_and_its_target_kept(model_dir, tmp_path, capsys):
    calls = write_calls(tmp_path / "calls.jsonl", CALLS[:2])
    target = tmp_path / "precious.txt"
    target.write_text("not to be truncated\n")
    out = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.partial").symlink_to(target)
    assert main(["--model", str(model_dir), str(calls), "--output", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()[-1]  # after the weight-loading progress bar
    assert err == f"helpline-fusion predict: cannot write the results to {out} (Too many levels of symbolic links)"
    assert target.read_text() == "not to be truncated\n" and not out.exists()


def test_an_unfinished_training_folder_predicts_with_a_warning_naming_the_phases(model_dir, tmp_path, capsys):
    folder = tmp_path / "unfinished"
    shutil.copytree(model_dir, folder)
    manifest = {"run_id": "r1", "settings_digest": "d", "phases_done": ["train"],
                "phases_pending": ["refit", "calibrate"], "files": {}}  # fmt: skip
    (folder / "run_manifest.json").write_text(json.dumps(manifest))
    calls = write_calls(tmp_path / "calls.jsonl", CALLS[:2])
    assert main(["--model", str(folder), str(calls), "--output", str(tmp_path / "out.jsonl")]) == 0
    warning = next(line for line in capsys.readouterr().err.splitlines() if "warning" in line)
    assert warning == (
        f"helpline-fusion: warning: --model {folder} is an unfinished training run (phases not run: refit, "
        "calibrate); its decisions may use uncalibrated thresholds. Finish it with the training command and "
        "`--resume_phases true`"
    )
    assert len(read_rows(tmp_path / "out.jsonl")) == 2
    # A finished run (no pending phase) and a folder without a manifest say nothing.
    (folder / "run_manifest.json").write_text(json.dumps({**manifest, "phases_pending": []}))
    assert main(["--model", str(folder), str(calls), "--output", str(tmp_path / "out2.jsonl")]) == 0
    assert "warning" not in capsys.readouterr().err
