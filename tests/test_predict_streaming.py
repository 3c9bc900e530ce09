"""`helpline-fusion predict` on input a user could plausibly give it, and on large input: it streams, so a run
killed half-way leaves a valid JSON Lines prefix of the results (in `OUTPUT.partial`, the output left as it was).

Bad input: an empty file, a file of only bad lines, a non-UTF-8 file, a 20 MB single transcript. Each gives a
non-zero exit code and a one-line message naming the file; nothing crashes (the messages' exact wording is the CLI's
to choose, so the tests check the file name and the kind of fault, not whole sentences).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from helpline_fusion.train.predict_cli import iter_records, main


def run(model_dir, source, out, *extra):
    return main(["--model", str(model_dir), str(source), "--output", str(out), *extra])


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("helpline-fusion predict:")]
    assert len(lines) == 1, err
    return lines[0]


def test_an_empty_file_is_said_and_gives_an_empty_output(model_dir, tmp_path, capsys):
    # Nothing to analyse is not an error (exit 0: a pipeline step over an empty batch succeeds), but it is said, and
    # the output a pipeline expects exists and is empty.
    for content in (b"", b"\n\n  \n", b"[]"):
        source, output = tmp_path / "empty.jsonl", tmp_path / "out.jsonl"
        source.write_bytes(content)
        output.write_text("stale\n")
        assert run(model_dir, source, output) == 0
        assert one_line(capsys.readouterr().err) == f"helpline-fusion predict: no records in {source}"
        assert output.read_text() == ""


def test_a_file_of_only_bad_lines_is_a_clear_error(model_dir, tmp_path, capsys):
    source = tmp_path / "bad.jsonl"
    source.write_text('{"text": \n[1, 2]\n{"narrative": ""}\n{"id": "a", "transcript": "x"}\n', encoding="utf-8")
    assert run(model_dir, source, tmp_path / "out.jsonl") == 2
    err = capsys.readouterr().err
    for number in (1, 2, 3, 4):
        assert f"{source} line {number}" in err  # each bad line named once
    summary = err.strip().splitlines()[-1]
    assert str(source) in summary and "4 records rejected" in summary
    assert not (tmp_path / "out.jsonl").exists()


def test_a_non_utf8_file_is_a_clear_error(model_dir, tmp_path, capsys):
    source = tmp_path / "latin1.jsonl"
    source.write_bytes(json.dumps({"text": "caf\u00e9 call"}, ensure_ascii=False).encode("latin-1") + b"\n")
    assert run(model_dir, source, tmp_path / "out.jsonl") == 2
    err = capsys.readouterr().err
    assert f"{source} line 1: not UTF-8 at byte" in err
    array = tmp_path / "latin1.json"
    array.write_bytes(b'[{"text": "caf\xe9"}]')
    assert run(model_dir, array, tmp_path / "out.jsonl") == 2
    assert str(array) in one_line(capsys.readouterr().err)


def test_a_non_utf8_line_among_good_ones_is_rejected_and_the_rest_analysed(model_dir, tmp_path, capsys):
    source = tmp_path / "mixed.jsonl"
    source.write_bytes(b'{"id": "a", "text": "my child is 12"}\n{"text": "caf\xe9"}\n{"id": "c", "text": "help"}\n')
    out = tmp_path / "out.jsonl"
    assert run(model_dir, source, out) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["id"] for row in rows] == ["a", 2, "c"] and "error" in rows[1]
    assert "2 transcripts analysed, 1 records rejected (not_utf8 1)" in capsys.readouterr().err


def test_a_20_mb_transcript_is_refused_with_its_size(model_dir, tmp_path, capsys):
    source = tmp_path / "huge.jsonl"
    text = "my child is 12 years old " * (20 * 2**20 // 25)
    source.write_text(json.dumps({"id": "big", "text": text}) + "\n", encoding="utf-8")
    assert run(model_dir, source, tmp_path / "out.jsonl") == 2
    err = capsys.readouterr().err
    assert f"{source} line 1 (id big): the transcript has {len(text):,} characters, over the limit" in err
    assert text[:40] not in err
    # Raised on purpose, the limit lets it through (a smaller one here: the tiny model would take minutes on 20 MB).
    source.write_text(json.dumps({"id": "big", "text": text[:20_000]}) + "\n", encoding="utf-8")
    assert run(model_dir, source, tmp_path / "out.jsonl", "--max-chars", "10000") == 2
    assert run(model_dir, source, tmp_path / "out.jsonl", "--max-chars", "20000") == 0


def test_json_lines_are_read_one_at_a_time(tmp_path):
    """The reader is lazy: a bad line far into the file is only met when the reader gets there."""
    source = tmp_path / "calls.jsonl"
    source.write_text('{"text": "hello"}\n' * 3 + "not json\n", encoding="utf-8")
    records = iter_records(source, strict=True)
    assert [next(records).text for _ in range(3)] == ["hello"] * 3  # no error yet
    with pytest.raises(ValueError, match=r"calls.jsonl line 4: invalid JSON"):
        next(records)


def test_a_run_killed_half_way_leaves_a_valid_jsonl_prefix(model_dir, tmp_path):
    """The results go to `OUTPUT.partial` until the run ends: a kill leaves whole lines there, in input order, and
    the output holding an earlier run's complete results untouched."""
    source = tmp_path / "many.jsonl"
    n = 3000
    with source.open("w", encoding="utf-8") as handle:
        for index in range(n):
            handle.write(json.dumps({"id": f"call-{index}", "text": f"my child is {index} years old and calling"}))
            handle.write("\n")
    out = tmp_path / "many_out.jsonl"
    earlier = b'{"id": "earlier-run", "line": 1}\n'
    out.write_bytes(earlier)
    partial = tmp_path / "many_out.jsonl.partial"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "helpline_fusion.cli", "predict", "--model", str(model_dir), str(source),
               "--output", str(out), "--batch-size", "8"]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not partial.exists() or partial.stat().st_size == 0):
            assert proc.poll() is None, "predict ended before it could be killed"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert out.read_bytes() == earlier  # the earlier results survive the killed rerun
    content = partial.read_bytes()
    assert content.endswith(b"\n")  # whole lines only
    rows = [json.loads(line) for line in content.decode("utf-8").splitlines()]
    assert 0 < len(rows) < n, len(rows)
    assert [row["id"] for row in rows] == [f"call-{index}" for index in range(len(rows))]
    assert all("case" in row for row in rows)
