"""What `helpline-fusion publish` refuses to expose (issue 26, points 3, 5 and 9; audit L1, L2).

Every test publishes with the REAL `huggingface_hub` client to the Hub-protocol server of tests/hub_server.py on
127.0.0.1 (no request reaches the Hub), from a tiny model folder built here in well under a second (a random
2-layer encoder, the remote code `save_pretrained` copies, a tokenizer, label maps, metrics, the card) and sealed
as one run by `write_manifest`, as the training job does.

What this proves:
    - A new repo is created PRIVATE unless `--public` (the visibility the client sent is what the server records);
      `--public` makes one an anonymous client can download; an existing public repo is refused without `--public`;
      `push_with_trainer` publishes to the repo a real `transformers.Trainer` created when `--hub_model_id` was not
      given (`<user>/<output_dir name>`), private unless `hub_private_repo=False`.
    - Only the model's files go up: a stray `notes.py` (and a stray `helper.py` no code imports) stays local, while
      every module `auto_map` and its sibling imports need goes up.
    - A symbolic link or a special file among the files to publish is refused with one line naming it, exit 2,
      before any request.
    - A folder whose files are not one run's (a changed file, a file of another run, a file the manifest does not
      list, no manifest, a file swapped after the check) is refused naming the file, exit 2, before any commit; the
      version on the Hub carries a manifest over exactly its files, so a download passes `check_run_folder`.
    - A composite that is not finite (NaN in eval_results.json, NaN in the published card) is never compared.

What this does NOT prove: the real Hub's organisation defaults and permission rules (the server stores the
visibility it was sent and makes private repos unreadable without the token, nothing more); see tests/hub_server.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import torch
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import HfHubHTTPError
from transformers import Trainer, TrainingArguments

from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from helpline_fusion.train import publish as publish_module
from helpline_fusion.train.model_card import render_model_card
from helpline_fusion.train.publish import main as publish_main
from helpline_fusion.train.publish import push_with_trainer
from helpline_fusion.train.run_folder import RUN_MANIFEST, check_run_folder, read_manifest, write_manifest
from tests.hub_server import patched_hub_client, running_hub_server

from .conftest import build_tiny_tokenizer, tiny_bert_config

ENCODER_NAME = "google-bert/bert-base-uncased"
RUN_ID = "0123456789abcdef0123456789abcdef"
PHASES = ["train", "refit", "calibrate", "evaluate", "curves", "card"]
CODE_FILES = {
    "configuration_attention_fusion.py", "modeling_attention_fusion.py", "inference_attention_fusion.py",
    "pipeline_attention_fusion.py", "labels_attention_fusion.py", "speakers_attention_fusion.py",
}  # fmt: skip
MODEL_FILES = {
    "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "label_maps.json",
    "eval_results.json", "calibration.json", "training_curves.png", "README.md", RUN_MANIFEST,
} | CODE_FILES  # fmt: skip


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    home = tmp_path_factory.mktemp("publisher_home")
    with running_hub_server() as server, patched_hub_client(server.endpoint, home, token=server.token):
        yield server


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A complete run folder, as training leaves it (plus local-only files that must stay local)."""
    folder = tmp_path_factory.mktemp("template") / "run"
    torch.manual_seed(0)
    config = AttentionFusionConfig(encoder_config=tiny_bert_config())
    AttentionFusionModel(config).save_pretrained(folder)
    build_tiny_tokenizer(folder)
    (folder / "label_maps.json").write_text(json.dumps(config.label_maps(), indent=2))
    (folder / "eval_results.json").write_text(json.dumps({"run_id": RUN_ID, "composite": 0.5}, indent=2))
    (folder / "calibration.json").write_text(json.dumps({"run_id": RUN_ID, "temperatures": {}}, indent=2))
    (folder / "training_curves.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(64)))
    (folder / "run_settings.json").write_text(json.dumps({"run_id": RUN_ID, "output_dir": str(folder)}))
    (folder / "training_args.bin").write_bytes(b"local only")
    card = render_model_card(config, {"composite": 0.5}, repo_id="org/run", base_model=ENCODER_NAME)
    card.save(folder / "README.md")
    seal(folder)
    return folder


@pytest.fixture
def folder(template, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(template, copy)
    return copy


def seal(folder: Path, run_id: str = RUN_ID) -> None:
    """Write the folder's manifest over every file it holds, as a run does when it ends."""
    write_manifest(folder, run_id, "settings-digest", PHASES)


def publish(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = publish_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def anonymous_download(repo_id: str) -> Path:
    """config.json of `repo_id` as a client without any token gets it (raises for a private repo)."""
    return Path(hf_hub_download(repo_id, "config.json", token=False, cache_dir=Path(os.environ["HF_HOME"]) / "anon"))


# --------------------------------------------------------------------------- private by default (5, L1)
def test_a_new_repo_is_private_by_default(folder, hub, capsys):
    code, out, _ = publish(capsys, str(folder), "--repo", "org/private-default")

    assert code == 0 and out.startswith("published org/private-default v1.0.0")
    assert hub.visibility_sent("org/private-default") == ["private"]  # never left to the namespace's default
    assert hub.is_private("org/private-default")
    with pytest.raises(HfHubHTTPError) as error:
        anonymous_download("org/private-default")
    assert error.value.response.status_code == 401


def test_public_creates_a_public_repo(folder, hub, capsys):
    code, _, _ = publish(capsys, str(folder), "--repo", "org/made-public", "--public")

    assert code == 0
    assert hub.visibility_sent("org/made-public") == ["public"] and not hub.is_private("org/made-public")
    assert anonymous_download("org/made-public").read_bytes() == (folder / "config.json").read_bytes()


def test_an_existing_public_repo_is_refused_without_public(folder, hub, capsys):
    repo = "org/already-public"
    HfApi().create_repo(repo, private=False)
    titles = hub.commit_titles(repo)

    code, _, err = publish(capsys, str(folder), "--repo", repo)

    assert code == 1
    assert err == (
        f"helpline-fusion publish: refusing to publish {folder} to {repo}: that repository is public, so everyone "
        "could download a model trained on helpline calls (which can memorise names). Pass --public (training: "
        "--hub_private_repo false) to publish it publicly on purpose, or choose a private repo. Nothing was "
        "committed.\n"
    )
    assert hub.commit_titles(repo) == titles and hub.tags(repo) == {}
    assert publish(capsys, str(folder), "--repo", repo, "--public")[0] == 0


@pytest.mark.parametrize("private", [True, False])
def test_push_with_trainer_publishes_to_the_repo_the_trainer_created(template, hub, tmp_path, private):
    """`--push_to_hub` without `--hub_model_id` (audit L1): the Trainer creates `<user>/<output_dir name>` when it
    starts; the push at the end goes there instead of failing on a bare name. (`train` sets `hub_private_repo` to
    True when it is not given: tests/test_publish.py checks the repo a training run creates.)"""
    folder = shutil.copytree(template, tmp_path / f"trainer-{'private' if private else 'public'}")
    args = TrainingArguments(
        output_dir=str(folder), push_to_hub=True, hub_private_repo=private, report_to="none", use_cpu=True
    )
    trainer = Trainer(model=AttentionFusionModel.from_pretrained(folder), args=args)
    repo = f"{hub.user}/{folder.name}"
    assert trainer.hub_model_id == repo and args.hub_model_id is None

    tag = push_with_trainer(trainer, commit_message="helpline-fusion training run")

    assert tag == "v1.0.0" and hub.tags(repo) == {"v1.0.0": HfApi().model_info(repo).sha}
    assert hub.is_private(repo) is private
    assert set(hub.visibility_sent(repo)) == {"private" if private else "public"}
    assert set(hub.repo_files(repo)) == MODEL_FILES | {".gitattributes", "handler.py"}


# --------------------------------------------------------------------------- the model's files only (9)
def test_a_stray_py_file_is_not_published(folder, hub, capsys):
    (folder / "notes.py").write_text("CASE_NOTES = 'kept by the analyst, never published'\n")
    (folder / "helper.py").write_text("from .notes import CASE_NOTES\n")  # imported by no module auto_map needs
    seal(folder)

    assert publish(capsys, str(folder), "--repo", "org/stray")[0] == 0

    files = hub.repo_files("org/stray")
    assert set(files) == MODEL_FILES | {".gitattributes", "handler.py"}
    assert "notes.py" not in files and "helper.py" not in files
    assert not {"run_settings.json", "training_args.bin"} & set(files)
    for name in CODE_FILES:
        assert files[name] == (folder / name).read_bytes(), name


def test_a_symlink_to_a_file_outside_the_folder_is_refused(folder, hub, capsys, tmp_path):
    outside = tmp_path / "elsewhere" / "eval_results.json"
    outside.parent.mkdir()
    outside.write_text(json.dumps({"run_id": RUN_ID, "composite": 0.9}))
    (folder / "eval_results.json").unlink()
    (folder / "eval_results.json").symlink_to(outside)
    count = hub.request_count

    code, _, err = publish(capsys, str(folder), "--repo", "org/linked")

    assert code == 2 and hub.request_count == count
    assert err == (
        f"helpline-fusion publish: {folder / 'eval_results.json'}: a symbolic link to {outside} (outside the folder); "
        "publish uploads regular files only: replace the link with a copy of the file\n"
    )


def test_a_symlink_inside_the_folder_and_special_files_are_refused(folder, hub, capsys):
    count = hub.request_count
    (folder / "vocab.txt").rename(folder / "vocab-real.txt")
    (folder / "vocab.txt").symlink_to("vocab-real.txt")
    code, _, err = publish(capsys, str(folder), "--repo", "org/linked")
    assert code == 2
    assert err == (
        f"helpline-fusion publish: {folder / 'vocab.txt'}: a symbolic link to vocab-real.txt (inside the folder); "
        "publish uploads regular files only: replace the link with a copy of the file\n"
    )

    (folder / "vocab.txt").unlink()
    os.mkfifo(folder / "vocab.txt")  # opening it would block: refused from lstat, never opened
    code, _, err = publish(capsys, str(folder), "--repo", "org/linked")
    assert code == 2
    assert err == (
        f"helpline-fusion publish: {folder / 'vocab.txt'}: a named pipe, not a regular file; publish uploads "
        "regular files only\n"
    )

    (folder / "vocab.txt").unlink()
    (folder / "modeling_attention_fusion.py").unlink()
    (folder / "modeling_attention_fusion.py").symlink_to(folder / "vocab-real.txt")  # a code file auto_map names
    code, _, err = publish(capsys, str(folder), "--repo", "org/linked")
    assert code == 2 and f"{folder / 'modeling_attention_fusion.py'}: a symbolic link to " in err
    assert hub.request_count == count


# --------------------------------------------------------------------------- one run per version (3)
def test_a_file_changed_after_the_run_is_refused(folder, hub, capsys):
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")  # new weights beside the old metrics and card
    expected = read_manifest(folder)["files"]["model.safetensors"]
    count = hub.request_count

    code, _, err = publish(capsys, str(folder), "--repo", "org/mixed")

    assert code == 2 and hub.request_count == count
    assert err == (
        f"helpline-fusion publish: {weights}: differs from the file run {RUN_ID} wrote ({RUN_MANIFEST} sha256 "
        f"{expected[:12]}...); it was changed or written by another run\n"
    )


def test_a_file_of_another_run_is_refused(folder, hub, capsys):
    other = "f" * 32
    calibration = folder / "calibration.json"
    calibration.write_text(json.dumps({"run_id": other, "temperatures": {}}))
    manifest = read_manifest(folder)
    manifest["files"].pop("calibration.json")  # as if the run that wrote the manifest never wrote calibration.json
    (folder / RUN_MANIFEST).write_text(json.dumps(manifest))

    code, _, err = publish(capsys, str(folder), "--repo", "org/mixed")

    assert code == 2
    assert err == (
        f"helpline-fusion publish: {calibration}: written by run {other}, not by run {RUN_ID} of {RUN_MANIFEST}\n"
    )

    calibration.write_text(json.dumps({"temperatures": {}}))  # no run id at all, and not in the manifest
    code, _, err = publish(capsys, str(folder), "--repo", "org/mixed")
    assert code == 2
    assert err == (
        f"helpline-fusion publish: {calibration}: not a file of run {RUN_ID} ({RUN_MANIFEST} does not list it); "
        "publish uploads one run's files only\n"
    )


def test_a_folder_without_a_manifest_is_refused(folder, hub, capsys):
    (folder / RUN_MANIFEST).unlink()

    code, _, err = publish(capsys, str(folder), "--repo", "org/mixed")

    assert code == 2
    assert err == (
        f"helpline-fusion publish: {folder / RUN_MANIFEST}: missing; {folder} holds no complete training run (a run "
        "writes this file last)\n"
    )


def test_a_file_swapped_after_the_check_is_not_what_the_gate_reads(folder, hub, capsys, monkeypatch):
    """The composite of the "only if better" gate and the uploaded bytes are the checked run's: a better score
    written into eval_results.json between `check_run_folder` and the read is refused, not published."""
    checked = publish_module.check_run_folder

    def check_then_swap(path):
        manifest = checked(path)
        (Path(path) / "eval_results.json").write_text(json.dumps({"run_id": RUN_ID, "composite": 0.99}))
        return manifest

    monkeypatch.setattr(publish_module, "check_run_folder", check_then_swap)
    count = hub.request_count

    code, _, err = publish(capsys, str(folder), "--repo", "org/swapped")

    assert code == 2 and hub.request_count == count
    assert err == (
        f"helpline-fusion publish: {folder / 'eval_results.json'}: changed after run {RUN_ID} wrote it (its sha256 "
        f"differs from {RUN_MANIFEST})\n"
    )


def test_a_downloaded_version_is_one_run(folder, hub, capsys, tmp_path):
    assert publish(capsys, str(folder), "--repo", "org/one-run", "--tag", "v1.0.0")[0] == 0

    download = Path(snapshot_download("org/one-run", revision="v1.0.0", local_dir=tmp_path / "download"))
    manifest = check_run_folder(download)

    assert manifest["run_id"] == RUN_ID and manifest["phases_done"] == PHASES
    on_hub = set(hub.repo_files("org/one-run", "v1.0.0")) - {".gitattributes", RUN_MANIFEST}
    assert set(manifest["files"]) == on_hub  # exactly the version's files, no local-only names
    assert "org/one-run" in (download / "README.md").read_text()  # the card as aimed at the repo, listed as such


def test_large_files_upload_from_the_checked_handle(folder, hub, capsys, monkeypatch):
    """Files past the in-memory size (weights) go up from the handle that was hashed, not reopened by name."""
    monkeypatch.setattr(publish_module, "_IN_MEMORY_BYTES", 0)

    assert publish(capsys, str(folder), "--repo", "org/handles")[0] == 0

    files = hub.repo_files("org/handles")
    for name in MODEL_FILES - {"README.md", RUN_MANIFEST}:
        assert files[name] == (folder / name).read_bytes(), name


# --------------------------------------------------------------------------- finite composites only (L2)
def test_a_nan_composite_in_the_folder_is_refused(folder, hub, capsys):
    (folder / "eval_results.json").write_text(json.dumps({"run_id": RUN_ID, "composite": float("nan")}))  # writes NaN
    seal(folder)
    count = hub.request_count

    code, _, err = publish(capsys, str(folder), "--repo", "org/nan", "--force")

    assert code == 2 and hub.request_count == count
    assert err == (
        f"helpline-fusion publish: {folder / 'eval_results.json'}: the composite is nan, not a finite number; a "
        "model whose evaluation gave no number is neither compared nor published (re-run the evaluation)\n"
    )


def test_a_nan_composite_on_the_hub_is_not_compared(folder, hub, capsys):
    repo = "org/nan-on-hub"
    assert publish(capsys, str(folder), "--repo", repo, "--tag", "v1.0.0")[0] == 0
    card = hub.repo_files(repo)["README.md"].decode()
    nan_card, replaced = re.subn(r"(type: composite\n\s+value: )\S+", r"\1.nan", card)
    assert replaced == 1
    HfApi().upload_file(path_or_fileobj=nan_card.encode(), path_in_repo="README.md", repo_id=repo)
    head = HfApi().model_info(repo).sha

    code, _, err = publish(capsys, str(folder), "--repo", repo)

    assert code == 3
    assert err == (
        f"helpline-fusion publish: cannot compare {folder} with the version published on {repo} (main at "
        f"{head[:10]}): the published card's composite is nan, not a finite number. Pass --force to publish anyway.\n"
    )
    assert publish(capsys, str(folder), "--repo", repo, "--force")[0] == 0
