"""The Hub-protocol test server (tests/hub_server.py) driven by the REAL huggingface_hub client and transformers.

What this proves and what it does not is stated at the top of hub_server.py (no LFS/Xet transfer, no real
authentication, no rate limits). These tests pin the server to the client's actual behaviour, so publishing tests
built on it fail when the client and the server stop agreeing.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.hub_server import HubServer, patched_hub_client, run_hub_client, running_hub_server

REPO = "org/tiny"
# A binary file with every byte value, so base64 transport and downloads are checked byte for byte.
V1_FILES = {"README.md": b"---\nlicense: mit\ntags:\n- tiny\n---\n# tiny v1\n", "weights.bin": bytes(range(256)) * 4,
            "sub/labels.json": b'{"a": 0}'}  # fmt: skip
V2_FILES = {**V1_FILES, "README.md": b"---\nlicense: mit\ntags:\n- tiny\n---\n# tiny v2\n", "extra.txt": b"new in v2"}


def _write(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def _commit_posts(hub: HubServer) -> list[int]:
    return [r.status for r in hub.requests if r.route.endswith("/commit/{rev}")]


@pytest.fixture
def hub(tmp_path: Path):
    """A fresh server with the in-process client pointed at it (own HF_HOME under tmp_path)."""
    with running_hub_server() as server, patched_hub_client(server.endpoint, tmp_path / "hf_home"):
        yield server


@pytest.fixture
def published(hub: HubServer, tmp_path: Path) -> dict[str, str]:
    """REPO with two versions, tagged v1 and v2; returns the commit id of each tag."""
    api = HfApi()
    api.create_repo(REPO)
    first = api.upload_folder(repo_id=REPO, folder_path=_write(tmp_path / "v1", V1_FILES), commit_message="v1")
    api.create_tag(REPO, tag="v1", tag_message="first version")
    second = api.upload_folder(repo_id=REPO, folder_path=_write(tmp_path / "v2", V2_FILES), commit_message="v2")
    api.create_tag(REPO, tag="v2")
    return {"v1": first.oid, "v2": second.oid}


def test_create_repo_refuses_duplicates_unless_exist_ok(hub: HubServer):
    url = HfApi().create_repo(REPO)

    assert url == f"{hub.endpoint}/{REPO}" and url.repo_id == REPO
    assert list(hub.repo_files(REPO)) == [".gitattributes"]  # the Hub's initial commit
    with pytest.raises(HfHubHTTPError) as excinfo:
        HfApi().create_repo(REPO)
    assert excinfo.value.response.status_code == 409
    assert HfApi().create_repo(REPO, exist_ok=True).repo_id == REPO


def test_upload_folder_makes_one_commit_with_exact_bytes(hub: HubServer, tmp_path: Path):
    api = HfApi()
    api.create_repo(REPO)
    info = api.upload_folder(repo_id=REPO, folder_path=_write(tmp_path / "v1", V1_FILES), commit_message="publish")

    assert _commit_posts(hub) == [200]
    assert hub.commit_titles(REPO) == ["publish", "initial commit"]
    assert {k: v for k, v in hub.repo_files(REPO).items() if k != ".gitattributes"} == V1_FILES
    assert info.oid == api.model_info(REPO).sha
    assert any(r.route == "POST /api/validate-yaml" for r in hub.requests)  # README metadata checked first


def test_unchanged_upload_sends_no_commit(hub: HubServer, published: dict[str, str], tmp_path: Path):
    # preupload answers each file's current git blob id; the client drops unchanged files, so no commit is sent.
    before = len(_commit_posts(hub))
    info = HfApi().upload_folder(repo_id=REPO, folder_path=_write(tmp_path / "again", V2_FILES))

    assert len(_commit_posts(hub)) == before
    assert info.oid == published["v2"]


def test_tags_pin_versions(hub: HubServer, published: dict[str, str]):
    refs = HfApi().list_repo_refs(REPO)

    assert {t.name: t.target_commit for t in refs.tags} == published
    assert [(b.name, b.target_commit) for b in refs.branches] == [("main", published["v2"])]
    assert Path(hf_hub_download(REPO, "README.md", revision="v1")).read_bytes() == V1_FILES["README.md"]
    assert Path(hf_hub_download(REPO, "README.md")).read_bytes() == V2_FILES["README.md"]
    snapshot = Path(snapshot_download(REPO, revision="v1"))
    assert snapshot.name == published["v1"]
    assert sorted(p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file()) == sorted(
        [".gitattributes", *V1_FILES]
    )
    assert (snapshot / "weights.bin").read_bytes() == V1_FILES["weights.bin"]
    assert [c.title for c in HfApi().list_repo_commits(REPO, revision="v1")] == ["v1", "initial commit"]


def test_model_info_and_tree(hub: HubServer, published: dict[str, str]):
    api = HfApi()
    info = api.model_info(REPO)
    old = api.model_info(REPO, revision="v1", files_metadata=True)

    assert info.sha == published["v2"]
    assert sorted(s.rfilename for s in info.siblings) == sorted([".gitattributes", *V2_FILES])
    assert info.card_data.license == "mit" and info.tags == ["tiny"]
    assert old.sha == published["v1"]
    assert {s.rfilename: s.size for s in old.siblings}["weights.bin"] == len(V1_FILES["weights.bin"])
    top = {e.path for e in api.list_repo_tree(REPO, revision="v1")}
    assert top == {".gitattributes", "README.md", "weights.bin", "sub"}
    assert "sub/labels.json" in {e.path for e in api.list_repo_tree(REPO, revision="v1", recursive=True)}
    assert [e.path for e in api.list_repo_tree(REPO, path_in_repo="sub")] == ["sub/labels.json"]


def test_errors_map_to_the_client_exceptions(hub: HubServer, published: dict[str, str]):
    api = HfApi()
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("org/unknown")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("org/unknown", "config.json")
    with pytest.raises(RevisionNotFoundError):
        api.model_info(REPO, revision="v9")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(REPO, "README.md", revision="v9")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(REPO, "missing.json")
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_tag(REPO, tag="v1")
    assert excinfo.value.response.status_code == 409
    # Each failed lookup was one 404 answer: the client does not retry them.
    assert sum(r.status == 404 for r in hub.requests) == 5


def test_delete_tag(hub: HubServer, published: dict[str, str]):
    api = HfApi()
    api.delete_tag(REPO, tag="v1")

    assert [t.name for t in api.list_repo_refs(REPO).tags] == ["v2"]
    with pytest.raises(RevisionNotFoundError):
        api.delete_tag(REPO, tag="v1")


def test_invalid_readme_metadata_is_refused_before_upload(hub: HubServer, tmp_path: Path):
    api = HfApi()
    api.create_repo(REPO)
    bad = b"---\nmodel-index:\n- name: tiny\n  results:\n  - metrics: [{type: f1}]\n---\n"
    with pytest.raises(ValueError, match="Invalid metadata in README.md"):
        api.upload_folder(repo_id=REPO, folder_path=_write(tmp_path / "bad", {"README.md": bad}))
    assert _commit_posts(hub) == []


def test_token_required_mode(tmp_path: Path):
    with running_hub_server(require_token=True) as hub, patched_hub_client(hub.endpoint, tmp_path / "hf_home"):
        with pytest.raises(HfHubHTTPError) as excinfo:
            HfApi().create_repo(REPO, token=False)
        assert excinfo.value.response.status_code == 401
        assert "Invalid username or password" in str(excinfo.value)
        with pytest.raises(HfHubHTTPError, match="Invalid credentials"):
            HfApi(token="hf_wrong").create_repo(REPO)

        api = HfApi(token=hub.token)
        assert api.whoami()["name"] == hub.user
        api.create_repo(REPO)
        api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=REPO)
        # Public reads need no token, as on the Hub.
        assert Path(hf_hub_download(REPO, "config.json", token=False)).read_bytes() == b"{}"


def test_refused_commit_changes_nothing(hub: HubServer, published: dict[str, str], tmp_path: Path):
    hub.refuse_commits = 403
    with pytest.raises(HfHubHTTPError) as excinfo:
        HfApi().upload_folder(repo_id=REPO, folder_path=_write(tmp_path / "v3", {"new.txt": b"v3"}))

    assert excinfo.value.response.status_code == 403
    assert HfApi().model_info(REPO).sha == published["v2"]


def test_dropped_commit_connection(hub: HubServer, published: dict[str, str], tmp_path: Path):
    api = HfApi()
    hub.drop_commits = 1
    with pytest.raises(httpx2.TransportError):  # create_commit does not retry
        api.create_commit(REPO, operations=[CommitOperationAdd("new.txt", b"v3")], commit_message="v3")
    assert api.model_info(REPO).sha == published["v2"]

    hub.drop_commits = 1  # upload_folder retries a commit once the connection drops (after 1 s)
    info = api.upload_folder(repo_id=REPO, folder_path=_write(tmp_path / "v3", {"new.txt": b"v3"}))
    assert _commit_posts(hub)[-2:] == [599, 200]
    assert hub.repo_files(REPO, info.oid)["new.txt"] == b"v3"


def test_lost_commit_response_is_retried_into_a_duplicate_commit(
    hub: HubServer, published: dict[str, str], tmp_path: Path
):
    # Documents a client behaviour publishers must know: upload_folder retries a commit whose answer was lost, and
    # the retry commits the same files again (the client cannot know the first one landed).
    hub.lose_commit_responses = 1
    HfApi().upload_folder(repo_id=REPO, folder_path=_write(tmp_path / "v3", {"new.txt": b"v3"}), commit_message="v3")

    assert _commit_posts(hub)[-2:] == [599, 200]
    assert hub.commit_titles(REPO)[:3] == ["v3", "v3", "v2"]


def test_parent_commit_guards_against_concurrent_publish(hub: HubServer, published: dict[str, str]):
    op = CommitOperationAdd("late.txt", b"late")
    with pytest.raises(HfHubHTTPError) as excinfo:
        HfApi().create_commit(REPO, operations=[op], commit_message="late", parent_commit=published["v1"])

    assert excinfo.value.response.status_code == 412
    assert HfApi().model_info(REPO).sha == published["v2"]


def test_offline_reload_sends_no_request(hub: HubServer, published: dict[str, str], tmp_path: Path):
    home = tmp_path / "clean_home"
    download = (
        "import json, pathlib\nfrom huggingface_hub import snapshot_download\n"
        f"path = pathlib.Path(snapshot_download({REPO!r}, revision='v1'))\n"
        "print(json.dumps({'name': path.name, 'weights': (path / 'weights.bin').read_bytes().hex()}))\n"
    )
    online = run_hub_client(download, hub.endpoint, home)
    count = hub.request_count
    offline = run_hub_client(download, hub.endpoint, home, offline=True)

    assert hub.request_count == count
    assert json.loads(online.stdout) == json.loads(offline.stdout)
    assert json.loads(offline.stdout) == {"name": published["v1"], "weights": V1_FILES["weights.bin"].hex()}


def test_transformers_autoconfig_through_server(hub: HubServer, tmp_path: Path):
    from transformers import AutoConfig, BertConfig

    tiny = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
    api = HfApi()
    api.create_repo(REPO)
    for tag, hidden in (("v1", 32), ("v2", 64)):
        BertConfig(**{**tiny, "hidden_size": hidden}).save_pretrained(tmp_path / tag)
        api.upload_folder(repo_id=REPO, folder_path=tmp_path / tag, commit_message=tag)
        api.create_tag(REPO, tag=tag)
    first_request = hub.request_count

    # In-process (patched_hub_client resets transformers' shared HfApi) and in a clean process (HF_ENDPOINT).
    assert AutoConfig.from_pretrained(REPO, revision="v1").hidden_size == 32
    code = (
        "from transformers import AutoConfig\n"
        f"print(AutoConfig.from_pretrained({REPO!r}).hidden_size, "
        f"AutoConfig.from_pretrained({REPO!r}, revision='v1').hidden_size)\n"
    )
    proc = run_hub_client(code, hub.endpoint, tmp_path / "clean_home")

    assert proc.stdout.split() == ["64", "32"]
    routes = {r.route for r in hub.requests[first_request:]}
    assert {"GET /api/models/{repo}", "GET /api/models/{repo}/revision/{rev}"} <= routes  # revision resolved first
    assert {"HEAD /{repo}/resolve/{rev}/{file}", "GET /{repo}/resolve/{rev}/{file}"} <= routes
