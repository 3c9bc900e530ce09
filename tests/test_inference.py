"""Prediction: forced-tag span decoding, windows, one pass, safety-first priority, review flags, the pipeline."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import BertTokenizerFast

from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from helpline_fusion.modeling_attention_fusion.inference_attention_fusion import (
    decode_entities,
    encode_windows,
    window_settings,
)

from .conftest import tiny_bert_config

WORDS = "my name is from town and the child years old he calling danger routine call about".split()
CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789")
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + CHARS + list(".,?!'") + ["##" + c for c in CHARS]


@pytest.fixture
def tokenizer(tmp_path):
    # from_pretrained on a folder holding only vocab.txt builds the fast WordPiece tokenizer in transformers 4 and 5
    folder = tmp_path / "tokenizer"
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    tok = BertTokenizerFast.from_pretrained(folder, do_lower_case=True, model_max_length=512)
    assert tok.tokenize("Kisumu town") == ["k", "##i", "##s", "##u", "##m", "##u", "town"]
    return tok


def make_model(**config_kwargs) -> AttentionFusionModel:
    torch.manual_seed(0)
    config = AttentionFusionConfig(encoder_config=tiny_bert_config(vocab_size=len(VOCAB)), **config_kwargs)
    return AttentionFusionModel(config).eval()


def force(model, monkeypatch, tokenizer, tags=None, edge_margin=0, cls_rows=None, qa=None):
    """Replace the model's logits: `tags` {token: BIO tag} (others `O`), `cls_rows` {head: fn(input_ids) -> logits},
    `qa` {head: logits}. Tokens within `edge_margin` of a window's edges are forced to `O` (no context there)."""
    original = model.forward
    label2id = model.config.label2id

    def forward(input_ids=None, attention_mask=None, task=None, **kwargs):
        out = original(input_ids=input_ids, attention_mask=attention_mask, task=task, **kwargs)
        if out.ner_logits is not None and tags is not None:
            logits = torch.full_like(out.ner_logits, -10.0)
            logits[..., label2id["O"]] = 10.0
            for token, tag in tags.items():
                hit = input_ids == tokenizer.convert_tokens_to_ids(token)
                logits[hit] = -10.0
                logits[hit, label2id[tag]] = 10.0
            for row, length in enumerate(attention_mask.sum(1).tolist()):
                content = length - 2  # [CLS] ... [SEP]
                for i in list(range(edge_margin)) + list(range(content - edge_margin, content)):
                    logits[row, 1 + i] = -10.0
                    logits[row, 1 + i, label2id["O"]] = 10.0
            out.ner_logits = logits
        if out.cls_logits is not None:
            for head, fn in (cls_rows or {}).items():
                out.cls_logits[head] = fn(input_ids).to(out.cls_logits[head].dtype)
        if out.qa_logits is not None:
            for head, logits in (qa or {}).items():
                out.qa_logits[head] = torch.tensor(logits).expand(input_ids.shape[0], -1).clone()
        return out

    monkeypatch.setattr(model, "forward", forward)


def span(text: str, piece: str) -> tuple[int, int]:
    start = text.index(piece)
    return start, start + len(piece)


def rounded(value, digits: int = 4):
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item, digits) for item in value]
    return value


FORCED = {
    "w": "B-NAME",
    "k": "B-LOCATION",
    "town": "I-LOCATION",
    "child": "I-VICTIM",
    "1": "B-AGE",
    "years": "I-AGE",
    "old": "I-AGE",
    "##2": "B-PERPETRATOR",
    "##u": "B-PERPETRATOR",
}


# --------------------------------------------------------------------------- span decoding
def test_forced_tags_give_exact_entities_with_offsets_into_the_original_text(monkeypatch, tokenizer):
    model = make_model()
    force(model, monkeypatch, tokenizer, tags=FORCED)
    text = "My name is  Wanjiru from KISUMU town, and the child is 12 years old."
    result = model.predict(text, tokenizer)
    got = [(e["label"], e["start"], e["end"], e["text"]) for e in result["entities"]]
    # sub-word tags (##u, ##2 forced to B-PERPETRATOR) are ignored: a word takes its first sub-word's tag;
    # I-VICTIM after O starts an entity; I-LOCATION continues B-LOCATION across the word "town".
    assert got == [
        ("NAME", *span(text, "Wanjiru"), "Wanjiru"),
        ("LOCATION", *span(text, "KISUMU town"), "KISUMU town"),
        ("VICTIM", *span(text, "child"), "child"),
        ("AGE", *span(text, "12 years old"), "12 years old"),
    ]
    assert all(e["score"] == pytest.approx(1.0, abs=1e-6) for e in result["entities"])


def test_offsets_are_exact_on_non_ascii_and_multi_code_point_text(monkeypatch, tokenizer):
    model = make_model()
    force(model, monkeypatch, tokenizer, tags=FORCED)
    # Accents the tokenizer strips, an emoji of several code points, a dash and a non-breaking space: the offsets
    # must still point into the original string.
    text = "Jina: Wanjirū 👩‍👧 — from Kísumu town, ni 12 years old ñ."
    got = [(e["label"], e["start"], e["end"], e["text"]) for e in model.predict(text, tokenizer)["entities"]]
    assert got == [
        ("NAME", *span(text, "Wanjirū"), "Wanjirū"),
        ("LOCATION", *span(text, "Kísumu town"), "Kísumu town"),
        ("AGE", *span(text, "12 years old"), "12 years old"),
    ]


def test_an_inside_tag_of_another_type_and_repeated_begin_tags_start_new_entities(monkeypatch, tokenizer):
    model = make_model()
    force(
        model,
        monkeypatch,
        tokenizer,
        tags={
            "he": "B-PERPETRATOR",
            "calling": "I-NAME",
            "from": "B-LOCATION",
            "town": "B-LOCATION",
            "about": "I-LOCATION",
        },
    )
    text = "he calling from town about"
    got = [(e["label"], e["text"]) for e in model.predict(text, tokenizer)["entities"]]
    assert got == [("PERPETRATOR", "he"), ("NAME", "calling"), ("LOCATION", "from"), ("LOCATION", "town about")]


def test_decode_entities_trims_whitespace_and_averages_word_scores():
    text = "call  Amina Otieno now"
    tags = ["O", "B-NAME", "I-NAME"]
    probs = lambda i, p: torch.tensor([p if k == i else (1 - p) / 2 for k in range(3)])  # noqa: E731
    tokens = [
        ((0, 4), 0, probs(0, 0.9)),
        ((4, 11), 1, probs(1, 0.8)),
        ((12, 18), 2, probs(2, 0.6)),
        ((19, 22), 3, probs(0, 0.9)),
    ]  # token 1 wrongly includes two spaces
    (entity,) = decode_entities(text, tokens, tags)
    assert (entity["start"], entity["end"], entity["text"]) == (6, 18, "Amina Otieno")
    assert entity["score"] == pytest.approx(0.7)


def test_entity_crossing_a_window_boundary_comes_out_once_and_whole(monkeypatch, tokenizer):
    # Tokens within 2 of a window edge are forced to O: only the "most central window" rule keeps spans whole.
    model = make_model(window_length=16, window_stride=4)  # 14 text tokens a window, 4 shared
    force(model, monkeypatch, tokenizer, tags=FORCED, edge_margin=2)
    texts = ["the " * 3 + "and " * shift + "from Kisumu town is my call " + "the and " * 6 for shift in range(14)]
    cut_somewhere = never_whole = 0
    for text, windows_of_text in zip(texts, _windows_per_text(texts, tokenizer, 16, 4)):
        start, end = span(text, "Kisumu town")  # 7 tokens
        covering = [w for w in windows_of_text if any(start <= s < end for s, _ in w.offsets)]
        whole = [w.offsets[0][0] <= start and end <= w.offsets[-1][1] for w in covering]
        cut_somewhere += not all(whole)
        never_whole += not any(whole)
    assert cut_somewhere >= 5 and never_whole >= 1, "the shifts must put the entity across window boundaries"
    for text, result in zip(texts, model.predict(texts, tokenizer, batch_size=4)):
        assert result["num_windows"] > 2
        assert [(e["label"], e["start"], e["end"], e["text"]) for e in result["entities"]] == [
            ("LOCATION", *span(text, "Kisumu town"), "Kisumu town")
        ]


def _windows_per_text(texts, tokenizer, length, stride):
    windows = encode_windows(texts, tokenizer, length, stride)
    return [[w for w in windows if w.sample == i] for i in range(len(texts))]


def test_entity_text_is_the_transcript_slice_on_shared_ner_transcripts(shared_data, tokenizer):
    lines = (shared_data / "ner_helpline.jsonl").read_text(encoding="utf-8").splitlines()[:12]
    texts = [json.loads(line)["text"] for line in lines]
    model = make_model()
    results = model.predict(texts, tokenizer, batch_size=8)
    assert max(r["num_windows"] for r in results) > 1  # character pieces make these long
    assert sum(len(r["entities"]) for r in results) > 0
    for index, (text, result) in enumerate(zip(texts, results)):
        words = _word_spans(text, tokenizer)
        starts, ends = {start for start, _ in words}, {end for _, end in words}
        for entity in result["entities"]:
            assert 0 <= entity["start"] < entity["end"] <= len(text), f"record {index}"
            # An entity starts where a word starts and ends where a word ends (never inside a word).
            assert entity["start"] in starts and entity["end"] in ends, f"record {index}"
            assert text[entity["start"] : entity["end"]] == entity["text"], f"record {index}"
            assert entity["text"] and entity["text"] == entity["text"].strip(), f"record {index}"


def _word_spans(text, tokenizer):
    """Character spans of the tokenizer's words over the whole text (its pre-tokenizer, independent of windows)."""
    return [span for _, span in tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str(text)]


# --------------------------------------------------------------------------- one pass, padding, bf16
def test_predict_runs_the_encoder_once_per_batch_for_all_three_tasks(tokenizer):
    model = make_model(window_length=24, window_stride=8)
    texts = ["my child is 12 years old and he was calling from kisumu town " * k for k in (1, 3, 6)] + ["hello"]
    calls = []
    model.encoder.register_forward_hook(lambda module, args, output: calls.append(1))
    fused = model.predict(texts, tokenizer, batch_size=4)
    n_windows = sum(r["num_windows"] for r in fused)
    assert n_windows > 4 and len(calls) == math.ceil(n_windows / 4)
    assert set(fused[0]) >= {"entities", "case", "quality", "needs_review", "review_reasons"}


def test_the_benchmark_earlier_design_padding_and_order_give_predicts_results(tokenizer):
    """`bench/bench_inference.py` pads every window to `window_length` in input order (the earlier design):
    padding and order must not change a decision, or the benchmark would compare different outputs."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "bench_inference.py"
    spec = importlib.util.spec_from_file_location("bench_inference", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    model = make_model(window_length=32, window_stride=8)
    texts = ["hello", "my child is 12 years old " * 9, "he is calling from town", "the child " * 20]
    dynamic = model.predict(texts, tokenizer, batch_size=3)
    padded = bench.predict_variant(model, texts, tokenizer, batch_size=3, bf16=False, padding="max_length",
                                   sort_by_length=False)  # fmt: skip
    assert rounded(dynamic, 3) == rounded(padded, 3)


def _decisions(result):
    return {
        "entities": [(e["label"], e["start"], e["end"]) for e in result["entities"]],
        "case": {head: decision["label"] for head, decision in result["case"].items()},
        "quality": {head: {name: d["met"] for name, d in subs.items()} for head, subs in result["quality"].items()},
    }


def test_bf16_autocast_gives_the_fp32_labels(tokenizer):
    model = make_model(window_length=24, window_stride=8)
    with torch.no_grad():  # decisive heads (a trained model's margins), so bf16 rounding cannot flip a near-tie
        for head in (model.ner_head, model.cls_head, model.qa_head):
            for module in head.modules():
                if isinstance(module, torch.nn.Linear) and module.out_features > 1:
                    module.weight.mul_(30.0)
    texts = ["my child is 12 years old and he is calling from kisumu town about danger", "hello, routine call"]
    fp32 = model.predict(texts, tokenizer)
    bf16 = model.predict(texts, tokenizer, bf16=True)
    assert sum(len(r["entities"]) for r in fp32) > 0
    for index, (a, b) in enumerate(zip(fp32, bf16)):
        assert _decisions(b) == _decisions(a), f"text {index}"
        assert b["case"]["priority"]["score"] == pytest.approx(a["case"]["priority"]["score"], abs=0.05)


def test_a_single_task_model_returns_only_its_part(tokenizer):
    torch.manual_seed(0)
    config = AttentionFusionConfig(encoder_config=tiny_bert_config(vocab_size=len(VOCAB)), tasks=["cls"])
    result = AttentionFusionModel(config).predict("my child", tokenizer)
    assert "case" in result and "entities" not in result and "quality" not in result


# --------------------------------------------------------------------------- priority, consistency, quality
def _priority_rows(tokenizer, critical_logit: float = 2.2):
    danger = tokenizer.convert_tokens_to_ids("danger")

    def rows(input_ids):
        logits = torch.tensor([0.0, 0.0, 3.0]).repeat(input_ids.shape[0], 1)  # routine ("3") at ~0.91
        logits[(input_ids == danger).any(dim=1)] = torch.tensor([critical_logit, 0.0, 0.0])
        return logits

    return rows


def test_one_critical_window_among_many_routine_ones_raises_the_critical_alert(monkeypatch, tokenizer):
    model = make_model(window_length=16, window_stride=4)
    force(model, monkeypatch, tokenizer, cls_rows={"priority": _priority_rows(tokenizer)})
    routine = "the routine call about my child " * 12
    text = routine + "danger " + routine
    result, control = model.predict([text, routine + routine], tokenizer, batch_size=8)
    priority = result["case"]["priority"]
    assert result["num_windows"] >= 10
    assert 1 <= len(priority["critical_windows"]) <= 2  # the windows that saw "danger"
    assert priority["critical_alert"] is True and priority["critical_probability"] > 0.75  # one window is enough...
    assert priority["label"] == "3" == priority["top_k"][0]["label"]  # ...beside the call's overall decision
    assert priority["safety_override"] is False
    assert control["case"]["priority"]["label"] == "3" and control["case"]["priority"]["critical_windows"] == []
    assert control["case"]["priority"]["critical_alert"] is False


def test_the_override_rule_makes_the_alerted_call_critical(monkeypatch, tokenizer):
    model = make_model(window_length=16, window_stride=4, critical_rule="override")
    force(model, monkeypatch, tokenizer, cls_rows={"priority": _priority_rows(tokenizer)})
    routine = "the routine call about my child " * 12
    result, control = model.predict([routine + "danger " + routine, routine + routine], tokenizer, batch_size=8)
    priority = result["case"]["priority"]
    assert priority["top_k"][0]["label"] == "3"  # the confidence-weighted average says routine...
    assert priority["label"] == "1" and priority["safety_override"] is True  # ...but one window is enough
    assert priority["score"] == pytest.approx(priority["critical_probability"]) and priority["critical_alert"] is True
    assert control["case"]["priority"]["label"] == "3" and control["case"]["priority"]["safety_override"] is False
    with pytest.raises(ValueError, match="critical_rule: unknown critical rule 'sometimes'"):
        make_model(critical_rule="sometimes")


def test_prior_correction_undoes_the_class_weights_of_the_loss(monkeypatch, tokenizer):
    # A head trained with class weights w scores log w too high per class; the correction takes it back off.
    weights = [6.0, 1.5, 0.5]
    tilted = torch.tensor([math.log(w) for w in weights]) + torch.tensor([0.0, 0.4, 0.6])  # untilted: "3" leads
    plain = make_model(case_class_weights={"priority": weights})
    corrected = make_model(case_class_weights={"priority": weights}, case_prior_correction=True,
                           critical_threshold=0.99)  # fmt: skip
    for model in (plain, corrected):
        force(model, monkeypatch, tokenizer, cls_rows={"priority": lambda ids: tilted.repeat(ids.shape[0], 1)})
    assert plain.predict("my child", tokenizer)["case"]["priority"]["label"] == "1"  # the weights' tilt decides
    priority = corrected.predict("my child", tokenizer)["case"]["priority"]
    expected = torch.tensor([0.0, 0.4, 0.6]).softmax(-1)
    assert priority["label"] == "3" and priority["score"] == pytest.approx(float(expected[2]), abs=1e-5)
    assert priority["critical_probability"] == pytest.approx(float(expected[0]), abs=1e-5)
    assert priority["critical_alert"] is False
    assert corrected.config.case_logit_offset("priority") == pytest.approx(
        [-math.log(w) + sum(map(math.log, weights)) / 3 for w in weights])  # centred: the softmax is the same
    assert plain.config.case_logit_offset("priority") is None


def test_the_prior_mix_lets_the_frequent_class_win_unless_the_model_is_sure(monkeypatch, tokenizer):
    priors = {"priority": [0.2, 0.2, 0.6]}
    unsure = torch.tensor([0.0, 0.8, 0.0])  # p("2") = 0.53: the model leans to "2"
    model = make_model(case_class_priors=priors, case_prior_mix={"priority": 0.3}, critical_threshold=0.99)
    force(model, monkeypatch, tokenizer, cls_rows={"priority": lambda ids: unsure.repeat(ids.shape[0], 1)})
    priority = model.predict("my child", tokenizer)["case"]["priority"]
    expected = 0.3 * unsure.softmax(-1) + 0.7 * torch.tensor(priors["priority"])
    assert priority["label"] == "3" and priority["score"] == pytest.approx(float(expected[2]), abs=1e-5)
    assert sum(t["score"] for t in priority["top_k"]) == pytest.approx(1.0, abs=1e-5)  # still a distribution
    model.config.case_prior_mix = {"priority": 1.0}  # the model alone
    assert model.predict("my child", tokenizer)["case"]["priority"]["label"] == "2"
    with pytest.raises(ValueError, match=r"case_prior_mix\['priority'\]: expected a share in \[0, 1\]"):
        make_model(case_prior_mix={"priority": 1.5})
    with pytest.raises(ValueError, match=r"case_class_priors\['priority'\]: expected 3 non-negative values"):
        make_model(case_class_priors={"priority": [0.5, 0.5]})


def test_critical_probability_below_the_threshold_does_not_override(monkeypatch, tokenizer):
    model = make_model(window_length=16, window_stride=4, critical_threshold=0.9)
    force(model, monkeypatch, tokenizer, cls_rows={"priority": _priority_rows(tokenizer)})
    text = "the routine call " * 10 + "danger " + "the routine call " * 10
    priority = model.predict(text, tokenizer)["case"]["priority"]
    assert 0.75 < priority["critical_probability"] < 0.9
    assert priority["label"] == "3" and priority["critical_windows"] == [] and not priority["safety_override"]
    assert priority["critical_alert"] is False


def _one_hot_rows(labels, label, value=8.0):
    logits = torch.zeros(len(labels))
    logits[labels.index(label)] = value
    return lambda input_ids: logits.repeat(input_ids.shape[0], 1)


def test_main_and_sub_category_are_decided_jointly_and_agree(monkeypatch, tokenizer):
    model = make_model()
    heads, table = model.config.case_heads, model.config.sub_to_main
    rows = {head: _one_hot_rows(labels, labels[0]) for head, labels in heads.items()}
    rows["sub_category"] = _one_hot_rows(heads["sub_category"], "Bullying", value=2.0)  # weakly "Bullying"
    rows["main_category"] = _one_hot_rows(heads["main_category"], "GBV")  # strongly GBV: the heads disagree
    force(
        model, monkeypatch, tokenizer, cls_rows=rows, qa={h: [4.0] * len(n) for h, n in model.config.qa_heads.items()}
    )
    result = model.predict("my child is calling", tokenizer)
    # p(sub) x p(main of sub): a GBV sub-category (the first one, all being equally likely) beats "Bullying".
    first_gbv_sub = next(sub for sub in heads["sub_category"] if table.get(sub) == "GBV")
    assert result["case"]["main_category"]["label"] == "GBV"
    assert result["case"]["sub_category"]["label"] == first_gbv_sub
    assert result["case_consistency"] == {
        "consistent": True, "main_category": "GBV", "sub_category": first_gbv_sub, "expected_main_category": "GBV"
    }  # fmt: skip
    assert ("case.main_category", "inconsistent_with_sub_category") not in [
        (r["decision"], r["reason"]) for r in result["review_reasons"]
    ]


def test_agreeing_heads_keep_their_answer(monkeypatch, tokenizer):
    model = make_model()
    heads = model.config.case_heads
    rows = {head: _one_hot_rows(labels, labels[0]) for head, labels in heads.items()}
    rows["sub_category"] = _one_hot_rows(heads["sub_category"], "Bullying")
    rows["main_category"] = _one_hot_rows(heads["main_category"], "Advice and Counselling")
    force(
        model, monkeypatch, tokenizer, cls_rows=rows, qa={h: [4.0] * len(n) for h, n in model.config.qa_heads.items()}
    )
    result = model.predict("my child is calling", tokenizer)
    assert result["case_consistency"]["consistent"] is True
    assert result["case"]["sub_category"]["label"] == "Bullying"
    assert result["case"]["main_category"]["label"] == "Advice and Counselling"


def test_quality_sub_metrics_use_their_own_thresholds(monkeypatch, tokenizer):
    model = make_model(qa_thresholds={"opening": [0.9], "hold": [0.5, 0.85]})
    logit = math.log(0.8 / 0.2)
    force(
        model, monkeypatch, tokenizer, qa={head: [logit] * len(names) for head, names in model.config.qa_heads.items()}
    )
    quality = model.predict("my child", tokenizer)["quality"]
    assert quality["opening"] == {"use of call opening phrase": {"score": pytest.approx(0.8), "met": False}}
    assert quality["hold"]["explains before placing on hold"]["met"] is True
    assert quality["hold"]["thanks caller for holding"]["met"] is False
    assert quality["listening"]["caller not interrupted"]["met"] is True
    assert list(quality) == list(model.config.qa_heads)


def test_low_confidence_case_decisions_are_listed_for_review(tokenizer):
    model = make_model(review_threshold=0.5)  # random heads over 65 sub-categories are far below 0.5
    result = model.predict("my child is calling about town", tokenizer)
    decisions = [r["decision"] for r in result["review_reasons"] if r["reason"] == "low_confidence"]
    assert result["needs_review"] is True and "case.sub_category" in decisions
    sub = result["case"]["sub_category"]
    assert sub["score"] < 0.5 and len(sub["top_k"]) == 3 and sub["top_k"][0]["label"] == sub["label"]


# --------------------------------------------------------------------------- settings
def test_window_settings_explain_bad_values(tokenizer):
    config = make_model().config
    assert window_settings(config, tokenizer, None, None) == (512, 128)
    with pytest.raises(ValueError, match=r"window_stride: 14 must be in \[0, 14\)"):
        window_settings(config, tokenizer, 16, 14)
    with pytest.raises(ValueError, match="window_length: 600 tokens exceed what this encoder/tokenizer accepts"):
        window_settings(config, tokenizer, 600, 10)
    with pytest.raises(ValueError, match=r"texts\[1\]: expected a string transcript, found int"):
        make_model().predict(["ok", 3], tokenizer)


# --------------------------------------------------------------------------- the pipeline, from remote code
CHILD = textwrap.dedent(
    """
    import importlib.abc, json, sys

    class BlockProject(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"helpline_fusion", "modeling_attention_fusion", "data", "train"}:
                raise ImportError(f"blocked import of {name}: remote code must not need the project")
            return None

    sys.meta_path.insert(0, BlockProject())
    from transformers import AutoModel, AutoTokenizer, pipeline
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    folder, texts = sys.argv[1], json.loads(sys.argv[2])
    model = AutoModel.from_pretrained(folder, trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)  # its config has remote code
    Pipe = get_class_from_dynamic_module("pipeline_attention_fusion.HelplineFusionPipeline", folder)
    direct = Pipe(model=model, tokenizer=tokenizer, device=-1)(texts, batch_size=2)
    by_folder = pipeline(model=folder, trust_remote_code=True, device=-1)
    from transformers.pipelines import PIPELINE_REGISTRY
    side_effect = "helpline-fusion" in PIPELINE_REGISTRY.get_supported_tasks()  # loading the code registers nothing
    get_class_from_dynamic_module("pipeline_attention_fusion.register_pipeline", folder)()
    registered = pipeline("helpline-fusion", model=model, tokenizer=tokenizer, device=-1)
    print(json.dumps({
        "direct": direct, "folder_single": by_folder(texts[0]), "registered": registered(texts),
        "model_module": type(model).__module__, "folder_pipeline": type(by_folder).__name__, "side_effect": side_effect,
        "project_imported": sorted(m for m in sys.modules if m.split(".")[0] == "helpline_fusion"),
    }))
    """
)


def test_pipeline_works_after_a_clean_remote_code_load(tmp_path, tokenizer):
    model = make_model(window_length=24, window_stride=8)
    folder = tmp_path / "saved"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    assert json.loads((folder / "config.json").read_text())["custom_pipelines"]["helpline-fusion"]["impl"] == (
        "pipeline_attention_fusion.HelplineFusionPipeline"
    )
    assert (folder / "pipeline_attention_fusion.py").is_file() and (folder / "inference_attention_fusion.py").is_file()

    texts = ["my child is 12 years old and he is calling from kisumu town " * 4, "hello", "danger at the town"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "PYTHONSTARTUP"}}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"), TOKENIZERS_PARALLELISM="false")
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), json.dumps(texts)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    out = json.loads(child.stdout.strip().splitlines()[-1])
    assert out["project_imported"] == [] and out["model_module"].startswith("transformers_modules.")
    assert out["folder_pipeline"] == "HelplineFusionPipeline" and out["side_effect"] is False

    expected = rounded(model.predict(texts, tokenizer, batch_size=2))
    assert rounded(out["direct"]) == expected
    assert rounded(out["registered"]) == expected
    assert rounded(out["folder_single"]) == expected[0]
