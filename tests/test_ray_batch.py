"""Batch prediction on Ray Data (`predict --engine ray`, `predict_ray`) on a local Ray instance with two workers:
JSON Lines and Parquet in and out, every input record accounted for, results as `predict` gives them. Slow: starting
Ray and a model per worker takes tens of seconds."""

from __future__ import annotations

import json

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install -e '.[ray]'")

from helpline_fusion.train.predict_cli import main as predict_main  # noqa: E402
from helpline_fusion.train.ray_batch import predict_ray  # noqa: E402

pytestmark = pytest.mark.slow

TEXTS = ["my name is amina from kisumu town", "the child is 12 years old", "routine call about school",
         "he is calling about the child in danger", "my name is from the old town"]  # fmt: skip


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def expected(model_dir, texts):
    from transformers import AutoTokenizer

    from helpline_fusion.modeling_attention_fusion import AttentionFusionModel

    model = AttentionFusionModel.from_pretrained(model_dir).eval()
    return json.loads(json.dumps(model.predict(texts, AutoTokenizer.from_pretrained(model_dir), precision="fp32")))


def same(result, reference):
    assert [(e["label"], e["start"], e["end"]) for e in result["entities"]] == [
        (e["label"], e["start"], e["end"]) for e in reference["entities"]]  # fmt: skip
    for head, decision in reference["case"].items():
        assert result["case"][head]["label"] == decision["label"]
        assert result["case"][head]["score"] == pytest.approx(decision["score"], abs=1e-5)


def test_json_lines_through_the_command_every_record_accounted(local_ray, model_dir, tmp_path, capsys):
    lines = [json.dumps({"id": f"call-{i}", "text": text}) for i, text in enumerate(TEXTS)]
    lines.insert(2, "not json")
    lines.insert(4, json.dumps({"id": "no-text"}))
    source, output = tmp_path / "calls.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n".join(lines) + "\n")
    code = predict_main([str(source), "--model", str(model_dir), "-o", str(output), "--engine", "ray",
                         "--workers", "2", "--precision", "fp32"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert [row["line"] for row in rows] == list(range(1, len(lines) + 1))  # every record, in input order
    assert "line 3: invalid JSON" in rows[2]["error"]
    assert rows[4]["id"] == "no-text" and "no 'text'" in rows[4]["error"]
    good = [row for row in rows if "error" not in row]
    assert [row["id"] for row in good] == [f"call-{i}" for i in range(len(TEXTS))]
    for row, reference in zip(good, expected(model_dir, TEXTS)):
        same(row, reference)
    assert "5 transcripts analysed, 2 records rejected; wrote 7 rows" in capsys.readouterr().err


def test_parquet_in_and_out_on_two_workers(local_ray, model_dir, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = TEXTS * 4 + [""]  # 21 records over two workers, one of them empty
    source, output = tmp_path / "calls.parquet", tmp_path / "out.parquet"
    pq.write_table(pa.table({"uniqueid": [f"u{i}" for i in range(len(texts))], "narrative": texts}), source)
    counts = predict_ray(source, output, str(model_dir), num_workers=2, records_per_batch=4, precision="fp32")
    assert counts == {"records": 21, "analysed": 20, "rejected": 1}
    table = pq.read_table(output).to_pylist()
    assert [json.loads(row["id"]) for row in table] == [f"u{i}" for i in range(21)]
    assert [row["position"] for row in table] == list(range(21))
    assert table[-1]["result"] is None and "row 20 (id u20)" in table[-1]["error"]
    reference = expected(model_dir, TEXTS)
    for i, row in enumerate(table[:-1]):
        same(json.loads(row["result"]), reference[i % len(TEXTS)])
