"""`helpline-fusion serve`: a real uvicorn server on 127.0.0.1 (a free port, started and stopped by each test) and a
real HTTP client. Every status code, batching, the bounded queue, a client that disconnects, logs without
transcripts, and the command itself."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install -e '.[serve]'")
uvicorn = pytest.importorskip("uvicorn", reason="the serve extra is not installed: pip install -e '.[serve]'")
httpx = pytest.importorskip("httpx", reason="the serve extra is not installed: pip install -e '.[serve]'")

from helpline_fusion.train.serve import ServeSettings, create_app, main, model_version  # noqa: E402

CANARY = "zanzibarquokka"  # a word no log line may ever hold
TEXTS = [
    "my name is amina from kisumu town and the child is 12 years old",
    "he is calling about the child . danger",
    "routine call about school",
    "the child is in danger from his old town",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """uvicorn serving `create_app(settings, loader)` in a thread of the test process, on 127.0.0.1."""

    def __init__(self, settings: ServeSettings, loader=None) -> None:
        self.app = create_app(settings, loader)
        self.state = self.app.app.state.model_state
        config = uvicorn.Config(self.app, host="127.0.0.1", port=settings.port, access_log=False, log_config=None,
                                lifespan="on")  # fmt: skip
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{settings.port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the server did not start"
            time.sleep(0.01)
        self.client = httpx.Client(base_url=self.url, timeout=60)
        return self

    def __exit__(self, *exc) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(15)
        assert not self.thread.is_alive(), "the server did not stop"

    def wait_ready(self, timeout: float = 60) -> None:
        assert self.state.ready.wait(timeout), "the model did not load"
        assert self.state.status == "ready", self.state.error

    def stats(self) -> dict:
        return self.client.get("/v1/stats").json()

    def wait_for(self, predicate, timeout: float = 20) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if predicate(stats):
                return stats
            assert time.monotonic() < deadline, f"timed out waiting; stats {stats}"
            time.sleep(0.02)


def settings(**overrides) -> ServeSettings:
    return ServeSettings(**{"model": "unused", "port": free_port(), **overrides})


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def model(model_dir):
    from helpline_fusion.modeling_attention_fusion import AttentionFusionModel

    return AttentionFusionModel.from_pretrained(model_dir).eval()


class Gate:
    """Wraps `model.predict`: each call says it started (`entered`) and waits until the gate opens."""

    def __init__(self, model, fail_on: str | None = None) -> None:
        self.model, self.fail_on = model, fail_on
        self.open, self.entered, self.calls = threading.Event(), threading.Event(), []

    def predict(self, texts, tokenizer, **options):
        self.calls.append(list(texts))
        self.entered.set()
        assert self.open.wait(30), "the test never opened the gate"
        if self.fail_on is not None and any(self.fail_on in text for text in texts):
            raise ValueError(f"cannot analyse {texts}")  # a message quoting the input: must reach no log
        return type(self.model).predict(self.model, texts, tokenizer, **options)


def gated_loader(model, tokenizer, gate: Gate):
    class Wrapped:
        config = model.config
        predict = staticmethod(gate.predict)

    return lambda: (Wrapped(), tokenizer)


def raw_request(port: int, head: str, body: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head.encode() + body)
    return sock


def read_status(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]), data


@contextmanager
def running(**overrides):
    loader = overrides.pop("loader", None)
    with Server(settings(**overrides), loader) as server:
        yield server


# --------------------------------------------------------------------------- 200: what predict returns
def test_analyze_returns_what_predict_returns(model_dir, model, tokenizer):
    with running(model=str(model_dir)) as server:  # the real loader: installed classes, no remote code
        server.wait_ready()
        assert server.client.get("/healthz").json() == {"status": "ok"}
        assert server.client.get("/readyz").status_code == 200
        one = server.client.post("/v1/analyze", json={"text": TEXTS[0]})
        many = server.client.post("/v1/analyze", json={"texts": TEXTS, "evidence": True, "evidence_top_k": 2})
        info = server.client.get("/v1/model").json()
    assert one.status_code == 200 and many.status_code == 200
    assert one.headers["cache-control"] == "no-store" and one.headers["x-request-id"] == one.json()["request_id"]
    direct = json.loads(json.dumps(model.predict(TEXTS[0], tokenizer, precision="auto")))
    assert one.json()["result"] == direct
    evidence = json.loads(json.dumps(model.predict(TEXTS, tokenizer, precision="auto", evidence=True,
                                                   evidence_top_k=2)))  # fmt: skip
    assert many.json()["results"] == evidence and len(many.json()["results"]) == 4
    assert all(len(decision["evidence"]) <= 2 for decision in evidence[0]["case"].values())
    version = model_version(str(model_dir), model.config, None)
    assert version.startswith("sha256:") and one.json()["model_version"] == version == info["version"]
    assert many.json()["batch"]["size"] == 4 and many.json()["batch"]["requests"] == 1
    assert info["labels"]["case_heads"] == model.config.case_heads
    assert info["thresholds"]["critical_threshold"] == model.config.critical_threshold
    assert set(info["card"]) >= {"summary"} and info["limits"]["max_batch_size"] == 16


def test_model_version_reuses_the_run_manifest(tmp_path, model):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    without = model_version(str(folder), model.config, None)
    (folder / "run_manifest.json").write_text(json.dumps({"run_id": "r1", "files": {"config.json": "ab" * 32}}))
    with_manifest = model_version(str(folder), model.config, None)
    assert without != with_manifest and with_manifest.startswith("sha256:")
    model.config._commit_hash = "0123abcd" * 5
    try:
        assert model_version("org/helpline-fusion", model.config, "v1.2.0") == "org/helpline-fusion@" + "0123abcd" * 5
    finally:
        del model.config._commit_hash


# --------------------------------------------------------------------------- 400, 413, 401
BAD = [
    (b'{"text": ', "body", None, "not valid JSON"),
    (b"\xff\xfe", "body", None, "not UTF-8"),
    (b'["a call"]', "body", None, "expected a JSON object"),
    (b"{}", "text", None, "neither is present"),
    (b'{"text": "a", "texts": ["b"]}', "text", None, "not both"),
    (b'{"text": 12}', "text", None, "expected a transcript string, found the number 12"),
    (b'{"text": "   "}', "text", None, "empty"),
    (b'{"texts": []}', "texts", None, "an empty list"),
    (b'{"texts": "a call"}', "texts", None, "expected a list of transcripts, found a string"),
    (b'{"texts": ["a call", null, "b"]}', "texts[1]", 1, "found null"),
    (b'{"texts": ["a call", {"text": "b"}]}', "texts[1]", 1, "found an object"),
    (b'{"text": "a call", "evidnce": true}', "evidnce", None, "unknown field"),
    (b'{"text": "a call", "evidence": "yes"}', "evidence", None, "expected true or false"),
    (b'{"text": "a call", "evidence_top_k": 2}', "evidence_top_k", None, "without"),
    (b'{"text": "a call", "top_k": 0}', "top_k", None, "whole number from 1 to 100"),
    (b'{"text": ' + b"[" * 200 + b"]" * 200 + b"}", "body", None, "nested more than"),
]


def test_bad_input_is_400_naming_the_field_and_item(model, tokenizer):
    with running(loader=lambda: (model, tokenizer)) as server:
        server.wait_ready()
        for body, field, index, words in BAD:
            response = server.client.post("/v1/analyze", content=body, headers={"content-type": "application/json"})
            assert response.status_code == 400, (body, response.text)
            error = response.json()["error"]
            assert (error["field"], error["index"]) == (field, index) and words in error["message"], (body, error)
            assert "Traceback" not in response.text
        assert server.stats()["batches"] == 0  # nothing bad reached the model
        assert server.client.get("/v1/nothing").status_code == 404


def test_too_large_is_413_before_the_body_is_read(model, tokenizer):
    with running(loader=lambda: (model, tokenizer), max_body_bytes=1 << 20, max_items=3, max_chars=500) as server:
        server.wait_ready()
        port = int(server.url.rsplit(":", 1)[1])
        # 10 MB declared: refused from Content-Length while the client is still sending
        body = b'{"text": "' + b"a" * (10 << 20) + b'"}'
        sock = raw_request(port, f"POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {len(body)}\r\n\r\n")  # fmt: skip
        sender = threading.Thread(target=lambda: _send_quietly(sock, body), daemon=True)
        started = time.perf_counter()
        sender.start()
        status, head = read_status(sock)
        elapsed = time.perf_counter() - started
        sock.close()
        assert status == 413 and elapsed < 0.1, (status, elapsed)
        # no Content-Length (chunked): refused as soon as the stream passes the limit, not after reading it all
        sock = raw_request(port, "POST /v1/analyze HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        sent, status = 0, None
        sock.settimeout(0.05)
        while status is None and sent < 8 << 20:
            piece = b"a" * 65536
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
                status, _ = read_status(sock)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                sock.settimeout(5)
                status, _ = read_status(sock)
        sock.close()
        assert status == 413 and (1 << 20) < sent < (3 << 20), (status, sent)
        many = server.client.post("/v1/analyze", json={"texts": ["a call"] * 4})
        long = server.client.post("/v1/analyze", json={"texts": ["a call", "b" * 501]})
        assert many.status_code == 413 and many.json()["error"]["field"] == "texts"
        assert long.status_code == 413 and long.json()["error"]["index"] == 1
        assert server.client.post("/v1/analyze", json={"text": "a call"}).status_code == 200  # still serving


def _send_quietly(sock: socket.socket, body: bytes) -> None:
    try:
        sock.sendall(body)
    except OSError:
        pass  # the server answered 413 and closed: the rest of the body is not wanted


def test_api_key_when_configured(model, tokenizer):
    with running(loader=lambda: (model, tokenizer), api_key="k3y-for-tests") as server:
        server.wait_ready()
        assert server.client.post("/v1/analyze", json={"text": "a call"}).status_code == 401
        wrong = server.client.post("/v1/analyze", json={"text": "a call"}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert server.client.get("/v1/model").status_code == 401
        good = server.client.post("/v1/analyze", json={"text": "a call"}, headers={"Authorization": "Bearer k3y-for-tests"})
        assert good.status_code == 200
        assert server.client.get("/v1/model", headers={"X-API-Key": "k3y-for-tests"}).status_code == 200
        assert server.client.get("/healthz").status_code == 200 and server.client.get("/readyz").status_code == 200


# --------------------------------------------------------------------------- 503: loading, failed, a full queue
def test_503_while_the_model_loads_then_200(model, tokenizer):
    release = threading.Event()

    def slow_loader():
        assert release.wait(30)
        return model, tokenizer

    with running(loader=slow_loader) as server:
        started = time.perf_counter()
        assert server.client.get("/healthz").status_code == 200
        ready = server.client.get("/readyz")
        during = server.client.post("/v1/analyze", json={"text": "a call"})
        info = server.client.get("/v1/model")
        assert time.perf_counter() - started < 5  # answered during the load, no hang
        assert ready.status_code == 503 and ready.headers["retry-after"] == "1"
        assert during.status_code == 503 and during.headers["retry-after"] == "1" and info.status_code == 503
        assert server.client.get("/").status_code == 200  # the page is there before the model
        release.set()
        server.wait_ready()
        assert server.client.get("/readyz").json()["status"] == "ready"
        assert server.client.post("/v1/analyze", json={"text": "a call"}).status_code == 200


def test_a_model_that_fails_to_load_is_said_and_503(caplog):
    def broken():
        raise ValueError("--model /nowhere: cannot load a model and tokenizer from it (no config.json)")

    with running(loader=broken) as server:
        assert server.state.ready.wait(10)
        response = server.client.get("/readyz")
    assert response.status_code == 503 and "did not load" in response.json()["error"]["message"]
    assert "cannot load a model" in caplog.text and "Traceback" not in caplog.text


def test_full_queue_is_503_with_retry_after_and_the_rest_served(model, tokenizer):
    gate = Gate(model)
    with running(loader=gated_loader(model, tokenizer, gate), max_queue=2, max_items=2, max_batch_size=1,
                 max_wait_ms=0) as server:  # fmt: skip
        server.wait_ready()
        results: dict[int, httpx.Response] = {}

        def send(i: int) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                results[i] = client.post("/v1/analyze", json={"text": TEXTS[i]})

        threads = [threading.Thread(target=send, args=(0,))]
        threads[0].start()
        assert gate.entered.wait(10)  # request 0 is in the encoder, held there
        for i in (1, 2):
            threads.append(threading.Thread(target=send, args=(i,)))
            threads[-1].start()
        server.wait_for(lambda stats: stats["queued"] == 2)
        full = server.client.post("/v1/analyze", json={"text": TEXTS[3]})
        assert full.status_code == 503 and full.headers["retry-after"] == "1"
        assert "queue is full" in full.json()["error"]["message"]
        gate.open.set()
        for thread in threads:
            thread.join(30)
        assert [results[i].status_code for i in range(3)] == [200, 200, 200]
        assert server.stats()["queue_full"] == 1


# --------------------------------------------------------------------------- batching
def test_concurrent_requests_share_one_predict_call(model, tokenizer):
    gate = Gate(model)
    gate.open.set()
    with running(loader=gated_loader(model, tokenizer, gate), max_batch_size=4, max_wait_ms=2000) as server:
        server.wait_ready()
        barrier, responses = threading.Barrier(4), {}

        def send(i: int) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                barrier.wait()
                responses[i] = client.post("/v1/analyze", json={"text": TEXTS[i]})

        threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        stats = server.stats()
    batches = [responses[i].json()["batch"] for i in range(4)]
    # four requests within the 2 s wait fill a batch of 4: one predict call for all
    assert {batch["id"] for batch in batches} == {1} and all(b["size"] == 4 and b["requests"] == 4 for b in batches)
    assert len(gate.calls) == 1 and sorted(gate.calls[0]) == sorted(TEXTS)
    assert stats["batches"] == 1 and stats["transcripts"] == 4 and stats["requests"] == 4
    batched = dict(zip(gate.calls[0], json.loads(json.dumps(model.predict(gate.calls[0], tokenizer, precision="auto")))))
    for i in range(4):
        assert responses[i].json()["result"] == batched[TEXTS[i]]  # each request got its own transcript's result


def test_requests_with_other_options_do_not_share_a_batch(model, tokenizer):
    gate = Gate(model)
    gate.open.set()
    with running(loader=gated_loader(model, tokenizer, gate), max_batch_size=2, max_wait_ms=300) as server:
        server.wait_ready()
        out = {}
        threads = [threading.Thread(target=lambda i=i, body=body: out.update({i: httpx.post(
            server.url + "/v1/analyze", json=body, timeout=60)})) for i, body in
            enumerate([{"text": TEXTS[0]}, {"text": TEXTS[1], "evidence": True}])]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert out[0].json()["batch"]["id"] != out[1].json()["batch"]["id"]
    assert "evidence" in out[1].json()["result"]["case"]["priority"]
    assert "evidence" not in out[0].json()["result"]["case"]["priority"]


# --------------------------------------------------------------------------- disconnects, failures, logs
def test_a_disconnecting_client_stalls_nothing(model, tokenizer, caplog):
    caplog.set_level("INFO")
    gate = Gate(model)
    with running(loader=gated_loader(model, tokenizer, gate), max_batch_size=1, max_wait_ms=0) as server:
        server.wait_ready()
        port = int(server.url.rsplit(":", 1)[1])
        body = json.dumps({"text": TEXTS[0]}).encode()
        head = f"POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        running_one = raw_request(port, head, body)  # taken into the encoder, then abandoned
        assert gate.entered.wait(10)
        queued_one = raw_request(port, head, body)  # waiting in the queue, then abandoned
        server.wait_for(lambda stats: stats["queued"] == 1)
        running_one.close()
        queued_one.close()
        server.wait_for(lambda stats: stats["queued"] == 0 and stats["dropped_disconnected"] >= 1)
        gate.open.set()
        stats = server.wait_for(lambda stats: stats["dropped_disconnected"] == 2)
        started = time.perf_counter()
        after = server.client.post("/v1/analyze", json={"text": TEXTS[1]})
        assert after.status_code == 200 and time.perf_counter() - started < 10
        assert len(gate.calls) == 2  # the abandoned queued request never reached the model
    assert stats["batches"] == 1 and "client gone before its batch ran" in caplog.text
    assert "client gone while its batch ran" in caplog.text


def test_a_failing_transcript_fails_alone_without_traceback_or_text(model, tokenizer, caplog):
    caplog.set_level("INFO")
    gate = Gate(model, fail_on=CANARY)
    gate.open.set()
    with running(loader=gated_loader(model, tokenizer, gate), max_batch_size=2, max_wait_ms=1000) as server:
        server.wait_ready()
        out = {}
        threads = [threading.Thread(target=lambda i=i, text=text: out.update({i: httpx.post(
            server.url + "/v1/analyze", json={"text": text}, timeout=60)}))
            for i, text in enumerate([f"the child {CANARY}", TEXTS[2]])]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert out[0].status_code == 500 and CANARY not in out[0].text
    assert out[0].json()["error"]["message"].startswith("internal error")
    assert out[1].status_code == 200  # shared the failed batch, retried alone
    assert "ValueError" in caplog.text and "Traceback" not in caplog.text and CANARY not in caplog.text


def test_logs_hold_ids_lengths_and_timings_never_transcripts(model, tokenizer, caplog):
    caplog.set_level("DEBUG")
    with running(loader=lambda: (model, tokenizer), max_chars=200) as server:
        server.wait_ready()
        ok = server.client.post("/v1/analyze", json={"texts": [f"my name is {CANARY}", "a call"], "evidence": True})
        server.client.post("/v1/analyze", content=f'{{"text": "{CANARY}'.encode())  # bad JSON holding the word
        server.client.post("/v1/analyze", json={"texts": ["a call", {CANARY: CANARY}]})
        server.client.post("/v1/analyze", json={"text": "a call", CANARY: True})
        server.client.post("/v1/analyze", json={"text": CANARY * 20})  # over max_chars: 413
        server.client.get(f"/v1/model?q={CANARY}")
        server.client.get(f"/{CANARY}")
    assert ok.status_code == 200 and CANARY in ok.text  # the answer holds it (the entities quote the call) ...
    rid = ok.json()["request_id"]
    assert f"request {rid}: 2 transcripts, {len('my name is ' + CANARY)}, 6 characters" in caplog.text
    assert f"{rid} POST /v1/analyze 200" in caplog.text  # ... the access log names the request ...
    server_lines = [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any(f"{rid} POST /v1/analyze 200" in line for line in server_lines)
    leaks = [line for line in server_lines if CANARY in line]
    assert not leaks  # ... and no server log line holds the transcript, a field name, a path or a query


# --------------------------------------------------------------------------- docs, page, the command
def test_openapi_docs_and_the_offline_page(model, tokenizer):
    with running(loader=lambda: (model, tokenizer)) as server:
        spec = server.client.get("/openapi.json").json()
        docs = server.client.get("/docs")
        page = server.client.get("/")
    body = spec["paths"]["/v1/analyze"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"text", "texts", "evidence", "evidence_top_k", "top_k"}
    assert {"/healthz", "/readyz", "/v1/model", "/v1/analyze"} <= set(spec["paths"]) and docs.status_code == 200
    assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    for external in ("http://", "https://", "//cdn", "<link", "src="):
        assert external not in page.text, external  # nothing loaded from elsewhere: it works offline
    for storage in ("localStorage", "sessionStorage", "document.cookie", "indexedDB"):
        assert storage not in page.text, storage


def test_command_refuses_bad_settings_with_exit_2(capsys, tmp_path):
    assert main(["--model", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["--model", str(tmp_path), "--max-batch-size", "0"]) == 2
    assert "--max-batch-size must be at least 1, got 0" in capsys.readouterr().err
    assert main(["--model", str(tmp_path), "--max-items", "500"]) == 2
    assert "could never be queued" in capsys.readouterr().err


def test_the_serve_command_end_to_end(model_dir, tmp_path):
    """`helpline-fusion serve` as a user runs it: answers while loading, serves, logs no transcript, stops on
    Ctrl-C with exit code 0."""
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HELPLINE_FUSION_API_KEY": ""}
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "helpline_fusion.cli", "serve", "--model", str(model_dir),
                                    "--port", str(port), "--max-wait-ms", "5"], stdout=sink, stderr=subprocess.STDOUT,
                                   env=env)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        response = httpx.post(url + "/v1/analyze", json={"text": f"my name is {CANARY} from kisumu"}, timeout=60)
        assert response.status_code == 200 and response.json()["result"]["num_windows"] >= 1
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(30)
    text = Path(log).read_text()
    assert code == 0, text
    assert "POST /v1/analyze 200" in text and CANARY not in text and "Traceback" not in text
