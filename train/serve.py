"""`helpline-fusion serve`: the model behind an HTTP API (FastAPI on uvicorn) and a page for a case worker.

    helpline-fusion serve --model outputs/quickstart [--revision R] [--host 127.0.0.1] [--port 8000]

Endpoints:
    - `POST /v1/analyze`: `{"text": "..."}` (one transcript) or `{"texts": ["...", ...]}`, optionally `"evidence":
      true`, `"evidence_top_k": n`, `"top_k": n`. Answers `{"result": ...}` or `{"results": [...]}`, exactly what
      `model.predict()` returns, with `model_version`, `request_id` and `batch` (`{id, size, requests, queue_ms,
      predict_ms}`: the predict call the request shared with others).
    - `GET /healthz` (the process answers), `GET /readyz` (503 until the model is loaded), `GET /v1/model` (labels,
      thresholds, version, the card's summary), `GET /v1/stats` (batch and queue counters), `GET /` (the page),
      `GET /docs` and `/openapi.json`.

Errors are JSON `{"error": {"message", "field", "index"}, "request_id"}`: 400 for bad input (naming the field and
the item), 401 for a missing or wrong API key, 413 for a body over `--max-body-bytes` (refused from its
Content-Length before reading it, or as soon as a streamed body passes the limit) or too many transcripts, 503 with
`Retry-After` while the model loads or when the queue is full, 500 without a traceback. The logs hold request ids,
sizes and timings only: never a transcript, never a traceback (uvicorn's access log is replaced by one line per
request without its query string).

The model loads in a background thread (the installed classes, no remote code, as `predict` loads it), so the
server answers `/healthz` and 503s while it loads. Concurrent requests are batched (`serve_batcher.py`). An API key
is required when the environment variable named by `--api-key-env` (default `HELPLINE_FUSION_API_KEY`) is set:
`Authorization: Bearer KEY` or `X-API-Key: KEY` on `/v1/*`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import logging
import os
import secrets
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

try:  # the optional extra `serve`; `main` says how to install it
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse
except ImportError:  # pragma: no cover - exercised by hand
    FastAPI = Request = HTMLResponse = JSONResponse = None

from .predict_cli import MAX_CHARS
from .serve_batcher import Batcher, QueueFull

logger = logging.getLogger(__name__)
access_logger = logging.getLogger(__name__ + ".access")

API_KEY_ENV = "HELPLINE_FUSION_API_KEY"
REQUEST_FIELDS = ("text", "texts", "evidence", "evidence_top_k", "top_k")


@dataclass
class ServeSettings:
    """What `helpline-fusion serve` runs with (each default written once, here)."""

    model: str
    revision: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    max_batch_size: int = 16  # transcripts per predict call
    max_wait_ms: float = 10.0  # how long the oldest request waits for others to share its batch
    max_queue: int = 256  # transcripts waiting; beyond: 503 + Retry-After
    max_items: int = 64  # transcripts per request
    max_body_bytes: int = 4 << 20  # request body limit (a 1,000,000-character transcript fits)
    max_chars: int = MAX_CHARS  # characters per transcript, as `predict --max-chars`
    batch_size: int = 8  # windows per encoder call, as `predict --batch-size`
    precision: str = "auto"  # as `predict --precision`: bf16 where the CPU computes it natively, else fp32
    device: str | None = None
    api_key_env: str = API_KEY_ENV
    api_key: str | None = field(default=None, repr=False)

    def check(self) -> None:
        for name in ("max_batch_size", "max_queue", "max_items", "max_body_bytes", "max_chars", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.max_wait_ms < 0:
            raise ValueError(f"--max-wait-ms must be 0 or more, got {self.max_wait_ms}")
        if self.max_items > self.max_queue:
            raise ValueError(f"--max-items {self.max_items} is over --max-queue {self.max_queue}: such a request "
                             "could never be queued")  # fmt: skip
        if not 0 <= self.port <= 65535:
            raise ValueError(f"--port must be 0-65535, got {self.port}")


class BadRequest(ValueError):
    """Input refused with `status` (400 or 413); `field` and `index` say where."""

    def __init__(self, message: str, field: str | None = None, index: int | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.field, self.index, self.status = field, index, status


# --------------------------------------------------------------------------- the model, loaded in the background
def model_version(name_or_path: str, config: Any, revision: str | None) -> str:
    """A Hub model's commit (what `revision` resolved to); a folder's digest: the sha256 over the file digests its
    `run_manifest.json` lists, else over its config, weights and tokenizer files (read in blocks)."""
    folder = Path(name_or_path)
    if not folder.is_dir():
        commit = getattr(config, "_commit_hash", None)
        return f"{name_or_path}@{commit or revision or 'main'}"
    from .run_folder import MixedRunFolderError, file_sha256, read_manifest

    try:
        files = read_manifest(folder)["files"]
    except MixedRunFolderError:
        names = sorted(path.name for path in folder.iterdir() if path.is_file() and path.suffix in
                       {".json", ".safetensors", ".txt", ".model"})  # fmt: skip
        files = {name: file_sha256(folder / name) for name in names}
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    return f"sha256:{digest[:16]}"


def card_summary(name_or_path: str, revision: str | None) -> dict[str, Any]:
    """The model card's metadata (license, language, base model, tags) and its first paragraph of prose."""
    from huggingface_hub import ModelCard

    folder = Path(name_or_path)
    try:
        card = ModelCard.load(folder / "README.md" if folder.is_dir() else name_or_path)
    except Exception as error:  # a card is a courtesy: a model without one is still served
        return {"summary": None, "unavailable": type(error).__name__}
    paragraphs = [p.strip() for p in card.text.split("\n\n") if p.strip() and not p.lstrip().startswith(("#", "<!--"))]
    meta = card.data.to_dict()
    return {"summary": paragraphs[0] if paragraphs else None,
            **{key: meta[key] for key in ("license", "language", "base_model", "tags") if key in meta}}  # fmt: skip


class ModelState:
    """The model and what `/v1/model` says about it; `status` is `loading`, `ready` or `failed`."""

    def __init__(self) -> None:
        self.status, self.error = "loading", None
        self.model = self.tokenizer = None
        self.info: dict[str, Any] = {}
        self.ready = threading.Event()

    def load(self, settings: ServeSettings, loader: Any = None) -> None:
        started = time.monotonic()
        try:
            if loader is None:
                from .predict_cli import load_model

                model, tokenizer = load_model(settings.model, settings.device, revision=settings.revision)
            else:
                model, tokenizer = loader()
            self.info = describe(model, settings)
        except Exception as error:  # said once, in one line; the server stays up, /readyz says failed
            self.status, self.error = "failed", str(error).splitlines()[0] if str(error) else type(error).__name__
            logger.error("the model did not load: %s", self.error)
            self.ready.set()
            return
        self.model, self.tokenizer, self.status = model, tokenizer, "ready"
        logger.info("model %s loaded (version %s) in %.1f s", settings.model, self.info["version"],
                    time.monotonic() - started)  # fmt: skip
        self.ready.set()


def describe(model: Any, settings: ServeSettings) -> dict[str, Any]:
    config = model.config
    return {
        "model": settings.model, "revision": settings.revision,
        "version": model_version(settings.model, config, settings.revision),
        "tasks": list(config.tasks),
        "labels": {"ner_entity_types": list(config.ner_entity_types), "case_heads": dict(config.case_heads),
                   "qa_heads": dict(config.qa_heads)},
        "thresholds": {"critical_priority": config.critical_priority, "critical_threshold": config.critical_threshold,
                       "review_threshold": config.review_threshold, "review_thresholds": dict(config.review_thresholds),
                       "qa_thresholds": dict(config.qa_thresholds), "temperatures": dict(config.temperatures)},
        "window_length": config.window_length, "window_stride": config.window_stride,
        "card": card_summary(settings.model, settings.revision),
        "limits": {key: getattr(settings, key) for key in
                   ("max_batch_size", "max_wait_ms", "max_queue", "max_items", "max_body_bytes", "max_chars")},
    }  # fmt: skip


# --------------------------------------------------------------------------- reading a request
def parse_analyze(body: bytes, settings: ServeSettings) -> tuple[list[str], bool, dict[str, Any]]:
    """`(texts, single, predict options)` from a request body, or `BadRequest` naming the field and the item."""
    from ..data.validation import UnreadableJSON, load_json

    try:
        payload = load_json(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise BadRequest(f"body: not UTF-8 (byte {error.start}); expected a JSON object", "body") from None
    except json.JSONDecodeError as error:
        raise BadRequest(f"body: not valid JSON (line {error.lineno} column {error.colno}: {error.msg})",
                         "body") from None  # fmt: skip
    except UnreadableJSON as error:
        raise BadRequest(f"body: not readable JSON ({error})", "body") from None
    if not isinstance(payload, dict):
        raise BadRequest(f"body: expected a JSON object with 'text' or 'texts', found {_kind(payload)}", "body")
    unknown = sorted(set(payload) - set(REQUEST_FIELDS))
    if unknown:
        raise BadRequest(f"{unknown[0]}: unknown field; expected {', '.join(REQUEST_FIELDS)}", unknown[0])
    if ("text" in payload) == ("texts" in payload):
        raise BadRequest("text: give one transcript in 'text' or a list in 'texts'"
                         + (", not both" if "text" in payload else "; neither is present"), "text")  # fmt: skip
    single = "text" in payload
    if single:
        texts = [_check_text(payload["text"], "text", None, settings)]
    else:
        items = payload["texts"]
        if not isinstance(items, list):
            raise BadRequest(f"texts: expected a list of transcripts, found {_kind(items)}", "texts")
        if not items:
            raise BadRequest("texts: an empty list; expected at least one transcript", "texts")
        if len(items) > settings.max_items:
            raise BadRequest(f"texts: {len(items)} transcripts, over the limit of {settings.max_items} per request "
                             "(--max-items); send them in several requests", "texts", status=413)  # fmt: skip
        texts = [_check_text(item, f"texts[{i}]", i, settings) for i, item in enumerate(items)]
    options: dict[str, Any] = {"top_k": _whole(payload, "top_k", 3)}
    evidence = payload.get("evidence", False)
    if not isinstance(evidence, bool):
        raise BadRequest(f"evidence: expected true or false, found {_kind(evidence)}", "evidence")
    if evidence:
        options.update(evidence=True, evidence_top_k=_whole(payload, "evidence_top_k", None))
    elif "evidence_top_k" in payload:
        raise BadRequest("evidence_top_k: given without \"evidence\": true", "evidence_top_k")
    return texts, single, options


def _check_text(value: Any, where: str, index: int | None, settings: ServeSettings) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{where}: expected a transcript string, found {_kind(value)}", where, index)
    if not value.strip():
        raise BadRequest(f"{where}: empty; expected a transcript", where, index)
    if len(value) > settings.max_chars:
        raise BadRequest(f"{where}: {len(value):,} characters, over the limit of {settings.max_chars:,} "
                         "(--max-chars)", where, index, status=413)  # fmt: skip
    return value


def _whole(payload: dict[str, Any], name: str, default: int | None) -> int | None:
    value = payload.get(name, default)
    if value is default:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise BadRequest(f"{name}: expected a whole number from 1 to 100, found {_kind(value)}", name)
    return value


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), f"the number {value}" if isinstance(value, (int, float)) else type(value).__name__)


def check_length(request: Any, limit: int) -> None:
    """413 for a declared Content-Length over `limit`, before a byte of the body is read."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length: not a number", "Content-Length")
        if int(declared) > limit:
            raise BadRequest(f"body: {int(declared):,} bytes, over the limit of {limit:,} (--max-body-bytes)",
                             "body", status=413)  # fmt: skip


async def read_body(request: Any, limit: int) -> bytes:
    """The body, refused (413) from its Content-Length before reading, or as soon as a streamed body passes
    `limit`."""
    check_length(request, limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"body: over the limit of {limit:,} bytes (--max-body-bytes)", "body", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


# --------------------------------------------------------------------------- the application
def create_app(settings: ServeSettings, loader: Any = None) -> Any:
    """The ASGI application: FastAPI inside [`RequestLog`]. The model loads in a thread once the server starts
    (`loader()` -> `(model, tokenizer)` replaces `load_model` in tests)."""
    settings.check()
    state = ModelState()
    holder: dict[str, Batcher] = {}
    app = FastAPI(title="helpline-fusion", version=_package_version(),
                  lifespan=_lifespan(settings, state, holder, loader),
                  description="Entities, case labels, call-quality scores and a review flag for helpline "
                  "transcripts. No transcript is stored or logged.")  # fmt: skip
    app.state.model_state, app.state.settings = state, settings
    _add_status_routes(app, settings, state, holder)
    _add_analyze_route(app, settings, state, holder)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE(), headers={"Cache-Control": "no-store", "Content-Security-Policy": PAGE_CSP})

    return RequestLog(app)


def _lifespan(settings: ServeSettings, state: ModelState, holder: dict[str, Batcher], loader: Any) -> Any:
    """The app's lifespan: start the batcher and the model's loading thread, stop the batcher on shutdown."""
    from contextlib import asynccontextmanager

    def predict(texts: list[str], **options: Any) -> list[dict[str, Any]]:
        return state.model.predict(texts, state.tokenizer, batch_size=settings.batch_size,
                                   precision=settings.precision, **options)  # fmt: skip

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher = holder["batcher"] = Batcher(predict, settings.max_batch_size, settings.max_wait_ms,
                                              settings.max_queue)  # fmt: skip
        threading.Thread(target=state.load, args=(settings, loader), name="helpline-model-load", daemon=True).start()
        task = asyncio.create_task(batcher.run())
        try:
            yield
        finally:
            task.cancel()
            batcher.shutdown()

    return lifespan


def _error(status: int, message: str, request: Request, field: str | None = None, index: int | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    """The JSON error body `{"error": {message, field, index}, "request_id"}`, never cached."""
    body = {"error": {"message": message, "field": field, "index": index}, "request_id": _request_id(request)}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})


def _not_ready(state: ModelState, request: Request) -> JSONResponse:
    """503 while the model loads (with Retry-After), or naming why it did not load."""
    if state.status == "failed":
        return _error(503, f"the model did not load: {state.error}", request)
    return _error(503, "the model is loading; retry shortly", request, headers={"Retry-After": "1"})


def _refused_key(settings: ServeSettings, request: Request) -> JSONResponse | None:
    """401 for a missing or wrong API key when one is set, else None."""
    if not settings.api_key:
        return None
    given = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
    if hmac.compare_digest(given.encode(), settings.api_key.encode()):
        return None
    return _error(401, f"missing or wrong API key (send 'Authorization: Bearer <key>'; the key is in "
                  f"{settings.api_key_env})", request, headers={"WWW-Authenticate": "Bearer"})  # fmt: skip


def _add_status_routes(app: Any, settings: ServeSettings, state: ModelState, holder: dict[str, Batcher]) -> None:
    """The 500 handler and the routes that report on the server: `/healthz`, `/readyz`, `/v1/model`, `/v1/stats`."""

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:  # the type only: a message may quote input
        logger.error("request %s: internal error (%s)", _request_id(request), type(exc).__name__)
        return _error(500, "internal error; the server log names it by this request id", request)

    @app.get("/healthz", summary="The process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="The model is loaded (503 until then)")
    async def readyz(request: Request) -> Any:
        if state.status != "ready":
            return _not_ready(state, request)
        return {"status": "ready", "model_version": state.info["version"]}

    @app.get("/v1/model", summary="Labels, thresholds, version and the card's summary")
    async def model_info(request: Request) -> Any:
        refused = _refused_key(settings, request)
        if refused is not None:
            return refused
        return state.info if state.status == "ready" else _not_ready(state, request)

    @app.get("/v1/stats", summary="Batch and queue counters since start")
    async def stats(request: Request) -> Any:
        refused = _refused_key(settings, request)
        if refused is not None:
            return refused
        batcher = holder["batcher"]
        return {**batcher.stats, "queued": batcher.queued, "model_status": state.status}


def _add_analyze_route(app: Any, settings: ServeSettings, state: ModelState, holder: dict[str, Batcher]) -> None:
    """`POST /v1/analyze`: check the key and the body, queue the transcripts, answer with their batch's results."""

    @app.post("/v1/analyze", summary="Analyse one transcript or a list", openapi_extra=ANALYZE_OPENAPI)
    async def analyze(request: Request) -> Any:
        refused = _refused_key(settings, request)
        if refused is not None:
            return refused
        rid = _request_id(request)
        try:
            check_length(request, settings.max_body_bytes)  # an oversized body is refused unread, even while loading
            if state.status != "ready":
                return _not_ready(state, request)
            texts, single, options = parse_analyze(await read_body(request, settings.max_body_bytes), settings)
        except BadRequest as bad:
            logger.info("request %s: refused %d (%s)", rid, bad.status, _loggable(bad.field))
            return _error(bad.status, str(bad), request, bad.field, bad.index)
        try:
            job = holder["batcher"].submit(rid, texts, options)
        except QueueFull:
            logger.info("request %s: queue full (%d transcripts waiting)", rid, holder["batcher"].queued)
            return _error(503, "the queue is full; retry after a moment", request, headers={"Retry-After": "1"})
        logger.info("request %s: %d transcripts, %s characters", rid, len(texts), _lengths(texts))
        outcome = await _unless_disconnected(request, job, holder["batcher"])
        if outcome is None:
            logger.info("request %s: client disconnected", rid)
            return _error(499, "client disconnected", request)
        results, info = outcome
        logger.info("request %s: batch %d (size %d, %d requests), queued %.0f ms, predict %.0f ms", rid, info.id,
                    info.size, info.requests, info.queue_ms, info.predict_ms)  # fmt: skip
        body = {"request_id": rid, "model_version": state.info["version"], "batch": info.as_dict(),
                **({"result": results[0]} if single else {"results": results})}  # fmt: skip
        return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def _unless_disconnected(request: Any, job: Any, batcher: Batcher) -> tuple[list[dict[str, Any]], Any] | None:
    """The job's outcome, or None when the client disconnects first (the job is then cancelled: it leaves the
    queue, or its results are dropped)."""
    async def watch() -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                return

    watcher = asyncio.ensure_future(watch())
    try:
        done, _ = await asyncio.wait({job.future, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if job.future in done:
        return job.future.result()
    batcher.abandon(job)
    return None


def _loggable(field: str | None) -> str:
    """A refused field's name for the log: one of ours, or "an unknown field" (a name the client chose is input)."""
    if field is None or field in (*REQUEST_FIELDS, "body", "Content-Length"):
        return str(field)
    return field if field.startswith("texts[") and field[6:-1].isdigit() else "an unknown field"


def _lengths(texts: list[str]) -> str:
    return ", ".join(str(len(text)) for text in texts[:8]) + (f", ... ({len(texts)} in all)" if len(texts) > 8 else "")


def _request_id(request: Any) -> str:
    return request.scope.get("state", {}).get("request_id") or request.scope.get("request_id", "-")


class RequestLog:
    """The outermost ASGI layer: a request id per request (`X-Request-ID` on the response), one access-log line
    (method, the path without its query when it is one of the app's routes, status, bytes, milliseconds), and no exception ever reaching uvicorn (which
    would log a traceback): after a 500 the error is swallowed here."""

    def __init__(self, app: Any) -> None:
        self.app, self._ids = app, itertools.count(1)
        self._prefix = secrets.token_hex(3)
        self._paths = {getattr(route, "path", None) for route in getattr(app, "routes", [])}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = f"{self._prefix}-{next(self._ids)}"
        scope.setdefault("state", {})["request_id"] = rid
        started, sent = time.monotonic(), {"status": None, "bytes": 0}

        async def send_logged(message: dict) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            elif message["type"] == "http.response.body":
                sent["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        except Exception as error:  # never a traceback in the log: a message or traceback may quote the input
            if sent["status"] is None:
                await send_logged({"type": "http.response.start", "status": 500,
                                   "headers": [(b"content-type", b"application/json")]})  # fmt: skip
                await send_logged({"type": "http.response.body", "body": json.dumps(
                    {"error": {"message": "internal error", "field": None, "index": None}, "request_id": rid}
                ).encode()})  # fmt: skip
            logger.error("request %s: %s after the response started", rid, type(error).__name__)
        finally:
            path = scope["path"] if scope["path"] in self._paths else "(another path)"  # a path may be input
            access_logger.info("%s %s %s %s %d bytes %.1f ms", rid, scope["method"], path,
                               sent["status"], sent["bytes"], (time.monotonic() - started) * 1000)  # fmt: skip


ANALYZE_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "text": {"type": "string", "description": "one transcript (or use texts)"},
                "texts": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                          "description": "a list of transcripts"},
                "evidence": {"type": "boolean", "default": False,
                             "description": "add each decision's evidence spans"},
                "evidence_top_k": {"type": "integer", "minimum": 1, "maximum": 100},
                "top_k": {"type": "integer", "minimum": 1, "maximum": 100, "default": 3},
            },
            "example": {"text": "Counsellor: Child helpline, how can I help? Caller: ..."},
        }}},
    },
    "responses": {
        "400": {"description": "bad input: `error.field` and `error.index` say where"},
        "401": {"description": "missing or wrong API key"},
        "413": {"description": "body over --max-body-bytes, or too many or too long transcripts"},
        "503": {"description": "the model is loading or the queue is full (see Retry-After)"},
    },
}  # fmt: skip

PAGE_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
            "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")  # fmt: skip


def PAGE() -> str:  # noqa: N802 - read from package data once
    global _PAGE
    if _PAGE is None:
        _PAGE = resources.files("helpline_fusion.train").joinpath("serve_page.html").read_text(encoding="utf-8")
    return _PAGE


_PAGE: str | None = None


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("helpline-fusion")
    except PackageNotFoundError:  # pragma: no cover
        return "0"


# --------------------------------------------------------------------------- the command
def build_parser() -> argparse.ArgumentParser:
    defaults = ServeSettings(model="")
    parser = argparse.ArgumentParser(prog="helpline-fusion serve",
                                     description="Serve a saved model over HTTP, with a page for a case worker.")
    parser.add_argument("--model", required=True, help="a saved model folder or a Hub id (installed classes only)")
    parser.add_argument("--revision", default=None, help="Hub revision of --model: a tag, branch or commit")
    parser.add_argument("--host", default=defaults.host, help=f"address to listen on (default {defaults.host})")
    parser.add_argument("--port", type=int, default=defaults.port, help=f"port (default {defaults.port})")
    for name, help_ in (("max_batch_size", "transcripts per predict call"),
                        ("max_queue", "transcripts waiting before 503 + Retry-After"),
                        ("max_items", "transcripts per request"), ("max_body_bytes", "request body limit, bytes"),
                        ("max_chars", "characters per transcript"), ("batch_size", "windows per encoder call")):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name),
                            help=f"{help_} (default {getattr(defaults, name):,})")  # fmt: skip
    parser.add_argument("--max-wait-ms", type=float, default=defaults.max_wait_ms,
                        help=f"how long a request waits to share a batch (default {defaults.max_wait_ms:g})")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default=defaults.precision,
                        help="auto (bf16 where this CPU computes it natively, else fp32), fp32 or bf16")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    parser.add_argument("--api-key-env", default=API_KEY_ENV,
                        help=f"environment variable holding the API key; none set: no key (default {API_KEY_ENV})")
    return parser


def main(argv: list[str] | None = None) -> int:
    from .sources import check_model_folder

    args = vars(build_parser().parse_args(argv))
    try:
        import uvicorn
    except ImportError:
        uvicorn = None
    if uvicorn is None or FastAPI is None:
        print("helpline-fusion serve: needs FastAPI and uvicorn: pip install 'helpline-fusion[serve]'", file=sys.stderr)
        return 2
    settings = ServeSettings(**args)
    settings.api_key = os.environ.get(settings.api_key_env) or None
    try:
        settings.check()
        check_model_folder(settings.model)
    except ValueError as error:
        print(f"helpline-fusion serve: {error}", file=sys.stderr)
        return 2
    if settings.api_key is None and settings.host not in {"127.0.0.1", "localhost", "::1"}:
        logger.warning("serving on %s without an API key: anyone who reaches this address can send transcripts; "
                       "set %s", settings.host, settings.api_key_env)  # fmt: skip
    logging.getLogger("uvicorn.access").disabled = True  # RequestLog writes the access log, without query strings
    config = uvicorn.Config(create_app(settings), host=settings.host, port=settings.port, access_log=False,
                            log_config=None, server_header=False, timeout_graceful_shutdown=10)  # fmt: skip
    server = uvicorn.Server(config)
    state: ModelState = config.app.app.state.model_state

    def stop_if_failed() -> None:  # a model that cannot load is the command's error (exit 2), not a server up forever
        state.ready.wait()
        if state.status == "failed":
            server.should_exit = True

    threading.Thread(target=stop_if_failed, name="helpline-load-watch", daemon=True).start()
    logger.info("serving %s on http://%s:%d (settings %s)", settings.model, settings.host, settings.port,
                {k: v for k, v in asdict(settings).items() if k not in {"api_key", "model"}})  # fmt: skip
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn shut down gracefully, then re-raised Ctrl-C: a normal stop
        pass
    if state.status == "failed":
        print(f"helpline-fusion serve: {state.error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
