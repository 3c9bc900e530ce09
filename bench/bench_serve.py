"""Benchmark: `helpline-fusion serve` under concurrent clients against `predict()` on the same transcripts.

    python bench/bench_serve.py --quick                      # ~10 s of load, 4 clients: a smoke run
    python bench/bench_serve.py                              # 16 clients for 120 s (the issue's goal)
    python bench/bench_serve.py --model outputs/quickstart --clients 16 --duration 120

It saves a model (`--model`, else MiniLM from the `minilm` extra with random heads, else a tiny random one), starts
the real command (`python -m helpline_fusion.cli serve`) on 127.0.0.1 on a free port, and runs `--clients` client
threads, each posting one transcript at a time from a seeded list, until `--duration` seconds or `--max-requests`
requests, after `--warmup` seconds of the same load not counted (bounded: it stops by itself and stops the
server). Reported: served throughput (transcripts/s), p50/p95/
p99 latency, errors (non-200 answers and failed connections), lost requests (sent but neither answered nor failed),
the server's peak RSS (`VmHWM`), the mean batch size, then the same transcripts through `model.predict()` in this
process (the server stopped, the same precision and windows per encoder call) and the ratio served/direct. Goal
(issue 29): ratio >= 0.9 at 16 clients, 0 errors, 0 lost. Results: stdout and `bench/results/serve[_quick]_<date>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench_common import RESULTS_DIR, environment, minilm_path

WORDS = ("the a my is from in at of to and was he she his her call child help you i calling old years school "
         "home mother father police hospital town village neighbour teacher counsellor caller danger").split()  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a saved model folder (default: MiniLM with random heads)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load (default 120)")
    parser.add_argument("--warmup", type=float, default=15.0,
                        help="seconds of load before measuring (default 15): each new batch shape is slow once")
    parser.add_argument("--max-requests", type=int, default=20_000, help="stop after this many requests")
    parser.add_argument("--transcripts", type=int, default=64, help="distinct seeded transcripts (default 64)")
    parser.add_argument("--words", type=int, default=300, help="words per transcript (default 300)")
    parser.add_argument("--max-batch-size", type=int, default=16, help="the server's --max-batch-size")
    parser.add_argument("--max-wait-ms", type=float, default=10.0, help="the server's --max-wait-ms")
    parser.add_argument("--batch-size", type=int, default=8, help="windows per encoder call, served and direct")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    parser.add_argument("--quick", action="store_true", help="4 clients, 10 s, 16 transcripts of 120 words")
    return parser


def save_model(args: argparse.Namespace, folder: Path) -> tuple[str, str]:
    """The model folder to serve and what it is."""
    if args.model:
        return args.model, f"{args.model} (given)"
    import torch
    from transformers import AutoTokenizer

    from helpline_fusion.modeling_attention_fusion import AttentionFusionModel

    encoder = minilm_path()
    if encoder is not None:
        torch.manual_seed(0)
        AttentionFusionModel.from_encoder_pretrained(str(encoder)).save_pretrained(folder)
        AutoTokenizer.from_pretrained(encoder).save_pretrained(folder)
        return str(folder), "all-MiniLM-L6-v2 encoder, random heads"
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_predict_memory import build_tiny_model

    return str(build_tiny_model(folder)), "tiny random encoder (2 layers, 32 wide): install the minilm extra"


def transcripts(count: int, words: int, seed: int = 29) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(words // 2, words))) for _ in range(count)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def start_server(model: str, args: argparse.Namespace, port: int, log: Path) -> subprocess.Popen:
    import httpx

    command = [sys.executable, "-m", "helpline_fusion.cli", "serve", "--model", model, "--port", str(port),
               "--max-batch-size", str(args.max_batch_size), "--max-wait-ms", str(args.max_wait_ms),
               "--batch-size", str(args.batch_size), "--precision", args.precision,
               "--max-queue", str(max(256, 4 * args.clients))]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HELPLINE_FUSION_API_KEY": ""}
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench_serve: the server exited ({process.returncode}); see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    process.kill()
    raise SystemExit(f"bench_serve: the server was not ready in 300 s; see {log}")


def load(url: str, texts: list[str], clients: int, duration: float, max_requests: int) -> dict[str, Any]:
    """`clients` threads posting one transcript at a time until `duration` or `max_requests`."""
    import httpx

    lock, counter = threading.Lock(), iter(range(max_requests))
    latencies: list[float] = []
    outcome = {"sent": 0, "ok": 0, "errors": 0, "transcripts": 0, "batch_sizes": []}
    stop_at = time.monotonic() + duration

    def client() -> None:
        with httpx.Client(base_url=url, timeout=120) as session:
            while time.monotonic() < stop_at:
                with lock:
                    index = next(counter, None)
                    if index is None:
                        return
                    outcome["sent"] += 1
                started = time.perf_counter()
                try:
                    response = session.post("/v1/analyze", json={"text": texts[index % len(texts)]})
                    ok = response.status_code == 200
                    batch = response.json().get("batch", {}) if ok else {}
                except (httpx.HTTPError, ValueError):
                    ok, batch = False, {}
                elapsed = time.perf_counter() - started
                with lock:
                    outcome["ok" if ok else "errors"] += 1
                    if ok:
                        latencies.append(elapsed)
                        outcome["transcripts"] += 1
                        outcome["batch_sizes"].append(batch.get("size", 0))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + 300)
    wall = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [float("nan")] * 99
    return {
        "wall_s": round(wall, 2), "sent": outcome["sent"], "ok": outcome["ok"], "errors": outcome["errors"],
        "lost": outcome["sent"] - outcome["ok"] - outcome["errors"],
        "throughput_per_s": round(outcome["transcripts"] / wall, 3),
        "latency_ms": {"p50": round(q[49] * 1000, 1), "p95": round(q[94] * 1000, 1), "p99": round(q[98] * 1000, 1)},
        "mean_batch_size": round(statistics.fmean(outcome["batch_sizes"]), 2) if outcome["batch_sizes"] else None,
    }  # fmt: skip


def direct(model_path: str, texts: list[str], count: int, args: argparse.Namespace) -> dict[str, Any]:
    """The same transcripts, as many as were served, through `model.predict()` in chunks of the server's batch."""
    from helpline_fusion.train.predict_cli import load_model

    model, tokenizer = load_model(model_path, "cpu")
    chosen = [texts[i % len(texts)] for i in range(max(count, args.max_batch_size))]
    for _pass in ("warm-up", "timed"):  # a first untimed pass: each batch shape is slow once, as the served warm-up
        started = time.perf_counter()
        for start in range(0, len(chosen), args.max_batch_size):
            model.predict(chosen[start : start + args.max_batch_size], tokenizer, batch_size=args.batch_size,
                          precision=args.precision)  # fmt: skip
    wall = time.perf_counter() - started
    return {"transcripts": len(chosen), "wall_s": round(wall, 2), "throughput_per_s": round(len(chosen) / wall, 3)}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.clients, args.duration, args.warmup, args.transcripts, args.words = 4, 10.0, 5.0, 16, 120
    if args.clients < 1 or args.duration <= 0 or args.max_requests < 1:
        print("bench_serve: --clients and --max-requests must be at least 1 and --duration positive", file=sys.stderr)
        return 2
    try:
        import httpx  # noqa: F401
    except ImportError:
        print("bench_serve: needs the serve extra: pip install -e '.[serve]'", file=sys.stderr)
        return 2
    import torch

    from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import cpu_flags

    env = environment(torch.get_num_threads())
    with tempfile.TemporaryDirectory(prefix="bench_serve_") as work:
        model_path, model_kind = save_model(args, Path(work) / "model")
        texts = transcripts(args.transcripts, args.words)
        port, log = free_port(), Path(work) / "serve.log"
        server = start_server(model_path, args, port, log)
        try:
            url = f"http://127.0.0.1:{port}"
            warm = load(url, texts, args.clients, args.warmup, args.max_requests) if args.warmup > 0 else None
            served = load(url, texts, args.clients, args.duration, args.max_requests)
            served["warmup"] = warm and {key: warm[key] for key in ("sent", "ok", "errors", "lost")}
            served["server_peak_rss_mb"] = peak_rss_mb(server.pid)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
        log_text = log.read_text(errors="replace")
        served["transcript_in_server_log"] = any(text in log_text for text in texts)
        reference = direct(model_path, texts, served["ok"], args)
    ratio = served["throughput_per_s"] / reference["throughput_per_s"] if reference["throughput_per_s"] else None
    result = {
        "date": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"), "quick": args.quick, "model": model_kind,
        "settings": {key: getattr(args, key) for key in ("clients", "duration", "warmup", "max_requests", "transcripts", "words",
                                                          "max_batch_size", "max_wait_ms", "batch_size", "precision")},
        "served": served, "direct": reference, "ratio_served_to_direct": round(ratio, 3) if ratio else None,
        "goal": "ratio >= 0.9 at 16 clients over 120 s, 0 errors, 0 lost",
        "cpu_flags": cpu_flags(), "environment": env, "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "command": " ".join(["python bench/bench_serve.py", *(sys.argv[1:] if argv is None else argv)]),
    }  # fmt: skip
    print(f"model: {model_kind}; {args.clients} clients for {served['wall_s']} s on {env['cpu']} "
          f"({env['cores']} cores, load before {env['load_average_before']})")
    print(f"served: {served['throughput_per_s']} transcripts/s, p50 {served['latency_ms']['p50']} ms, "
          f"p95 {served['latency_ms']['p95']} ms, p99 {served['latency_ms']['p99']} ms, {served['errors']} errors, "
          f"{served['lost']} lost, mean batch {served['mean_batch_size']}, peak RSS {served['server_peak_rss_mb']} MB")
    print(f"direct predict(): {reference['throughput_per_s']} transcripts/s; ratio served/direct "
          f"{result['ratio_served_to_direct']} (goal >= 0.9)")
    print(f"command: {result['command']}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"serve_{'quick_' if args.quick else ''}{result['date']}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
