"""Micro-batching for `helpline-fusion serve`: concurrent requests gathered into one `model.predict` call.

A request puts its transcripts in a bounded queue ([`Batcher.submit`], which refuses with [`QueueFull`] once
`max_queue` transcripts wait) and awaits its job. One gathering task on the event loop takes the oldest job, waits
up to `max_wait_ms` from that job's arrival for more jobs with the same options (until `max_batch_size` transcripts),
and runs them as one `predict` call on a single worker thread, so the encoder never runs on the event loop and two
batches never run at once. A job whose client went away ([`Job.cancel`]) leaves the queue before its batch runs, or
has its results dropped after; nothing waits for it. A batch that fails is retried job by job, so one transcript that
breaks the model fails only its own request.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


class QueueFull(RuntimeError):
    """The bounded queue holds `max_queue` transcripts already: the caller answers 503 with `Retry-After`."""


@dataclass
class Job:
    """One request's transcripts, its predict options and the future its handler awaits."""

    request_id: str
    texts: list[str]
    options: tuple[tuple[str, Any], ...]
    future: asyncio.Future
    arrived: float = field(default_factory=time.monotonic)

    def cancel(self) -> None:
        if not self.future.done():
            self.future.cancel()


@dataclass
class BatchInfo:
    """What a response says about the batch that served it (`"batch"` in the JSON)."""

    id: int
    size: int  # transcripts in the predict call
    requests: int  # requests that shared it
    queue_ms: float  # this request's wait before its batch started
    predict_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "size": self.size, "requests": self.requests, "queue_ms": round(self.queue_ms, 1),
                "predict_ms": round(self.predict_ms, 1)}  # fmt: skip


class Batcher:
    """Gathers jobs into `predict(texts, **options)` calls run on one worker thread (see the module docstring).

    Args:
        predict: `predict(texts, **options) -> list[dict]` (one result per text, in order).
        max_batch_size: most transcripts in one call (a larger request runs alone, never split).
        max_wait_ms: how long the oldest job waits for company before its batch runs.
        max_queue: most transcripts waiting (not counting the batch running).

    Example:
        >>> batcher = Batcher(lambda texts, **_: [{"n": len(t)} for t in texts], 16, 10, 64)  # doctest: +SKIP
        >>> asyncio.create_task(batcher.run())  # doctest: +SKIP
        >>> results, info = await batcher.submit("req-1", ["a call"], {}).future  # doctest: +SKIP
    """

    def __init__(self, predict: Callable[..., list[dict[str, Any]]], max_batch_size: int, max_wait_ms: float,
                 max_queue: int) -> None:  # fmt: skip
        self.predict, self.max_batch_size, self.max_wait = predict, max_batch_size, max_wait_ms / 1000
        self.max_queue = max_queue
        self._pending: deque[Job] = deque()
        self._arrival = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="helpline-encoder")
        self._ids = itertools.count(1)
        self.stats = {"batches": 0, "transcripts": 0, "requests": 0, "queue_full": 0, "dropped_disconnected": 0,
                      "failed_batches": 0}  # fmt: skip

    @property
    def queued(self) -> int:
        return sum(len(job.texts) for job in self._pending if not job.future.done())

    def submit(self, request_id: str, texts: Sequence[str], options: dict[str, Any]) -> Job:
        """Queue a job (its future gives `(results, BatchInfo)`), or raise `QueueFull`."""
        if self.queued + len(texts) > self.max_queue:
            self.stats["queue_full"] += 1
            raise QueueFull(f"{self.queued} transcripts queued, the limit is {self.max_queue}")
        job = Job(request_id, list(texts), tuple(sorted(options.items())), asyncio.get_running_loop().create_future())
        self._pending.append(job)
        self._arrival.set()
        return job

    def abandon(self, job: Job) -> None:
        """The client left: a queued job leaves the queue now; a running one has its results dropped when done."""
        job.cancel()
        if job in self._pending:
            self._pending.remove(job)
            self.stats["dropped_disconnected"] += 1
            logger.info("request %s: client gone before its batch ran; dropped from the queue", job.request_id)

    def _drop_cancelled(self) -> None:
        for job in [job for job in self._pending if job.future.done()]:
            self._pending.remove(job)
            self.stats["dropped_disconnected"] += 1
            logger.info("request %s: client gone before its batch ran; dropped from the queue", job.request_id)

    def _ready(self, options: tuple) -> int:
        return sum(len(job.texts) for job in self._pending if job.options == options and not job.future.done())

    async def _gather(self) -> list[Job]:
        """The next batch: the oldest job and, within its wait, later jobs with the same options."""
        while True:
            self._drop_cancelled()
            if self._pending:
                break
            self._arrival.clear()
            await self._arrival.wait()
        first = self._pending[0]
        deadline = first.arrived + self.max_wait
        while self._ready(first.options) < self.max_batch_size and not first.future.done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._arrival.clear()
            try:
                await asyncio.wait_for(self._arrival.wait(), remaining)
            except asyncio.TimeoutError:
                break
        self._drop_cancelled()
        batch, size = [], 0
        for job in list(self._pending):
            if job.options != first.options:
                continue
            if batch and size + len(job.texts) > self.max_batch_size:
                break
            batch.append(job)
            size += len(job.texts)
            self._pending.remove(job)
        return batch

    async def run(self) -> None:
        """Serve batches until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather()
            if not batch:
                continue
            started = time.monotonic()
            batch_id = next(self._ids)
            texts = [text for job in batch for text in job.texts]
            options = dict(batch[0].options)
            try:
                outcomes = [await loop.run_in_executor(self._executor, self._call, texts, options)]
                groups = [batch]
            except Exception as error:  # retried one job at a time: only the transcript that breaks the model fails
                self.stats["failed_batches"] += 1
                logger.warning("batch %d (%d transcripts) failed (%s); retrying its %d requests one by one",
                               batch_id, len(texts), type(error).__name__, len(batch))  # fmt: skip
                outcomes, groups = [], [[job] for job in batch]
                for job in batch:
                    try:
                        outcomes.append(await loop.run_in_executor(self._executor, self._call, job.texts, options))
                    except Exception as single:
                        outcomes.append(single)
            predict_ms = (time.monotonic() - started) * 1000
            self.stats["batches"] += 1
            self.stats["transcripts"] += len(texts)
            self.stats["requests"] += len(batch)
            for group, outcome in zip(groups, outcomes):
                offset = 0
                for job in group:
                    info = BatchInfo(batch_id, len(texts), len(batch), (started - job.arrived) * 1000, predict_ms)
                    if job.future.done():  # the client left while its batch ran: the results go nowhere
                        self.stats["dropped_disconnected"] += 1
                        logger.info("request %s: client gone while its batch ran; results dropped", job.request_id)
                    elif isinstance(outcome, Exception):
                        job.future.set_exception(outcome)
                    else:
                        job.future.set_result((outcome[offset : offset + len(job.texts)], info))
                    offset += len(job.texts)

    def _call(self, texts: list[str], options: dict[str, Any]) -> list[dict[str, Any]]:
        results = self.predict(texts, **options)
        if isinstance(results, dict):
            results = [results]
        if len(results) != len(texts):
            raise RuntimeError(f"predict returned {len(results)} results for {len(texts)} transcripts")
        return results

    def shutdown(self) -> None:
        for job in self._pending:
            job.cancel()
        self._pending.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)
