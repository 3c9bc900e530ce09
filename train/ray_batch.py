"""Batch prediction on Ray Data, for archives larger than one machine: `predict_ray` or `predict --engine ray`.

    helpline-fusion predict --engine ray --workers 4 --model outputs/quickstart calls.jsonl --output results.jsonl
    helpline-fusion predict --engine ray --model org/helpline-fusion --revision v1.2.0 calls.parquet -o out.parquet

Input: JSON Lines, a JSON array (read as `predict` reads them: bad records named by line, kept as errors) or a
Parquet file with a `text` or `narrative` column (and optionally `id`, `uniqueid` or `sample_id`). The records go
to a Ray dataset whose `map_batches` runs a callable class ([`FusionPredictor`]) that loads the model once per worker
(the installed classes, no remote code). Output, in input order, one row per input record: JSON Lines as `predict`
writes them, or Parquet with `id` (JSON text), `position`, `error` and `result` (the result as JSON text). Every
input record is accounted for: the output holds exactly as many rows as the input, or the run fails saying so. The
output is written to `OUTPUT.partial` and renamed when complete.

Ray is an optional extra: `pip install 'helpline-fusion[ray]'`. Without a running cluster, `ray.init` starts a local
one with `num_workers` CPUs; on a cluster, call `ray.init(address=...)` first (or set `RAY_ADDRESS`).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from .predict_cli import ID_FIELDS, MAX_CHARS, TEXT_FIELDS, iter_records, partial_path

logger = logging.getLogger(__name__)


class FusionPredictor:
    """The `map_batches` callable: the model loaded once per worker, one `predict` call per batch of records."""

    def __init__(self, model: str, revision: str | None, options: dict[str, Any]) -> None:
        import torch

        from .predict_cli import load_model

        torch.set_num_threads(1)  # one Ray CPU per worker: workers, not threads, share the machine
        self.model, self.tokenizer = load_model(model, "cpu", revision=revision)
        self.options = options

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        errors = list(batch["error"])
        good = [i for i, error in enumerate(errors) if not error]
        results = self.model.predict([batch["text"][i] for i in good], self.tokenizer, **self.options) if good else []
        out = [""] * len(errors)
        for i, result in zip(good, results):
            out[i] = json.dumps(result, ensure_ascii=False)
        return {"order": batch["order"], "id": batch["id"], "position_key": batch["position_key"],
                "position": batch["position"], "error": batch["error"], "result": out}  # fmt: skip


def read_rows(path: Path, max_chars: int = MAX_CHARS) -> list[dict[str, Any]]:
    """One row per input record (`order`, `id` as JSON text, `position_key`, `position`, `text`, `error`)."""
    if path.suffix.lower() == ".parquet":
        return _parquet_rows(path, max_chars)
    rows = []
    for order, record in enumerate(iter_records(path, max_chars=max_chars)):
        rows.append({"order": order, "id": json.dumps(record.id, ensure_ascii=False), "position_key": record.position_key,
                     "position": record.position, "text": record.text or "", "error": record.error or ""})  # fmt: skip
    return rows


def _parquet_rows(path: Path, max_chars: int) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    text_column = next((name for name in TEXT_FIELDS if name in table.column_names), None)
    if text_column is None:
        raise ValueError(f"{path}: no 'text' or 'narrative' column (columns: {', '.join(table.column_names)})")
    id_column = next((name for name in ID_FIELDS if name in table.column_names), None)
    texts = table.column(text_column).to_pylist()
    ids = table.column(id_column).to_pylist() if id_column else list(range(len(texts)))
    rows = []
    for index, (record_id, text) in enumerate(zip(ids, texts)):
        error = ""
        if not isinstance(text, str) or not text.strip():
            error = f"{path} row {index} (id {record_id}): '{text_column}' is empty or not a string"
        elif len(text) > max_chars:
            error = f"{path} row {index} (id {record_id}): {len(text):,} characters, over the limit of {max_chars:,}"
        rows.append({"order": index, "id": json.dumps(record_id if record_id is not None else index, default=str),
                     "position_key": "index", "position": index, "text": "" if error else text, "error": error})  # fmt: skip
    return rows


def predict_ray(
    input_path: str | Path,
    output_path: str | Path,
    model: str,
    *,
    revision: str | None = None,
    num_workers: int = 2,
    records_per_batch: int = 16,
    max_chars: int = MAX_CHARS,
    **options: Any,
) -> dict[str, int]:
    """Analyse every record of `input_path` on Ray Data workers and write one output row per record, in order.

    Args:
        input_path: JSON Lines, a JSON array or Parquet (`text` or `narrative` column).
        output_path: `.parquet` for Parquet, anything else for JSON Lines.
        model, revision: a saved folder or a Hub id (and its revision), loaded once per worker.
        num_workers: Ray workers (`map_batches(concurrency=...)`), one CPU each.
        records_per_batch: records per `predict` call on a worker.
        **options: passed to `model.predict` (`batch_size`, `precision`, `evidence`, `top_k`, ...).

    Returns:
        `{"records", "analysed", "rejected"}`. Raises `RuntimeError` if the output would not hold every record.

    Example:
        >>> predict_ray("calls.jsonl", "results.parquet", "outputs/quickstart", num_workers=4)  # doctest: +SKIP
        {'records': 1200, 'analysed': 1198, 'rejected': 2}
    """
    import ray

    input_path, output_path = Path(input_path), Path(output_path)
    rows = read_rows(input_path, max_chars)
    if not ray.is_initialized():
        ray.init(num_cpus=None if os.environ.get("RAY_ADDRESS") else num_workers, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)  # fmt: skip
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    ray.data.DataContext.get_current().enable_progress_bars = False
    dataset = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), num_workers * 4))) if rows else None
    outputs: list[dict[str, Any]] = []
    if dataset is not None:
        results = dataset.map_batches(
            FusionPredictor, fn_constructor_kwargs={"model": model, "revision": revision, "options": options},
            batch_size=records_per_batch, concurrency=num_workers, num_cpus=1, batch_format="numpy",
        )  # fmt: skip
        for batch in results.iter_batches(batch_size=1024, batch_format="numpy"):
            outputs += [dict(zip(batch, values)) for values in zip(*batch.values())]
    outputs.sort(key=lambda row: int(row["order"]))
    if [int(row["order"]) for row in outputs] != list(range(len(rows))):
        raise RuntimeError(f"{input_path}: {len(rows)} records read but {len(outputs)} results came back; "
                           f"{output_path} not written")  # fmt: skip
    _write(outputs, output_path)
    rejected = sum(1 for row in outputs if row["error"])
    return {"records": len(rows), "analysed": len(rows) - rejected, "rejected": rejected}


def _write(rows: list[dict[str, Any]], output: Path) -> None:
    partial = partial_path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"id": [str(r["id"]) for r in rows], "position": [int(r["position"]) for r in rows],
                          "error": [str(r["error"]) or None for r in rows],
                          "result": [str(r["result"]) or None for r in rows]})  # fmt: skip
        pq.write_table(table, partial)
    else:
        with partial.open("w", encoding="utf-8") as sink:
            for r in rows:
                payload = {"error": str(r["error"])} if r["error"] else json.loads(str(r["result"]))
                head = {"id": json.loads(str(r["id"])), str(r["position_key"]): int(r["position"])}
                sink.write(json.dumps({**head, **payload}, ensure_ascii=False) + "\n")
    os.replace(partial, output)


def main_ray(args: Any) -> int:
    """`helpline-fusion predict --engine ray`: the command's checked arguments to [`predict_ray`]; exit code 2 with
    one line for a bad input, a missing extra or a run that lost records."""
    import sys

    from .predict_cli import check_paths, cli_precision
    from .sources import check_model_folder

    if args.workers < 1:
        print(f"helpline-fusion predict: --workers must be at least 1, got {args.workers}", file=sys.stderr)
        return 2
    try:
        import ray  # noqa: F401
    except ImportError:
        print("helpline-fusion predict: --engine ray needs Ray: pip install 'helpline-fusion[ray]'", file=sys.stderr)
        return 2
    options: dict[str, Any] = {"batch_size": args.batch_size, "top_k": args.top_k,
                               "window_length": args.window_length, "window_stride": args.window_stride}  # fmt: skip
    if args.evidence:
        options.update(evidence=True, evidence_top_k=args.evidence_top_k)
    try:
        check_paths(args.input, args.output)
        check_model_folder(args.model)
        options["precision"] = cli_precision(args)
        counts = predict_ray(args.input, args.output, args.model, revision=args.revision, num_workers=args.workers,
                             max_chars=args.max_chars, **options)  # fmt: skip
    except (ValueError, RuntimeError, OSError) as error:
        print(f"helpline-fusion predict: {error}", file=sys.stderr)
        return 2
    print(f"helpline-fusion predict (ray, {args.workers} workers): {counts['analysed']} transcripts analysed, "
          f"{counts['rejected']} records rejected; wrote {counts['records']} rows to {args.output}", file=sys.stderr)
    return 0
