"""Evidence spans (`predict(..., evidence=True)`): whole words quoted exactly from the transcript, at the right
offsets from any window, resting on the window that made a call critical, on the marker word a toy model learned
to fire on; `cls`/`mean` pooling says it has none; the default output is unchanged; `bench/bench_evidence.py`
runs on a tiny saved model."""

from __future__ import annotations

import importlib
import json
import logging
import random
from pathlib import Path

import pytest
import torch
from transformers import AutoModel, BertTokenizerFast, pipeline

from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import (
    encode_windows,
    evidence_spans,
    word_units,
)

from .conftest import build_tiny_tokenizer, tiny_bert_config
from .test_inference import VOCAB, WORDS, make_model, rounded

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"
FILLER = [word for word in WORDS if word != "danger"]  # each one token in VOCAB


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def tokenizer(tmp_path):
    folder = tmp_path / "tokenizer"
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    return BertTokenizerFast.from_pretrained(folder, do_lower_case=True, model_max_length=512)


def filler(count: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(FILLER) for _ in range(count))


def all_evidence(result: dict) -> list[tuple[str, list[dict] | None]]:
    found = [(f"case.{head}", decision.get("evidence")) for head, decision in result["case"].items()]
    found += [
        (f"quality.{head}.{name}", decision.get("evidence"))
        for head, subs in result["quality"].items()
        for name, decision in subs.items()
    ]
    return found


def strip_evidence(result: dict) -> dict:
    result = json.loads(json.dumps(result))
    for decision in result["case"].values():
        for key in ("evidence", "evidence_unavailable", "critical_window"):
            decision.pop(key, None)
    for subs in result["quality"].values():
        for decision in subs.values():
            decision.pop("evidence", None)
            decision.pop("evidence_unavailable", None)
    return result


def is_word_boundary(text: str, index: int) -> bool:
    """No word runs across `index` (letters or digits on both sides would be a cut word)."""
    return index <= 0 or index >= len(text) or not (text[index - 1].isalnum() and text[index].isalnum())


def force_pooling(model, monkeypatch, tokenizer, targets: list[str], critical_marker: str | None = None):
    """Every decision's pooling puts all its weight on the `targets` tokens of a window (uniform where a window has
    none); with `critical_marker`, a window holding that token scores priority critical, the others routine."""
    original = model.forward
    target_ids = torch.tensor(tokenizer.convert_tokens_to_ids(targets))
    priority = model.config.case_heads["priority"]

    def forward(input_ids=None, attention_mask=None, task=None, **kwargs):
        out = original(input_ids=input_ids, attention_mask=attention_mask, task=task, **kwargs)
        hit = torch.isin(input_ids, target_ids).float()  # (batch, seq_len)
        weights = torch.where(hit.sum(-1, keepdim=True) > 0, hit, attention_mask.float())
        weights = weights / weights.sum(-1, keepdim=True)
        for heads in (out.head_pooling_weights or {}).values():
            for head, value in heads.items():
                heads[head] = weights[:, None, :].expand_as(value).clone()
        if critical_marker is not None and out.cls_logits is not None:
            marked = (input_ids == tokenizer.convert_tokens_to_ids(critical_marker)).any(-1)
            logits = torch.full((input_ids.shape[0], len(priority)), -5.0)
            logits[marked, priority.index("1")] = 5.0
            logits[~marked, priority.index("3")] = 5.0
            out.cls_logits["priority"] = logits
        return out

    monkeypatch.setattr(model, "forward", forward)


# --------------------------------------------------------------------------- spans
@pytest.mark.parametrize(
    "options",
    [{}, {"pool_per_head": True}, {"pool_per_head": True, "pool_layer_mix": True}, {"pool_layer_norm": False}],
    ids=["shared", "per-head", "per-head+layer-mix", "no-layer-norm"],
)
def test_evidence_is_whole_words_quoted_exactly_from_the_transcript(tokenizer, options):
    model = make_model(window_length=32, window_stride=8, **options)
    # Words cut into several sub-words, capitals the tokenizer lowers, punctuation, double spaces, a multi-window text.
    text = "My name is Wanjiru from KISUMU town,  and the child is 12 years old! He is calling about danger. " * 3
    result = model.predict(text, tokenizer, evidence=True, evidence_top_k=4)
    assert result["num_windows"] > 2
    seen = 0
    for decision, spans in all_evidence(result):
        assert spans and len(spans) <= 4, decision
        for span in spans:
            assert span["text"] == text[span["start"] : span["end"]], decision
            assert is_word_boundary(text, span["start"]) and is_word_boundary(text, span["end"]), (decision, span)
            assert span["text"] == span["text"].strip() and span["weight"] > 0
            seen += 1
        assert [s["weight"] for s in spans] == sorted((s["weight"] for s in spans), reverse=True)
        assert sum(s["weight"] for s in spans) <= 1.0 + 1e-5  # shares of one pooling
        ranges = sorted((s["start"], s["end"]) for s in spans)
        assert all(a[1] <= b[0] for a, b in zip(ranges, ranges[1:])), decision  # spans never overlap
    assert seen > 20
    one = model.predict(text, tokenizer, evidence=True, evidence_top_k=1)
    assert all(len(spans) == 1 for _, spans in all_evidence(one))
    assert model.config.evidence_top_k == 3
    assert max(len(spans) for _, spans in all_evidence(model.predict(text, tokenizer, evidence=True))) == 3


def test_a_heavy_sub_word_gives_its_whole_word_and_neighbours_merge_into_one_span():
    text = "the child from Kisumu-town, is in danger now"
    units = word_units(text)
    assert [text[s:e] for s, e in units] == ["the", "child", "from", "Kisumu-town", ",", "is", "in", "danger", "now"]
    weights = torch.tensor([0.01, 0.02, 0.01, 0.30, 0.01, 0.01, 0.20, 0.25, 0.02])
    spans = evidence_spans(text, units, weights, 2)
    assert [(s["text"], round(s["weight"], 4)) for s in spans] == [("in danger", 0.45), ("Kisumu-town", 0.3)]
    assert evidence_spans(text, units, torch.zeros(len(units)), 3) == []  # no weight, no invented spans
    assert evidence_spans("", [], torch.zeros(0), 3) == []


def test_spans_from_later_windows_land_at_their_transcript_offsets(monkeypatch, tokenizer):
    # Every head reads every window here (qa_window_scope {}): the subject is where later windows' spans land.
    model = make_model(window_length=32, window_stride=8, pool_per_head=True, critical_rule="override", qa_window_scope={})
    text = f"{filler(40, 1)} Kisumu {filler(30, 2)}, DANGER {filler(12, 3)}."
    force_pooling(model, monkeypatch, tokenizer, ["danger", "##m"], critical_marker="danger")
    windows = encode_windows([text], tokenizer, 32, 8)
    danger = text.index("DANGER")
    holding = [i for i, w in enumerate(windows) if any(s == danger for s, _ in w.offsets)]
    assert len(windows) >= 4 and min(holding) >= 2  # the marker is read by later windows only

    result = model.predict(text, tokenizer, evidence=True)
    kisumu = text.index("Kisumu")
    for decision, spans in all_evidence(result):
        found = {(s["start"], s["end"], s["text"]) for s in spans}
        # "##m" alone carried the weight of "Kisumu": the span is the whole word, never "m".
        expected = {(danger, danger + 6, "DANGER")} if decision == "case.priority" else {
            (danger, danger + 6, "DANGER"), (kisumu, kisumu + 6, "Kisumu")}  # fmt: skip
        assert expected <= found, decision
    # Critical by the override rule: the evidence rests on the window that made the call critical.
    priority = result["case"]["priority"]
    assert priority["label"] == "1" and priority["critical_windows"] == holding and priority["critical_alert"]
    window = priority["critical_window"]
    assert window["index"] in holding
    assert (window["start"], window["end"]) == (windows[window["index"]].offsets[0][0], windows[window["index"]].offsets[-1][1])
    assert window["start"] <= danger < window["end"]
    assert all(window["start"] <= s["start"] and s["end"] <= window["end"] for s in priority["evidence"])
    assert priority["evidence"][0]["weight"] == pytest.approx(1.0, abs=1e-5)  # all of that window's pooling
    # Under the alert rule the label stays the call's overall decision; the alert still names its window.
    model.config.critical_rule = "alert"
    alerted = model.predict(text, tokenizer, evidence=True)["case"]["priority"]
    assert alerted["critical_alert"] and alerted["critical_window"] == window
    assert alerted["label"] == "3"  # the windows without the marker say routine
    # A routine label rests on every window's share, not on the alert's window alone: Kisumu (outside it) leads.
    assert alerted["evidence"][0]["text"] == "Kisumu" and alerted["evidence"][0]["start"] < window["start"]
    # With the schema's window scope the opening rests on the call's first window alone, the closing on its last.
    model.config.qa_window_scope = {"opening": "first", "closing": "last"}
    scoped = model.predict(text, tokenizer, evidence=True)["quality"]
    first_end, last_start = windows[0].offsets[-1][1], windows[-1].offsets[0][0]
    opening = next(iter(scoped["opening"].values()))["evidence"]
    closing = next(iter(scoped["closing"].values()))["evidence"]
    assert opening and all(span["end"] <= first_end for span in opening)
    assert closing and all(span["start"] >= last_start for span in closing)
    assert {(s["start"], s["text"]) for s in next(iter(scoped["listening"].values()))["evidence"]} >= {
        (danger, "DANGER"), (kisumu, "Kisumu")}  # fmt: skip


def test_a_toy_model_trained_to_fire_on_a_marker_word_points_its_evidence_at_it(tmp_path):
    tokenizer = build_tiny_tokenizer(tmp_path / "tok")
    words = "the a my is from in at of to and was he she his her call child you i calling old years".split()
    torch.manual_seed(0)
    config = AttentionFusionConfig(encoder_config=tiny_bert_config(), pool_per_head=True, window_length=64,
                                   window_stride=16, tasks=["cls"])  # fmt: skip
    model = AttentionFusionModel(config).eval()  # eval: no dropout; the encoder stays frozen
    rng = random.Random(0)

    def sample(marked: bool) -> str:
        text = [rng.choice(words) for _ in range(rng.randint(8, 16))]
        if marked:
            text.insert(rng.randrange(len(text) + 1), "help")
        return " ".join(text)

    fresh = [sample(True) for _ in range(8)]

    def hits() -> int:
        results = model.predict(fresh, tokenizer, evidence=True, evidence_top_k=1)
        return sum(r["case"]["priority"]["evidence"][0]["text"] == "help" for r in results)

    untrained = hits()
    priority = config.case_heads["priority"]
    optimizer = torch.optim.Adam(model.cls_head.parameters(), lr=3e-2)
    for _ in range(60):
        marked = [rng.random() < 0.5 for _ in range(16)]
        batch = tokenizer([sample(m) for m in marked], padding=True, return_tensors="pt")
        labels = torch.tensor([priority.index("1" if m else "3") for m in marked])
        out = model(**batch, task="cls", labels={"priority": labels})
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    trained = hits()
    print(f"marker as the top evidence: untrained {untrained}/{len(fresh)}, trained {trained}/{len(fresh)}")
    assert untrained <= 4 and trained == len(fresh), (untrained, trained)


# --------------------------------------------------------------------------- no weights, no evidence
def test_cls_and_mean_pooling_say_evidence_is_unavailable(tokenizer):
    text = "my child is 12 years old and he is calling from kisumu town"
    model = make_model(pooling={"cls": "cls", "qa": "mean"})
    result = model.predict(text, tokenizer, evidence=True)
    for decision in result["case"].values():
        assert decision["evidence"] is None
        assert decision["evidence_unavailable"] == "pooling 'cls' has no learned weights"
    for subs in result["quality"].values():
        for decision in subs.values():
            assert decision["evidence"] is None
            assert decision["evidence_unavailable"] == "pooling 'mean' has no learned weights"
    mixed = make_model(pooling={"cls": "attention", "qa": "mean"}).predict(text, tokenizer, evidence=True)
    assert all(d["evidence"] for d in mixed["case"].values())
    assert all(d["evidence"] is None for subs in mixed["quality"].values() for d in subs.values())


# --------------------------------------------------------------------------- the default path
def test_without_evidence_the_output_and_the_model_call_are_unchanged(monkeypatch, tokenizer, caplog):
    model = make_model(window_length=32, window_stride=8, pool_per_head=True)
    texts = ["my child is 12 years old and he is calling from kisumu town " * 4, "hello", ""]
    calls = []
    original = model.forward

    def spy(*args, **kwargs):
        calls.append(kwargs.get("output_pooling_weights", False))
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "forward", spy)
    plain = model.predict(texts, tokenizer)
    assert calls and not any(calls)  # the default call asks for no pooling weights
    assert '"evidence' not in json.dumps(plain) and '"critical_window"' not in json.dumps(plain)
    with caplog.at_level(logging.DEBUG):
        with_evidence = model.predict(texts, tokenizer, evidence=True)
    assert all(calls[len(calls) // 2 + 1 :])
    assert [strip_evidence(r) for r in with_evidence] == json.loads(json.dumps(plain))
    assert with_evidence[2]["case"]["main_category"]["evidence"] == []  # an empty transcript has no words
    assert "kisumu" not in caplog.text.lower()  # evidence is the user's output, never logged
    with pytest.raises(ValueError, match="evidence_top_k: expected a whole number of spans >= 1, got 0"):
        model.predict(texts[0], tokenizer, evidence=True, evidence_top_k=0)
    with pytest.raises(ValueError, match="evidence_top_k"):
        AttentionFusionConfig(encoder_config=tiny_bert_config(), evidence_top_k=0)


def test_the_pipeline_passes_evidence_through(tokenizer):
    model = make_model(window_length=32, window_stride=8)
    pipe = pipeline("helpline-fusion", model=model, tokenizer=tokenizer)
    text = "my child is 12 years old and he is calling from kisumu town"
    single = pipe(text, evidence=True, evidence_top_k=2)
    assert len(single["case"]["priority"]["evidence"]) == 2
    assert "evidence" in pipe([text, text], evidence=True)[1]["quality"]["opening"]["use of call opening phrase"]
    assert '"evidence' not in json.dumps(pipe(text))


@pytest.mark.parametrize("mix", [False, True], ids=["last-layer", "layer-mix"])
def test_a_reloaded_per_head_model_gives_every_head_its_own_pooling_back(tmp_path, mix):
    # config.json stores the heads sorted by name; the pooling queries must not follow that order.
    model = make_model(pool_per_head=True, pool_layer_mix=mix)
    assert list(model.config.case_heads) != sorted(model.config.case_heads)
    model.save_pretrained(tmp_path / "saved")
    reloaded = AutoModel.from_pretrained(tmp_path / "saved", trust_remote_code=True).eval()
    assert list(reloaded.config.case_heads) == sorted(model.config.case_heads)  # the order a reload sees
    ids = torch.randint(5, len(VOCAB), (3, 17))
    with torch.no_grad():
        before = model(input_ids=ids, output_pooling_weights=True)
        after = reloaded(input_ids=ids, output_pooling_weights=True)
    for task in ("cls", "qa"):
        for head, logits in getattr(before, f"{task}_logits").items():
            torch.testing.assert_close(getattr(after, f"{task}_logits")[head], logits, rtol=0, atol=1e-6)
            torch.testing.assert_close(after.head_pooling_weights[task][head], before.head_pooling_weights[task][head])


def test_evidence_works_from_the_shipped_remote_code_alone(tmp_path, tokenizer):
    from .test_remote_code import run_clean

    model = make_model(window_length=32, window_stride=8, pool_per_head=True)
    folder = tmp_path / "saved"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    text = "my child is 12 years old and he is calling from kisumu town " * 3
    expected = model.predict(text, tokenizer, evidence=True)
    (tmp_path / "expected.json").write_text(json.dumps(expected))
    result = run_clean(tmp_path, f"""
        import json
        from transformers import AutoModel, AutoTokenizer
        model = AutoModel.from_pretrained({str(folder)!r}, trust_remote_code=True).eval()
        tokenizer = AutoTokenizer.from_pretrained({str(folder)!r}, trust_remote_code=True)
        print("RESULT", json.dumps(model.predict({text!r}, tokenizer, evidence=True)))
    """)
    assert "RESULT " in result.stdout, result.stderr[-3000:]
    got = json.loads(result.stdout.split("RESULT ", 1)[1])
    assert rounded(got) == rounded(json.loads(json.dumps(expected)))  # another process: float sums may differ
    assert len(all_evidence(got)) == 21 and all(spans for _, spans in all_evidence(got))


# --------------------------------------------------------------------------- the faithfulness benchmark
def test_bench_evidence_runs_on_a_tiny_saved_model_and_names_records_by_id_only(tmp_path, capsys):
    from helpline_fusion.data.synthetic import generate

    files = generate(tmp_path / "data", seed=1, n_ner=1, n_cases=30, n_qa=12, n_qa_heldout=4)
    folder = tmp_path / "model"
    build_tiny_tokenizer(folder)
    torch.manual_seed(0)
    AttentionFusionModel(AttentionFusionConfig(encoder_config=tiny_bert_config(), pool_per_head=True,
                                               window_length=256, window_stride=32)).save_pretrained(folder)  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH_DIR))
        bench = importlib.import_module("bench_evidence")
    output = tmp_path / "evidence.json"
    code = bench.main([
        "--model", str(folder), "--cases-file", str(files["cases_file"]), "--qa-file", str(files["qa_heldout_file"]),
        "--limit", "3", "--draws", "2", "--threads", "1", "--batch-size", "32", "--output", str(output),
    ])  # fmt: skip
    assert code == 0
    report = json.loads(output.read_text())
    printed = capsys.readouterr().out
    assert report["records"] == {"cls": 3, "qa": 3}  # cases: 3 of the validation split; QA: the held-out file
    summary = {row["decision"]: row for row in report["summary"]}
    assert summary["case (all heads)"]["records"] == 12 and summary["quality (all sub-metrics)"]["records"] == 51
    for row in report["summary"]:
        assert 0 <= row["evidence_drops_more"] <= row["records"] and row["decision"] in printed
    rows = report["rows"]
    assert {len(row["drop_random"]) for row in rows} == {2} and all(row["masked_tokens"] > 0 for row in rows)
    assert report["environment"]["cpu"] and isinstance(report["environment"]["cpu_flags"], list)
    # Ids, numbers and decision names only: no transcript text in the report or on the screen.
    cases = json.loads(Path(files["cases_file"]).read_text())
    validation_ids = {row["id"] for row in rows if row["decision"].startswith("case.")}
    texts = [case["narrative"] for case in cases if str(case.get("uniqueid")) in validation_ids]
    assert len(texts) == 3
    for text in texts:
        for piece in (text[:40], text[-40:]):
            assert piece not in output.read_text() and piece not in printed

    assert bench.main(["--model", str(tmp_path / "missing")]) == 2
    assert bench.main(["--model", str(folder), "--cases-file", str(tmp_path / "nope.json")]) == 2
    assert "nope.json: file not found" in capsys.readouterr().err
