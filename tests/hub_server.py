"""A small Hugging Face Hub-protocol HTTP server for tests (stdlib only).

The Hub is unreachable from this machine and `huggingface_hub` has no offline mode for uploads, so publishing tests
run the REAL `huggingface_hub` client (and transformers' download path) against this server on 127.0.0.1.

What this proves:
    - The client's request sequence for create repo, README YAML validation, preupload, NDJSON commit (additions,
      deletions, `parentCommit`), tags, refs, commit history, model info, tree listing and resolve/download (HEAD
      metadata via `X-Repo-Commit` / `ETag` / `Content-Length`, then GET) works end to end, so a repo published by our
      code is loadable by `from_pretrained` / `snapshot_download` / `hf_hub_download`, including at `revision=<tag>`.
    - Errors travel like on the Hub: JSON `{"error": ...}` bodies and `X-Error-Code` (`RepoNotFound`,
      `RevisionNotFound`, `EntryNotFound`), so the client raises its real exception classes; 401/403/409/412 too.
    - Fault knobs (`require_token`, `refuse_commits`, `drop_commits`, `lose_commit_responses`) exercise error paths;
      the request log shows exactly what the client sent (e.g. that an `HF_HUB_OFFLINE=1` reload sends nothing),
      and `visibility_sent` the visibility each create-repo request asked for (a private repo is then unreadable
      without the token, as on the Hub).

What this does NOT prove:
    - LFS or Xet transfer: preupload answers `uploadMode: "regular"` for every file, so every file travels base64
      inside the commit. Large-file storage, chunk dedup and the Xet token/CAS endpoints are never exercised.
    - Real authentication and permissions: a token is a fixed string compared verbatim; no scopes, orgs, gating.
      The client maps 401 on `https://` repo URLs to `RepositoryNotFoundError`; this server is plain `http://`, so
      the same 401 surfaces as a plain `HfHubHTTPError` here.
    - Rate limits (no 429s); retries against a real outage (a 5xx or dropped commit sent by `upload_folder` is
      retried up to 5 times with 1-8 s backoff, so only single failures make fast tests); pagination of large
      listings; pull requests (`create_pr`); `.gitignore` rules; Hub-side metadata checks beyond basic YAML and
      `model-index` shape; git-compatible commit ids (commit ids are sha1 hex but not real git objects; file ids ARE
      git blob sha1s, as the client compares them to skip unchanged files).

Usage:
    ```python
    with running_hub_server() as hub:
        run_hub_client("from huggingface_hub import HfApi; HfApi().create_repo('org/m')", hub.endpoint, tmp_path)
        assert hub.repo_files("org/m")[".gitattributes"]
    ```
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

try:  # only to parse README metadata (validate-yaml, cardData); the server works without it
    import yaml
except ImportError:  # pragma: no cover
    yaml = None

logger = logging.getLogger(__name__)

DEFAULT_TOKEN = "hf_hubserver_test_token"
DEFAULT_USER = "test-user"
_GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n"
_REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}


def git_blob_oid(data: bytes) -> str:
    """Git blob sha1 of `data`: the id the Hub gives regular files (and the client compares to skip unchanged ones)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclasses.dataclass
class RequestRecord:
    """One request the server answered: `route` is the matched template, e.g. `POST /api/{type}/{repo}/commit/{rev}`."""

    method: str
    path: str
    route: str
    status: int


@dataclasses.dataclass
class _Commit:
    oid: str
    parent: str | None
    title: str
    message: str
    files: dict[str, str]  # path -> blob oid
    date: str


@dataclasses.dataclass
class _Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: str
    commits: dict[str, _Commit] = dataclasses.field(default_factory=dict)
    branches: dict[str, str] = dataclasses.field(default_factory=dict)
    tags: dict[str, str] = dataclasses.field(default_factory=dict)

    def resolve(self, revision: str) -> str | None:
        if revision in self.branches:
            return self.branches[revision]
        if revision in self.tags:
            return self.tags[revision]
        return revision if revision in self.commits else None


class HubError(Exception):
    """An HTTP error answered as the Hub does: JSON `{"error": message}` and an optional `X-Error-Code`."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


class _DropConnection(Exception):
    """Close the socket without answering (simulates a connection failing midway)."""


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _front_matter(text: str) -> tuple[str | None, str | None]:
    """Return (yaml block, error) of a README; (None, None) when it has no metadata block."""
    if not text.startswith("---"):
        return None, None
    end = text.find("\n---", 3)
    if end == -1:
        return None, "metadata block opened with '---' is never closed"
    return text[3:end], None


def _parse_card(text: str) -> tuple[dict[str, Any], list[str]]:
    """Metadata of a README and the errors the Hub would report for it (basic YAML and `model-index` shape only)."""
    block, error = _front_matter(text)
    if error:
        return {}, [error]
    if block is None or yaml is None:
        return {}, []
    try:
        data = yaml.safe_load(block) or {}
    except yaml.YAMLError as exc:
        return {}, [f"YAML parse error: {exc}"]
    if not isinstance(data, dict):
        return {}, [f"metadata must be a mapping, found {type(data).__name__}"]
    errors = []
    index = data.get("model-index")
    if index is not None:
        if not isinstance(index, list):
            errors.append("model-index must be a list")
        for i, entry in enumerate(index if isinstance(index, list) else []):
            if not isinstance(entry, dict) or "name" not in entry or not isinstance(entry.get("results"), list):
                errors.append(f"model-index[{i}] needs 'name' and a 'results' list")
                continue
            for j, result in enumerate(entry["results"]):
                where = f"model-index[{i}].results[{j}]"
                if not isinstance((result or {}).get("task"), dict) or "type" not in result["task"]:
                    errors.append(f"{where}.task.type is required")
                if not isinstance(result.get("dataset"), dict) or not {"type", "name"} <= result["dataset"].keys():
                    errors.append(f"{where}.dataset needs 'type' and 'name'")
                metrics = result.get("metrics")
                if not isinstance(metrics, list) or not all(
                    isinstance(m, dict) and "type" in m and "value" in m for m in metrics
                ):
                    errors.append(f"{where}.metrics must be a list of {{type, value}}")
    return data, errors


class HubServer:
    """In-memory Hub state plus the HTTP server; use through [`running_hub_server`].

    Knobs (plain attributes, may be changed while running):
        require_token: write requests (and reads of private repos) need `Authorization: Bearer <token>`.
        refuse_commits: if set, every commit is answered with this HTTP status (e.g. 403, or 500 which the client
            retries with backoff) and not applied.
        drop_commits: the next N commit requests are read fully, not applied, and the connection is closed without
            an answer (the client sees a dropped connection).
        lose_commit_responses: the next N commits ARE applied, then the connection is closed without an answer (the
            client cannot know the commit happened).
    Every answered request is appended to `requests`; status 599 marks a connection dropped on purpose. Every
    create-repo request records what the client asked for (`visibility_sent`), including for a repo that exists.
    """

    def __init__(self, *, require_token: bool = False, token: str = DEFAULT_TOKEN, user: str = DEFAULT_USER):
        self.require_token = require_token
        self.token = token
        self.user = user
        self.refuse_commits: int | None = None
        self.drop_commits = 0
        self.lose_commit_responses = 0
        self.requests: list[RequestRecord] = []
        self.repo_creations: list[tuple[str, str | None]] = []  # (repo id, the visibility the client sent or None)
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.RLock()
        self._counter = itertools.count()
        self._connections: set[socket.socket] = set()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="hub-server", daemon=True
        )

    @property
    def endpoint(self) -> str:
        """Base URL to use as `HF_ENDPOINT`, e.g. `http://127.0.0.1:40123`."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def request_count(self) -> int:
        return len(self.requests)

    def routes_hit(self) -> list[str]:
        """Distinct route templates answered so far, in first-hit order."""
        return list(dict.fromkeys(f"{r.route} -> {r.status}" for r in self.requests))

    def start(self) -> HubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        with self._lock:
            for conn in list(self._connections):  # idle keep-alive connections would keep handler threads waiting
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # ----------------------------------------------------------------- inspection helpers for tests

    def repo_files(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> dict[str, bytes]:
        """Files of `repo_id` at `revision` (branch, tag or commit id)."""
        with self._lock:
            repo = self._get_repo(repo_type, repo_id)
            commit = repo.commits[self._resolve(repo, revision)]
            return {path: self._blobs[oid] for path, oid in commit.files.items()}

    def commit_titles(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> list[str]:
        """Commit titles reachable from `revision`, newest first (includes the Hub's "initial commit")."""
        with self._lock:
            repo = self._get_repo(repo_type, repo_id)
            return [c.title for c in self._history(repo, self._resolve(repo, revision))]

    def visibility_sent(self, repo_id: str) -> list[str | None]:
        """What each create-repo request for `repo_id` asked for, in order: "private", "public", or None when the
        client sent neither (the Hub then applies the namespace's default, public for a user)."""
        with self._lock:
            return [visibility for name, visibility in self.repo_creations if name == repo_id]

    def is_private(self, repo_id: str, repo_type: str = "model") -> bool:
        with self._lock:
            return self._get_repo(repo_type, repo_id).private

    def tags(self, repo_id: str, repo_type: str = "model") -> dict[str, str]:
        with self._lock:
            return dict(self._get_repo(repo_type, repo_id).tags)

    # ----------------------------------------------------------------- state

    def _get_repo(self, repo_type: str, repo_id: str) -> _Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None:
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    @staticmethod
    def _resolve(repo: _Repo, revision: str) -> str:
        oid = repo.resolve(revision)
        if oid is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return oid

    def _history(self, repo: _Repo, oid: str | None) -> list[_Commit]:
        out = []
        while oid is not None:
            out.append(repo.commits[oid])
            oid = repo.commits[oid].parent
        return out

    def _new_commit(self, repo: _Repo, parent: str | None, files: dict[str, str], title: str, message: str) -> str:
        listing = "\n".join(f"{oid} {path}" for path, oid in sorted(files.items()))
        seed = f"tree\n{listing}\nparent {parent}\n{title}\n{message}\n{next(self._counter)} {time.time_ns()}"
        oid = hashlib.sha1(seed.encode()).hexdigest()
        repo.commits[oid] = _Commit(oid, parent, title, message, dict(files), _now())
        return oid

    def _create_repo(self, repo_type: str, repo_id: str, private: bool) -> _Repo:
        repo = _Repo(repo_type, repo_id, private, _now())
        oid = git_blob_oid(_GITATTRIBUTES)
        self._blobs[oid] = _GITATTRIBUTES
        repo.branches["main"] = self._new_commit(repo, None, {".gitattributes": oid}, "initial commit", "")
        self._repos[(repo_type, repo_id)] = repo
        return repo


def _make_handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_HubHandler):
        pass

    Handler.hub = hub
    return Handler


class _HubHandler(BaseHTTPRequestHandler):
    """Routes one request; all state lives on `hub`."""

    hub: HubServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    timeout = 30  # idle keep-alive connections end their thread

    def setup(self) -> None:
        super().setup()
        with self.hub._lock:
            self.hub._connections.add(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        with self.hub._lock:
            self.hub._connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        logger.debug("hub_server: " + format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ----------------------------------------------------------------- plumbing

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        # Split before unquoting: the client quotes revisions with safe="" (refs%2Fpr%2F1 is one segment).
        segments = [unquote(s) for s in url.path.strip("/").split("/")] if url.path.strip("/") else []
        self.route = f"{method} {url.path}"
        body = self._read_body()
        try:
            status, payload, headers = self._route(method, segments, body)
        except _DropConnection:
            self._record(599)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        except HubError as err:
            status, payload, headers = err.status, {"error": err.message}, dict(err.headers)
            if err.code:
                headers["X-Error-Code"] = err.code
            headers.setdefault("X-Error-Message", err.message)
        except Exception as exc:  # a bug here must reach the test as a 500, not hang it
            logger.exception("hub_server: error answering %s %s", method, self.path)
            status, payload, headers = 500, {"error": f"hub_server internal error: {exc!r}"}, {}
        self._record(status)
        self._send(method, status, payload, headers)

    def _record(self, status: int) -> None:
        with self.hub._lock:
            self.hub.requests.append(RequestRecord(self.command, self.path, self.route, status))

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, method: str, status: int, payload: Any, headers: dict[str, str]) -> None:
        if isinstance(payload, bytes):
            data, content_type = payload, "application/octet-stream"
        else:
            data, content_type = json.dumps(payload).encode(), "application/json; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("Content-Type", content_type))
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    def _json(self, body: bytes) -> dict[str, Any]:
        try:
            data = json.loads(body or b"{}")
        except json.JSONDecodeError as exc:
            raise HubError(400, f"request body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise HubError(400, f"request body must be a JSON object, found {type(data).__name__}")
        return data

    def _check_auth(self, write: bool, repo: _Repo | None = None) -> None:
        """Writes (and private reads) need the token when `require_token`; tokens are only checked then."""
        if not (self.hub.require_token and write) and not (repo is not None and repo.private):
            return
        auth = self.headers.get("Authorization", "")
        if not auth:
            raise HubError(401, "Invalid username or password.")
        if auth != f"Bearer {self.hub.token}":
            raise HubError(401, "Invalid credentials in Authorization header")

    def _url(self, repo: _Repo) -> str:
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        return f"{self.hub.endpoint}/{prefix}{repo.repo_id}"

    # ----------------------------------------------------------------- routing

    def _route(self, method: str, seg: list[str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        hub = self.hub
        with hub._lock:
            if seg[:2] == ["api", "whoami-v2"]:
                self.route = f"{method} /api/whoami-v2"
                return self._whoami()
            if seg[:2] == ["api", "agent-harnesses"] and method == "GET":  # user-agent detection, fetched once a day
                self.route = "GET /api/agent-harnesses"
                return 200, {"standardEnvVars": [], "harnesses": {}}, {}
            if seg[:2] == ["api", "validate-yaml"] and method == "POST":
                self.route = "POST /api/validate-yaml"
                return self._validate_yaml(body)
            if seg[:3] == ["api", "repos", "create"] and method == "POST":
                self.route = "POST /api/repos/create"
                return self._create_repo(body)
            if seg[:3] == ["api", "repos", "delete"] and method in ("DELETE", "POST"):
                self.route = f"{method} /api/repos/delete"
                return self._delete_repo(body)
            if len(seg) >= 4 and seg[0] == "api" and seg[1] in _REPO_TYPES:
                return self._repo_api(method, _REPO_TYPES[seg[1]], f"{seg[2]}/{seg[3]}", seg[4:], body)
            repo_type = _REPO_TYPES.get(seg[0], "model") if seg else "model"
            rest = seg[1:] if seg and seg[0] in ("datasets", "spaces") else seg
            if len(rest) >= 5 and rest[2] == "resolve" and method in ("GET", "HEAD"):
                prefix = "" if repo_type == "model" else f"{repo_type}s/"
                self.route = f"{method} /{prefix}{{repo}}/resolve/{{rev}}/{{file}}"
                return self._resolve_file(method, repo_type, f"{rest[0]}/{rest[1]}", rest[3], "/".join(rest[4:]))
        self.route = f"{method} (unimplemented) {self.path}"
        logger.warning("hub_server: no route for %s %s", method, self.path)
        raise HubError(404, f"hub_server does not implement {method} {urlsplit(self.path).path}")

    def _repo_api(
        self, method: str, repo_type: str, repo_id: str, rest: list[str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        action = rest[0] if rest else ""
        self.route = f"{method} /api/{repo_type}s/{{repo}}" + "".join(
            f"/{part}" for part in (action, "{rev}" if len(rest) > 1 else "", "{path}" if len(rest) > 2 else "") if part
        )
        repo = self.hub._get_repo(repo_type, repo_id)
        if method == "GET" and action in ("", "revision"):
            self._check_auth(False, repo)
            return self._info(repo, rest[1] if action == "revision" and len(rest) > 1 else "main")
        if method == "GET" and action == "tree" and len(rest) >= 2:
            self._check_auth(False, repo)
            return self._tree(repo, rest[1], "/".join(rest[2:]))
        if method == "GET" and action == "refs":
            self._check_auth(False, repo)
            return self._refs(repo)
        if method == "GET" and action == "commits" and len(rest) >= 2:
            self._check_auth(False, repo)
            return self._commits(repo, rest[1])
        if method == "POST" and action == "preupload" and len(rest) == 2:
            self._check_auth(True, repo)
            return self._preupload(repo, rest[1], body)
        if method == "POST" and action == "commit" and len(rest) == 2:
            self._check_auth(True, repo)
            return self._commit(repo, rest[1], body)
        if action in ("tag", "branch") and len(rest) == 2 and method in ("POST", "DELETE"):
            self._check_auth(True, repo)
            return self._ref_write(repo, method, action, rest[1], body)
        raise HubError(404, f"hub_server does not implement {method} {urlsplit(self.path).path}")

    # ----------------------------------------------------------------- account and repos

    def _whoami(self) -> tuple[int, Any, dict[str, str]]:
        if self.headers.get("Authorization", "") != f"Bearer {self.hub.token}":
            raise HubError(401, "Invalid credentials in Authorization header")
        token_info = {"displayName": "hub_server", "role": "write", "createdAt": _now()}
        return 200, {
            "type": "user", "id": "0" * 24, "name": self.hub.user, "fullname": "Test User", "email": None,
            "emailVerified": True, "isPro": False, "orgs": [], "auth": {"type": "access_token", "accessToken": token_info},
        }, {}  # fmt: skip

    def _validate_yaml(self, body: bytes) -> tuple[int, Any, dict[str, str]]:
        content = self._json(body).get("content", "")
        _, errors = _parse_card(content)
        if errors:
            return 400, {"errors": [{"message": e} for e in errors], "warnings": []}, {}
        return 200, {"errors": [], "warnings": []}, {}

    def _create_repo(self, body: bytes) -> tuple[int, Any, dict[str, str]]:
        self._check_auth(True)
        data = self._json(body)
        name, namespace = data.get("name"), data.get("organization") or self.hub.user
        if not name:
            raise HubError(400, "'name' is required")
        repo_type = data.get("type") or "model"
        repo_id = f"{namespace}/{name}"
        sent = data.get("visibility") or {True: "private", False: "public"}.get(data.get("private"))  # older clients
        self.hub.repo_creations.append((repo_id, sent))
        existing = self.hub._repos.get((repo_type, repo_id))
        if existing is not None:
            return 409, {"error": f"You already created this {repo_type} repo", "url": self._url(existing)}, {}
        private = sent == "private"
        repo = self.hub._create_repo(repo_type, repo_id, private)
        return 200, {"url": self._url(repo), "name": repo_id, "id": repo_id}, {}

    def _delete_repo(self, body: bytes) -> tuple[int, Any, dict[str, str]]:
        self._check_auth(True)
        data = self._json(body)
        repo_id = f"{data.get('organization') or self.hub.user}/{data.get('name')}"
        repo = self.hub._get_repo(data.get("type") or "model", repo_id)
        del self.hub._repos[(repo.repo_type, repo.repo_id)]
        return 200, {}, {}

    # ----------------------------------------------------------------- reads

    def _info(self, repo: _Repo, revision: str) -> tuple[int, Any, dict[str, str]]:
        oid = self.hub._resolve(repo, revision)
        commit = repo.commits[oid]
        blobs = self.query.get("blobs", "").lower() in ("1", "true")
        siblings = []
        for path in sorted(commit.files):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling.update(size=len(self.hub._blobs[commit.files[path]]), blobId=commit.files[path])
            siblings.append(sibling)
        card_data: dict[str, Any] = {}
        if "README.md" in commit.files:
            card_data, _ = _parse_card(self.hub._blobs[commit.files["README.md"]].decode("utf-8", "replace"))
        info: dict[str, Any] = {
            "_id": oid[:24], "id": repo.repo_id, "author": repo.repo_id.split("/")[0], "sha": oid,
            "lastModified": commit.date, "createdAt": repo.created_at, "private": repo.private, "gated": False,
            "disabled": False, "downloads": 0, "likes": 0, "tags": list(card_data.get("tags") or []),
            "siblings": siblings, "usedStorage": sum(len(self.hub._blobs[b]) for b in commit.files.values()),
        }  # fmt: skip
        if card_data:
            info["cardData"] = card_data
        if repo.repo_type == "model":
            info["modelId"] = repo.repo_id
            for key in ("library_name", "pipeline_tag"):
                if key in card_data:
                    info[key] = card_data[key]
            if "config.json" in commit.files:
                with contextlib.suppress(ValueError):
                    config = json.loads(self.hub._blobs[commit.files["config.json"]])
                    info["config"] = {k: config[k] for k in ("architectures", "model_type", "auto_map") if k in config}
        return 200, info, {}

    def _tree(self, repo: _Repo, revision: str, path: str) -> tuple[int, Any, dict[str, str]]:
        oid = self.hub._resolve(repo, revision)
        files = repo.commits[oid].files
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        below = {p: b for p, b in files.items() if p.startswith(prefix)}
        if prefix and not below:
            raise HubError(404, f"{path} does not exist on {revision}", "EntryNotFound", {"X-Repo-Commit": oid})
        recursive = self.query.get("recursive", "").lower() in ("1", "true")
        entries: dict[str, dict[str, Any]] = {}
        for file_path, blob in sorted(below.items()):
            parts = file_path[len(prefix) :].split("/")
            for depth in range(1, len(parts)):  # folders on the way
                if depth > 1 and not recursive:
                    break
                folder = prefix + "/".join(parts[:depth])
                folder_oid = hashlib.sha1(f"{oid}:{folder}".encode()).hexdigest()
                entries.setdefault(folder, {"type": "directory", "oid": folder_oid, "size": 0, "path": folder})
            if len(parts) == 1 or recursive:
                size = len(self.hub._blobs[blob])
                entries[file_path] = {"type": "file", "oid": blob, "size": size, "path": file_path}
        return 200, list(entries.values()), {}

    def _refs(self, repo: _Repo) -> tuple[int, Any, dict[str, str]]:
        def refs(kind: str, names: dict[str, str]) -> list[dict[str, str]]:
            return [{"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": o} for n, o in sorted(names.items())]

        return 200, {
            "branches": refs("heads", repo.branches), "converts": [], "tags": refs("tags", repo.tags),
            "pullRequests": [],
        }, {}  # fmt: skip

    def _commits(self, repo: _Repo, revision: str) -> tuple[int, Any, dict[str, str]]:
        history = self.hub._history(repo, self.hub._resolve(repo, revision))
        return 200, [
            {"id": c.oid, "title": c.title, "message": c.message, "authors": [{"user": self.hub.user}], "date": c.date}
            for c in history
        ], {}  # fmt: skip

    def _resolve_file(
        self, method: str, repo_type: str, repo_id: str, revision: str, path: str
    ) -> tuple[int, Any, dict[str, str]]:
        repo = self.hub._get_repo(repo_type, repo_id)
        self._check_auth(False, repo)
        oid = self.hub._resolve(repo, revision)
        blob = repo.commits[oid].files.get(path)
        if blob is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": oid})
        data = self.hub._blobs[blob]
        headers = {"X-Repo-Commit": oid, "ETag": f'"{blob}"', "Accept-Ranges": "bytes",
                   "Content-Disposition": f'inline; filename="{path.rsplit("/", 1)[-1]}"'}  # fmt: skip
        status = 200
        range_header = self.headers.get("Range", "")
        if method == "GET" and range_header.startswith("bytes="):
            start_s, _, end_s = range_header[len("bytes=") :].partition("-")
            start, end = int(start_s or 0), int(end_s) if end_s else len(data) - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data, status = data[start : end + 1], 206
        headers["Content-Length"] = str(len(data))
        return status, data, headers

    # ----------------------------------------------------------------- writes

    def _branch_head(self, repo: _Repo, revision: str) -> str:
        if revision not in repo.branches:
            raise HubError(404, f"Invalid rev id: {revision} (commits go to a branch)", "RevisionNotFound")
        return repo.branches[revision]

    def _preupload(self, repo: _Repo, revision: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        head = self._branch_head(repo, revision)
        files = repo.commits[head].files
        answer = [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": files.get(f["path"])}
            for f in self._json(body).get("files", [])
        ]
        return 200, {"files": answer, "commitOid": head}, {}

    def _commit(self, repo: _Repo, revision: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        hub = self.hub
        if hub.drop_commits > 0:
            hub.drop_commits -= 1
            raise _DropConnection
        if hub.refuse_commits is not None:
            raise HubError(hub.refuse_commits, "hub_server refuses commits (refuse_commits is set)")
        if self.query.get("create_pr"):
            raise HubError(400, "hub_server does not implement pull requests (create_pr)")
        head = self._branch_head(repo, revision)
        files = dict(repo.commits[head].files)
        header: dict[str, Any] = {}
        for number, line in enumerate(body.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                key, value = item["key"], item["value"]
            except (ValueError, KeyError, TypeError) as exc:
                raise HubError(400, f"commit payload line {number} is not a {{key, value}} JSON object") from exc
            if key == "header":
                header = value
            elif key == "file":
                content = value["content"]
                data = base64.b64decode(content) if value.get("encoding") == "base64" else content.encode()
                blob = git_blob_oid(data)
                hub._blobs[blob] = data
                files[value["path"]] = blob
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    raise HubError(404, f"A file with this name doesn't exist: {value['path']}", "EntryNotFound")
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                for path in [p for p in files if p.startswith(folder)]:
                    del files[path]
            elif key == "lfsFile":
                raise HubError(400, f"hub_server stores no LFS objects (line {number}: {value.get('path')})")
            else:
                raise HubError(400, f"commit payload line {number}: unknown key {key!r}")
        parent = header.get("parentCommit")
        if parent is not None and parent != head:
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        summary = header.get("summary") or ""
        if not summary:
            raise HubError(400, "commit summary is required")
        oid = hub._new_commit(repo, head, files, summary, header.get("description") or "")
        repo.branches[revision] = oid
        if hub.lose_commit_responses > 0:
            hub.lose_commit_responses -= 1
            raise _DropConnection
        return 200, {"success": True, "commitOid": oid, "commitUrl": f"{self._url(repo)}/commit/{oid}",
                     "hookOutput": ""}, {}  # fmt: skip

    def _ref_write(
        self, repo: _Repo, method: str, kind: str, name: str, body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        refs = repo.tags if kind == "tag" else repo.branches
        if method == "DELETE":
            if refs.pop(name, None) is None:
                raise HubError(404, f"Invalid rev id: {name}", "RevisionNotFound")
            return 200, {}, {}
        data = self._json(body)
        if kind == "tag":  # POST .../tag/{revision} with {"tag": name}
            new_name, target = data.get("tag"), self.hub._resolve(repo, name)
            if not new_name:
                raise HubError(400, "'tag' is required")
        else:  # POST .../branch/{branch} with {"startingPoint": revision}
            new_name = name
            target = self.hub._resolve(repo, data.get("startingPoint") or "main")
        if new_name in refs:
            raise HubError(409, "Reference already exists")
        refs[new_name] = target
        return 200, {}, {}


@contextlib.contextmanager
def running_hub_server(
    *, require_token: bool = False, token: str = DEFAULT_TOKEN, user: str = DEFAULT_USER
) -> Iterator[HubServer]:
    """Start a [`HubServer`] on 127.0.0.1 (ephemeral port) for the duration of the `with` block.

    Example:
        ```python
        with running_hub_server(require_token=True) as hub:
            env = hub_client_env(hub.endpoint, tmp_path / "hf_home", token=hub.token)
        ```
    """
    hub = HubServer(require_token=require_token, token=token, user=user).start()
    try:
        yield hub
    finally:
        hub.stop()


# ----------------------------------------------------------------------------- pointing the real client at it

# Environment variables that would make a client process use another cache, token or Hub than the one we set.
_CLIENT_ENV_DROP = (
    "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ASSETS_CACHE",
    "HUGGINGFACE_ASSETS_CACHE", "HF_XET_CACHE", "HF_MODULES_CACHE", "TRANSFORMERS_CACHE", "HF_DATASETS_CACHE",
    "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HUGGINGFACE_CO_STAGING", "XDG_CACHE_HOME",
    "PYTHONPATH",
)  # fmt: skip


def hub_client_env(
    endpoint: str, hf_home: str | os.PathLike, *, token: str | None = None, offline: bool = False
) -> dict[str, str]:
    """Environment for a client subprocess: `HF_ENDPOINT`, its own `HF_HOME`, no inherited token/cache/PYTHONPATH.

    `HF_ENDPOINT` is read once when `huggingface_hub` is imported, so a fresh process is the robust way to point the
    client (and transformers' remote-code module cache, which lives under `HF_HOME`) at the server.
    """
    env = {k: v for k, v in os.environ.items() if k not in _CLIENT_ENV_DROP}
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(hf_home),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_UPDATE_CHECK="1",
        TOKENIZERS_PARALLELISM="false",
    )
    if token is not None:
        env["HF_TOKEN"] = token
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def run_hub_client(
    code: str,
    endpoint: str,
    hf_home: str | os.PathLike,
    *,
    token: str | None = None,
    offline: bool = False,
    cwd: str | os.PathLike | None = None,
    timeout: float = 180,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run `python -c code` with [`hub_client_env`]; `cwd` defaults to `hf_home` so the checkout is not importable.

    Raises `RuntimeError` with the process output when it fails and `check` is set.
    """
    Path(hf_home).mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=hub_client_env(endpoint, hf_home, token=token, offline=offline),
        cwd=str(cwd or hf_home),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"hub client subprocess exited with {proc.returncode}\n--- stdout ---\n{proc.stdout[-4000:]}"
            f"\n--- stderr ---\n{proc.stderr[-8000:]}"
        )
    return proc


@contextlib.contextmanager
def patched_hub_client(endpoint: str, hf_home: str | os.PathLike, *, token: str | None = None) -> Iterator[None]:
    """Point the already-imported `huggingface_hub` (and transformers' shared `HfApi`) at `endpoint` in-process.

    Patches the module-level copies made at import time (`constants.ENDPOINT`, `HUGGINGFACE_CO_URL_TEMPLATE`,
    `HF_HUB_OFFLINE`, cache and token paths, the `HfApi` behind `huggingface_hub.create_repo` & co, and
    `transformers.utils.hub._hf_api`) and restores them on exit. Not covered: transformers' remote-code module cache
    (`HF_MODULES_CACHE`, fixed at import and put on `sys.path`): load `trust_remote_code` models in a subprocess.
    """
    from huggingface_hub import constants, hf_api

    hf_home = Path(hf_home)
    restore: list[tuple[Any, str, Any]] = []

    def patch(obj: Any, name: str, value: Any) -> None:
        restore.append((obj, name, getattr(obj, name)))
        setattr(obj, name, value)

    saved_env = {k: os.environ.get(k) for k in ("HF_ENDPOINT", "HF_HOME", "HF_TOKEN", "HF_HUB_OFFLINE")}
    transformers_hub = sys.modules.get("transformers.utils.hub")
    try:
        patch(constants, "ENDPOINT", endpoint)
        patch(constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}")
        patch(constants, "HF_HUB_OFFLINE", False)
        patch(constants, "HF_HOME", str(hf_home))
        patch(constants, "HF_HUB_CACHE", str(hf_home / "hub"))
        patch(constants, "HF_ASSETS_CACHE", str(hf_home / "assets"))
        patch(constants, "HF_TOKEN_PATH", str(hf_home / "token"))
        patch(constants, "HF_STORED_TOKENS_PATH", str(hf_home / "stored_tokens"))
        if hasattr(constants, "AGENT_HARNESSES_PATH"):
            patch(constants, "AGENT_HARNESSES_PATH", str(hf_home / ".agent_harnesses.json"))
        if hasattr(constants, "HF_XET_CACHE"):
            patch(constants, "HF_XET_CACHE", str(hf_home / "xet"))
        patch(hf_api.api, "endpoint", endpoint)
        if transformers_hub is not None and hasattr(transformers_hub, "_hf_api"):
            patch(transformers_hub, "_hf_api", None)  # rebuilt lazily with the patched endpoint
        os.environ.update(HF_ENDPOINT=endpoint, HF_HOME=str(hf_home))
        os.environ.pop("HF_HUB_OFFLINE", None)
        if token is None:
            os.environ.pop("HF_TOKEN", None)
        else:
            os.environ["HF_TOKEN"] = token
        yield
    finally:
        for obj, name, value in reversed(restore):
            setattr(obj, name, value)
        transformers_hub = sys.modules.get("transformers.utils.hub")  # may have been imported inside the block
        if transformers_hub is not None and hasattr(transformers_hub, "_hf_api"):
            transformers_hub._hf_api = None  # drop any instance built against the test endpoint
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
