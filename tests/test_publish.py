"""Publishing versions on the Hub (`helpline-fusion publish`, `model.push_to_hub`, `train/run.py --push_to_hub`).

Everything runs the REAL `huggingface_hub` client and transformers' download path against the Hub-protocol server
of tests/hub_server.py on 127.0.0.1 (`HF_ENDPOINT` / the patched in-process client); no request reaches the Hub.

What this proves:
    - A trained folder published with `helpline-fusion publish` is one commit plus a version tag holding exactly the
      files a stranger needs (weights, config with auto_map, remote code, tokenizer, label maps, metrics,
      calibration, curves, card aimed at the repo, the run's manifest over exactly these files), in a repo created
      private (the default; tests/test_safe_publish.py tries `--public`, links, stray files and mixed runs); a
      clean process with its own HF_HOME and the owner's token, in which `helpline_fusion` cannot be imported,
      loads it with `AutoModel.from_pretrained(..., trust_remote_code=True)` and gets the publisher's outputs;
      `ModelCard.load`
      reads the metadata and a `model-index` whose composite is the training run's.
    - `revision=<first tag>` loads the first weights after a second publish; an `HF_HUB_OFFLINE=1` reload from the
      cache sends no request.
    - The "only if better" rule (refused without `--force`, published with it), and each error path (no token,
      rejected token, unknown repo, refused commit, connection dropped midway, answer lost after the commit,
      existing tag, incomplete folder): a message naming the repo and what to do, the folder byte-identical, no tag.
    - `model.push_to_hub` publishes our card and label maps (not transformers' generic card), and
      `train/run.py --push_to_hub` (`Trainer.push_to_hub`) keeps our card, tags the commit it made, and creates the
      repo private when `--hub_private_repo` is not given.

What this does NOT prove (see tests/hub_server.py):
    - LFS / Xet transfer: the server answers `uploadMode: "regular"`, so weights travel base64 inside the commit.
    - Real authentication: a token is one fixed string; no scopes, organisations, gating or private-repo rules. On
      the real Hub, 401/403 answers over https may surface as `RepositoryNotFoundError` instead.
    - Rate limits, real outages with retries, and the Hub's full metadata validation of the card.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import textwrap
from pathlib import Path

import pytest
import torch
from huggingface_hub import HfApi, ModelCard
from safetensors.torch import load_file, save_file
from transformers import AutoModel, AutoTokenizer

from helpline_fusion.cli import main as cli_main
from helpline_fusion.data.synthetic import generate
from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig
from helpline_fusion.train.model_card import (
    REVISION_PLACEHOLDER,
    card_for_repo,
    composite_from_card,
    render_model_card,
)
from helpline_fusion.train.publish import endpoint_handler_source, next_version
from helpline_fusion.train.publish import main as publish_main
from helpline_fusion.train.run import main as train_main
from helpline_fusion.train.run_folder import RUN_MANIFEST, check_run_folder, read_manifest, write_manifest
from tests import hub_server
from tests.hub_server import HubError, patched_hub_client, run_hub_client, running_hub_server

from .conftest import build_tiny_tokenizer, tiny_bert_config

REPO = "org/helpline-fusion"
TRAINER_REPO = "org/from-trainer"
ENCODER_NAME = "google-bert/bert-base-uncased"  # the public name the card gives as base_model
INPUT_IDS = [[2, 60, 75, 10, 86, 14, 3], [2, 88, 83, 12, 3, 0, 0]]
VERSION_FILES = {
    ".gitattributes", "README.md", "config.json", "model.safetensors", "configuration_attention_fusion.py",
    "modeling_attention_fusion.py", "inference_attention_fusion.py", "pipeline_attention_fusion.py", "labels_attention_fusion.py",
    "speakers_attention_fusion.py", "tokenizer.json", "tokenizer_config.json", "label_maps.json", "eval_results.json", "calibration.json",
    "training_curves.png", RUN_MANIFEST, "report_confusion_priority.png", "report_confusion_main_category.png",
    "report_reliability_case.png", "report_reliability_quality.png", "report_critical_threshold.png",
    "handler.py",  # the Inference Endpoints handler, from the package (train/endpoint_handler.py)
}  # fmt: skip
TRAINER_DRAFT_MARKERS = ("More information needed", "This model is a fine-tuned version of")


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """One server for the module, the in-process client pointed at it with its token."""
    home = tmp_path_factory.mktemp("publisher_home")
    with running_hub_server() as server, patched_hub_client(server.endpoint, home, token=server.token):
        yield server


@pytest.fixture(autouse=True)
def _reset_knobs(request):
    yield
    if "hub" in request.fixturenames:
        server = request.getfixturevalue("hub")
        server.require_token, server.refuse_commits, server.drop_commits, server.lose_commit_responses = (
            False, None, 0, 0,
        )  # fmt: skip


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("publish")
    torch.manual_seed(0)
    AutoModel.from_config(tiny_bert_config()).save_pretrained(root / "encoder")
    build_tiny_tokenizer(root / "encoder")
    files = generate(root / "data", seed=5, n_ner=40, n_cases=40, n_qa=40, n_qa_heldout=10)
    return root, files


@pytest.fixture(scope="module")
def trained(workspace, hub) -> Path:
    """A tiny training run that ends with `--push_to_hub` (Trainer.push_to_hub) to TRAINER_REPO."""
    root, files = workspace
    args = [
        "--encoder", str(root / "encoder"), "--encoder_name", ENCODER_NAME,
        "--ner_file", str(files["ner_file"]), "--cases_file", str(files["cases_file"]),
        "--qa_file", str(files["qa_file"]), "--qa_eval_file", str(files["qa_heldout_file"]),
        "--output_dir", str(root / "run"), "--window_length", "64", "--window_stride", "16",
        "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "16", "--learning_rate", "3e-3",
        "--max_steps", "4", "--save_steps", "4", "--use_cpu", "true", "--seed", "3", "--report_to", "none",
        "--dataloader_num_workers", "0", "--disable_tqdm", "true",
        "--push_to_hub", "true", "--hub_model_id", TRAINER_REPO,
    ]  # fmt: skip
    assert train_main(args) == 0
    return root / "run"


@pytest.fixture(scope="module")
def versions(trained, hub, tmp_path_factory) -> dict[str, Path]:
    """REPO with two published versions: the trained folder as v1.0.0, a better variant as the next version."""
    better = make_variant(trained, tmp_path_factory.mktemp("v2") / "better", composite_delta=0.05, seed=1)
    assert publish_main([str(trained), "--repo", REPO, "--tag", "v1.0.0"]) == 0
    # Through the `helpline-fusion` command itself; the tag is chosen: v1.1.0.
    assert cli_main(["publish", str(better), "--repo", REPO, "--message", "second version"]) == 0
    return {"v1.0.0": trained, "v1.1.0": better}


CHILD = textwrap.dedent(
    """
    import importlib.util, json, sys

    class BlockProject:  # the published model must load without this project
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "helpline_fusion":
                raise ImportError(f"{{name}} is blocked in this process")
            return None

    sys.meta_path.insert(0, BlockProject())
    import torch
    from huggingface_hub import ModelCard, hf_hub_download
    from transformers import AutoModel, AutoTokenizer

    REPO, INPUT_IDS = {repo!r}, {input_ids!r}

    def outputs(revision):
        model = AutoModel.from_pretrained(REPO, revision=revision, trust_remote_code=True).eval()
        ids = torch.tensor(INPUT_IDS)
        with torch.no_grad():
            out = model(input_ids=ids, attention_mask=(ids != 0).long())
        return {{"class": f"{{type(model).__module__}}.{{type(model).__name__}}", "ner": out.ner_logits.tolist(),
                 "cls": {{k: v.tolist() for k, v in out.cls_logits.items()}},
                 "qa": {{k: v.tolist() for k, v in out.qa_logits.items()}}}}

    try:
        importlib.util.find_spec("helpline_fusion")
        blocked = False
    except ImportError:
        blocked = True
    card = ModelCard.load(REPO)
    result = {{
        "blocked": blocked,
        "main": outputs(None),
        "v1": outputs("v1.0.0"),
        "tokens": AutoTokenizer.from_pretrained(REPO, revision="v1.0.0", trust_remote_code=True)(
            "the child is calling")["input_ids"],
        "card": {{"data": card.data.to_dict(), "text": card.text}},
        "label_maps": json.load(open(hf_hub_download(REPO, "label_maps.json", revision="v1.0.0"))),
    }}
    print(json.dumps(result))
    """
).format(repo=REPO, input_ids=INPUT_IDS)


@pytest.fixture(scope="module")
def clean_load(versions, hub, tmp_path_factory) -> dict:
    """What a clean process (own HF_HOME, project blocked) gets from REPO; its HF_HOME is reused offline."""
    home = tmp_path_factory.mktemp("consumer_home")
    proc = run_hub_client(CHILD, hub.endpoint, home, token=hub.token)  # the repo is private: the owner's token
    return {"result": json.loads(proc.stdout.strip().splitlines()[-1]), "home": home}


# --------------------------------------------------------------------------- helpers
def make_variant(source: Path, target: Path, composite_delta: float, seed: int) -> Path:
    """A copy of a trained folder with perturbed weights and a composite moved by `composite_delta`."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("checkpoint-*"))
    tensors = load_file(target / "model.safetensors")
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in tensors.items():
        if tensor.is_floating_point():
            tensors[name] = tensor + 0.05 * torch.randn(tensor.shape, generator=generator)
    save_file(tensors, target / "model.safetensors", metadata={"format": "pt"})
    metrics = json.loads((target / "eval_results.json").read_text())
    metrics["composite"] = metrics["composite"] + composite_delta
    (target / "eval_results.json").write_text(json.dumps(metrics))
    config = AttentionFusionConfig.from_pretrained(target)
    render_model_card(config, metrics, repo_id=f"org/{target.name}", base_model=ENCODER_NAME).save(target / "README.md")
    reseal(target)
    return target


def reseal(folder: Path) -> None:
    """Rewrite a copied run's manifest over its files as they are now (the copy then holds one run again)."""
    manifest = read_manifest(folder)
    write_manifest(folder, manifest["run_id"], manifest["settings_digest"], manifest["phases_done"])


def local_outputs(folder: Path) -> dict:
    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    ids = torch.tensor(INPUT_IDS)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=(ids != 0).long())
    return {"ner": out.ner_logits, "cls": out.cls_logits, "qa": out.qa_logits}


def assert_same_outputs(remote: dict, local: dict) -> None:
    torch.testing.assert_close(torch.tensor(remote["ner"]), local["ner"], rtol=1e-5, atol=1e-5)
    for task in ("cls", "qa"):
        assert remote[task].keys() == local[task].keys()
        for head, logits in local[task].items():
            torch.testing.assert_close(torch.tensor(remote[task][head]), logits, rtol=1e-5, atol=1e-5, msg=head)


def folder_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def repo_state(hub, repo_id: str) -> tuple:
    return hub.tags(repo_id), hub.commit_titles(repo_id)


def publish(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = publish_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- the published version
def test_published_version_holds_exactly_the_model_files(versions, hub):
    first = hub.repo_files(REPO, "v1.0.0")

    assert set(first) == VERSION_FILES  # no checkpoints, training_args.bin or data validation report
    for name in VERSION_FILES - {".gitattributes", "README.md", RUN_MANIFEST, "handler.py"}:
        assert first[name] == (versions["v1.0.0"] / name).read_bytes(), name
    assert first["handler.py"] == endpoint_handler_source()
    local, published = check_run_folder(versions["v1.0.0"]), json.loads(first[RUN_MANIFEST])
    assert published["run_id"] == local["run_id"] and published["settings_digest"] == local["settings_digest"]
    assert set(published["files"]) == VERSION_FILES - {".gitattributes", RUN_MANIFEST}
    assert hub.is_private(REPO) and set(hub.visibility_sent(REPO)) == {"private"}
    card = first["README.md"].decode()
    # Aimed at the repo it is in, pinned to the version it is.
    assert f'AutoModel.from_pretrained("{REPO}", revision="v1.0.0", trust_remote_code=True)' in card
    assert REVISION_PLACEHOLDER not in card
    assert f"# {REPO}\n" in card and TRAINER_REPO not in card
    config = json.loads(first["config.json"])
    assert config["auto_map"]["AutoModel"] == "modeling_attention_fusion.AttentionFusionModel"
    tags = hub.tags(REPO)
    assert set(tags) == {"v1.0.0", "v1.1.0"}
    assert hub.commit_titles(REPO, "v1.1.0")[:2] == ["second version", hub.commit_titles(REPO, "v1.0.0")[0]]
    assert hub.commit_titles(REPO, "v1.0.0")[0].startswith("Publish v1.0.0 (composite ")
    assert hub.repo_files(REPO, "main") == hub.repo_files(REPO, "v1.1.0")


def test_clean_process_loads_the_published_model_with_the_publishers_outputs(clean_load, versions):
    result = clean_load["result"]

    assert result["blocked"] is True
    assert result["main"]["class"].startswith("transformers_modules.")  # the remote code, not a local class
    assert_same_outputs(result["main"], local_outputs(versions["v1.1.0"]))
    tokenizer = AutoTokenizer.from_pretrained(versions["v1.0.0"])
    assert result["tokens"] == tokenizer("the child is calling")["input_ids"]
    assert result["label_maps"] == json.loads((versions["v1.0.0"] / "label_maps.json").read_text())


def test_revision_loads_the_first_version(clean_load, versions):
    result = clean_load["result"]

    assert_same_outputs(result["v1"], local_outputs(versions["v1.0.0"]))
    assert result["v1"]["ner"] != result["main"]["ner"]


def test_card_metadata_and_model_index_match_the_training_run(clean_load, versions):
    data, text = clean_load["result"]["card"]["data"], clean_load["result"]["card"]["text"]
    metrics = json.loads((versions["v1.1.0"] / "eval_results.json").read_text())

    assert data["library_name"] == "transformers" and data["pipeline_tag"] == "token-classification"
    assert data["license"] == "mit" and data["base_model"] == ENCODER_NAME
    assert {"helpline-fusion", "custom_code"} <= set(data["tags"])
    (index,) = data["model-index"]
    assert index["name"] == REPO
    results = {r["task"]["name"]: {m["name"]: m["value"] for m in r["metrics"]} for r in index["results"]}
    config = AttentionFusionConfig.from_pretrained(versions["v1.1.0"])
    assert set(results) == {"NER", "all tasks"} | {f"case {h}" for h in config.case_heads} | {
        f"quality {h}" for h in config.qa_heads
    }  # one result per head
    assert results["all tasks"]["composite"] == pytest.approx(metrics["composite"], abs=1e-4)
    assert results["NER"]["entity-level micro F1"] == pytest.approx(metrics["ner_f1"], abs=1e-4)
    # Calibrated on validation, the validation's critical recall is in-sample, and the card's model-index says so.
    in_sample = "critical recall, in-sample (fitted on these records)"
    assert results["case priority"][in_sample] == pytest.approx(metrics["cls_priority_critical_recall"], abs=1e-4)
    assert f'AutoModel.from_pretrained("{REPO}", revision="v1.1.0", trust_remote_code=True)' in text  # main's tag


def test_card_content_from_the_training_run(versions, workspace, hub):
    _, files = workspace
    card = hub.repo_files(REPO, "v1.0.0")["README.md"].decode()
    metrics = json.loads((versions["v1.0.0"] / "eval_results.json").read_text())

    assert composite_from_card(ModelCard(card)) == pytest.approx(metrics["composite"], abs=1e-4)
    for section in ("## How to use", "model.predict(", "## Evaluation", "### NER per entity type", "### Case heads",
                    "### Call-quality heads", "## Training", "learning_rate: 0.003", "lr_scheduler_type: linear",
                    "### Data", "records read", "## Label reference", "## Intended use", "## Limitations",
                    "**synthetic**", "## Child safety and privacy", "## Citation", "--init_from"):  # fmt: skip
        assert section in card, section
    report = json.loads((versions["v1.0.0"] / "data_validation_report.json").read_text())
    cases = next(entry for entry in report["files"].values() if entry["task"] == "cls")
    assert f"{cases['read']} records read, {cases['kept']} kept, {cases['repaired']} repaired" in card
    texts = [json.loads(line)["text"] for line in Path(files["ner_file"]).read_text().splitlines()]
    texts += [record["narrative"] for record in json.loads(Path(files["cases_file"]).read_text())]
    for text in texts:  # no transcript text from the training data
        for piece in (text[:30], text[len(text) // 2 : len(text) // 2 + 30]):
            assert piece not in card


def test_offline_reload_from_the_cache_sends_no_request(clean_load, hub):
    count = hub.request_count
    proc = run_hub_client(CHILD, hub.endpoint, clean_load["home"], token=hub.token, offline=True)

    assert hub.request_count == count
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == clean_load["result"]


# --------------------------------------------------------------------------- only if better
def test_a_worse_model_is_refused_unless_forced(trained, hub, tmp_path, capsys):
    repo = "org/only-better"
    worse = make_variant(trained, tmp_path / "worse", composite_delta=-0.05, seed=2)
    assert publish(capsys, str(trained), "--repo", repo)[0] == 0
    before, digest = repo_state(hub, repo), folder_hash(worse)

    code, _, err = publish(capsys, str(worse), "--repo", repo, "--require-better")

    assert code == 3
    published = json.loads((trained / "eval_results.json").read_text())["composite"]
    assert f"composite {published - 0.05:.4f} is below the published version's {published:.4f}" in err
    assert repo in err and "tagged v1.0.0" in err and "--force" in err
    assert repo_state(hub, repo) == before and folder_hash(worse) == digest

    code, out, _ = publish(capsys, str(worse), "--repo", repo, "--force")
    assert code == 0 and out.startswith(f"published {repo} v1.1.0")
    assert set(hub.tags(repo)) == {"v1.0.0", "v1.1.0"}
    assert hub.repo_files(repo, "v1.1.0")["model.safetensors"] == (worse / "model.safetensors").read_bytes()


def test_publishing_the_same_folder_again_makes_no_new_version(trained, hub, capsys):
    repo = "org/same-again"
    assert publish(capsys, str(trained), "--repo", repo)[0] == 0
    before = repo_state(hub, repo)

    code, out, _ = publish(capsys, str(trained), "--repo", repo)

    assert code == 0 and out.startswith(f"already published {repo} v1.0.0")
    assert repo_state(hub, repo) == before


def test_the_same_folder_again_is_not_worse_when_its_card_rounds_the_composite_up(trained, hub, tmp_path, capsys):
    repo = "org/rounded-up"
    composite = json.loads((trained / "eval_results.json").read_text())["composite"]
    rounds_up = math.floor(composite * 1e4) / 1e4 + 0.00006  # the card's 4 decimals hold a higher value
    folder = make_variant(trained, tmp_path / "rounded", composite_delta=rounds_up - composite, seed=3)
    assert publish(capsys, str(folder), "--repo", repo)[0] == 0
    before = repo_state(hub, repo)

    code, out, _ = publish(capsys, str(folder), "--repo", repo)

    assert code == 0 and out.startswith(f"already published {repo} v1.0.0")
    assert repo_state(hub, repo) == before


def test_each_version_is_exactly_its_folder(trained, variant, hub, tmp_path, capsys):
    repo = "org/exact"
    with_vocab = tmp_path / "with_vocab"
    shutil.copytree(variant, with_vocab)
    (with_vocab / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    reseal(with_vocab)
    assert publish(capsys, str(with_vocab), "--repo", repo)[0] == 0

    assert publish(capsys, str(variant), "--repo", repo, "--force")[0] == 0

    assert "vocab.txt" in hub.repo_files(repo, "v1.0.0")
    assert set(hub.repo_files(repo, "v1.1.0")) == VERSION_FILES  # the file the new folder lacks is gone
    assert "removed from the previous version: vocab.txt" in HfApi().list_repo_commits(repo)[0].message


def test_next_version():
    assert next_version([]) == "v1.0.0"
    assert next_version(["v1.2.0", "v1.10.3", "v0.9.0", "nightly"]) == "v1.11.0"


# --------------------------------------------------------------------------- error paths
@pytest.fixture(scope="module")
def variant(trained, tmp_path_factory) -> Path:
    return make_variant(trained, tmp_path_factory.mktemp("variant") / "variant", composite_delta=0.01, seed=3)


@pytest.fixture
def ready(trained, variant, hub, capsys, request):
    """A fresh repo holding one published version (v1.0.0), a variant to publish next, and the state to compare."""
    repo = f"org/errors-{request.node.name.removeprefix('test_')[:40]}"
    assert publish(capsys, str(trained), "--repo", repo, "--tag", "v1.0.0")[0] == 0
    return repo, variant, repo_state(hub, repo), folder_hash(variant)


def assert_nothing_published(hub, ready) -> None:
    repo, variant, state, digest = ready
    assert repo_state(hub, repo) == state, "a commit or tag was made"
    assert folder_hash(variant) == digest, "the local folder changed"


def test_no_token(ready, hub, capsys, monkeypatch):
    repo, variant, _, _ = ready
    monkeypatch.delenv("HF_TOKEN")
    count = hub.request_count

    code, _, err = publish(capsys, str(variant), "--repo", repo)

    assert code == 1 and hub.request_count == count
    assert f"no Hugging Face token: publishing to {repo} needs a token" in err and "hf auth login" in err
    assert_nothing_published(hub, ready)


def test_rejected_token(ready, hub, capsys, monkeypatch):
    repo, variant, _, _ = ready
    hub.require_token = True
    monkeypatch.setenv("HF_TOKEN", "hf_not_the_right_one")

    code, _, err = publish(capsys, str(variant), "--repo", repo)

    assert code == 1
    assert f"cannot publish to {repo}: the Hub did not accept the token" in err and "HTTP 401" in err
    assert "HF_TOKEN" in err and "Nothing was tagged; the local folder is unchanged" in err
    assert_nothing_published(hub, ready)


def test_unknown_repo(ready, hub, capsys, monkeypatch):
    _, variant, _, digest = ready

    def refuse(self, body):  # the Hub's answer for a namespace the token may not create repos in
        raise HubError(403, "You don't have the rights to create a model under this namespace")

    monkeypatch.setattr(hub_server._HubHandler, "_create_repo", refuse)
    code, _, err = publish(capsys, str(variant), "--repo", "nowhere/helpline-fusion")

    assert code == 1
    assert "unknown repo nowhere/helpline-fusion" in err and "HTTP 403" in err and "Check --repo" in err
    with pytest.raises(HubError):
        hub.tags("nowhere/helpline-fusion")
    assert folder_hash(variant) == digest


def test_server_refusing_the_commit(ready, hub, capsys):
    repo, variant, _, _ = ready
    hub.refuse_commits = 403

    code, _, err = publish(capsys, str(variant), "--repo", repo)

    assert code == 1
    assert f"cannot publish to {repo}: the Hub refused to commit the new version (HTTP 403" in err
    assert_nothing_published(hub, ready)


def test_connection_dropped_midway(ready, hub, capsys):
    repo, variant, _, _ = ready
    hub.drop_commits = 1

    code, _, err = publish(capsys, str(variant), "--repo", repo)

    assert code == 1
    assert f"cannot publish to {repo}: the connection to {hub.endpoint} failed while committing" in err
    assert f"{repo} is unchanged; nothing was tagged and the local folder is unchanged" in err
    assert_nothing_published(hub, ready)


def test_answer_lost_after_the_commit_then_rerun_only_tags(ready, hub, capsys):
    repo, variant, (tags, titles), digest = ready
    hub.lose_commit_responses = 1

    code, _, err = publish(capsys, str(variant), "--repo", repo, "--tag", "v1.0.1")

    assert code == 1
    head = hub.commit_titles(repo)
    assert head[1:] == titles and head[0].startswith("Publish v1.0.1")  # it landed ...
    assert hub.tags(repo) == tags  # ... but is not tagged
    assert "received the commit" in err and "NOT tagged" in err and "Re-run the same command" in err

    code, out, _ = publish(capsys, str(variant), "--repo", repo, "--tag", "v1.0.1")

    assert code == 0 and out.startswith(f"published {repo} v1.0.1")
    assert hub.commit_titles(repo) == head  # no second commit
    assert hub.tags(repo) == {**tags, "v1.0.1": HfApi().model_info(repo).sha}  # the tag is on the landed commit
    assert hub.repo_files(repo, "v1.0.1")["model.safetensors"] == (variant / "model.safetensors").read_bytes()
    assert folder_hash(variant) == digest


def test_an_existing_tag_is_never_replaced(ready, hub, capsys):
    repo, variant, _, _ = ready

    code, _, err = publish(capsys, str(variant), "--repo", repo, "--tag", "v1.0.0")

    assert code == 1
    assert f"tag v1.0.0 already exists on {repo}" in err and "next free: v1.1.0" in err
    assert_nothing_published(hub, ready)


def test_an_incomplete_folder_is_refused_before_any_request(trained, hub, tmp_path, capsys):
    incomplete = tmp_path / "incomplete"
    shutil.copytree(trained, incomplete, ignore=shutil.ignore_patterns("checkpoint-*", "label_maps.json"))
    (incomplete / "inference_attention_fusion.py").unlink()
    count = hub.request_count

    code, _, err = publish(capsys, str(incomplete), "--repo", REPO)

    assert code == 2 and hub.request_count == count
    assert f"{incomplete}: cannot publish an incomplete model folder: missing " in err
    assert "'inference_attention_fusion.py', 'label_maps.json'" in err


# --------------------------------------------------------------------------- the HF-native routes
def test_model_push_to_hub_then_the_card_publishes_our_card(trained, hub):
    # The HF-native route, with no private hook in the payload: transformers pushes the weights and the remote code
    # (and its own draft card); the helpline-fusion card goes up as a card, aimed at the repo.
    repo = "org/native"
    model = AutoModel.from_pretrained(trained, trust_remote_code=True)
    model.push_to_hub(repo, commit_message="native push")
    AutoTokenizer.from_pretrained(trained).push_to_hub(repo)  # the tokenizer travels on its own, as in transformers
    files = hub.repo_files(repo)
    assert {"config.json", "model.safetensors", "modeling_attention_fusion.py", "pipeline_attention_fusion.py",
            "tokenizer.json"} <= set(files)  # fmt: skip
    assert json.loads(files["config.json"])["custom_pipelines"]["helpline-fusion"]["impl"] == (
        "pipeline_attention_fusion.HelplineFusionPipeline"
    )
    assert hub.commit_titles(repo)[1] == "native push"

    card_for_repo(ModelCard.load(trained / "README.md"), repo).push_to_hub(repo)
    card = hub.repo_files(repo)["README.md"].decode()
    assert f'AutoModel.from_pretrained("{repo}", revision=' in card
    assert "This is the model card of a 🤗 transformers model" not in card
    metrics = json.loads((trained / "eval_results.json").read_text())
    assert composite_from_card(ModelCard(card)) == pytest.approx(metrics["composite"], abs=1e-4)


def test_trainer_push_to_hub_keeps_our_card_and_tags_the_version(trained, hub):
    tags = hub.tags(TRAINER_REPO)
    files = hub.repo_files(TRAINER_REPO, "v1.0.0")
    card = files["README.md"].decode()

    assert list(tags) == ["v1.0.0"] and hub.repo_files(TRAINER_REPO) == files  # the tag is the final commit
    # No --hub_private_repo given: the Trainer created the repo private, and the push asked for nothing else.
    assert hub.is_private(TRAINER_REPO) and set(hub.visibility_sent(TRAINER_REPO)) == {"private"}
    assert hub.commit_titles(TRAINER_REPO, "v1.0.0")[0] == "helpline-fusion training run"
    local = card_for_repo(ModelCard.load(trained / "README.md"), TRAINER_REPO, revision="v1.0.0")
    assert card == str(local)  # the training job's card, aimed at TRAINER_REPO and pinned to the version's tag
    assert f'AutoModel.from_pretrained("{TRAINER_REPO}", revision="v1.0.0", trust_remote_code=True)' in card
    assert "records read" in card and not any(marker in card for marker in TRAINER_DRAFT_MARKERS)
    assert {"label_maps.json", "tokenizer.json", "tokenizer_config.json", "modeling_attention_fusion.py",
            "model.safetensors", "config.json"} <= set(files)  # fmt: skip
    # Only the model's files: no training state, no validation report (it names local paths), no MLflow store.
    assert not {"training_args.bin", "data_validation_report.json", "mlflow.db"} & set(files)
    assert not any(name.startswith(("checkpoint-", "synthetic_data")) for name in files)
    metrics = json.loads((trained / "eval_results.json").read_text())
    assert composite_from_card(ModelCard(card)) == pytest.approx(metrics["composite"], abs=1e-4)
