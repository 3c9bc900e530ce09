"""The refit's logistic fit of the quality heads (`qa_refit_c`, train/refit.py): the solver finds scikit-learn's
regularised optimum, the fitted rows are what the full model computes afterwards, only the quality heads' linear
rows change, stronger regularisation gives smaller weights, a one-answer sub-metric gets its log-odds, and a model
the fit cannot serve is refused before any work."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from datasets import Dataset

from helpline_fusion.data.collator import MultiTaskCollator
from helpline_fusion.data.tokenization import tokenize_qa
from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel
from helpline_fusion.train.phases import planned_phases
from helpline_fusion.train.refit import fit_logistic, quality_features, refit_pooled_heads
from helpline_fusion.train.settings import RecipeArguments

from .conftest import build_tiny_tokenizer, tiny_bert_config

WORDS = "the a my is from in at of to and was he she his her call child you i calling old years".split()


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.mark.parametrize("c", [0.01, 1.0])
def test_the_solver_finds_scikit_learns_optimum(c):
    sklearn = pytest.importorskip("sklearn.linear_model")  # the dev extra installs it
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 7)) * np.array([1, 5, 0.1, 2, 1, 3, 0.5]) + np.array([0, 3, -1, 0, 10, 0, 0])
    y = (x[:, 0] - 0.4 * x[:, 1] + rng.normal(scale=1.0, size=120) > -1.0).astype(float)
    weight, bias, iterations = fit_logistic(torch.tensor(x), torch.tensor(y), c)
    mean, spread = x.mean(0), x.std(0) + 1e-6
    reference = sklearn.LogisticRegression(C=c, tol=1e-12, max_iter=100_000).fit((x - mean) / spread, y)
    expected = reference.coef_[0] / spread
    np.testing.assert_allclose(weight.numpy(), expected, rtol=1e-4, atol=1e-5)  # both solvers stop at a tolerance
    assert bias == pytest.approx(float(reference.intercept_[0] - expected @ mean), abs=1e-5)
    assert 0 < iterations <= 500
    # Decisions on the original columns equal the reference's on its standardised ones.
    ours = x @ weight.numpy() + bias
    np.testing.assert_allclose(ours, reference.decision_function((x - mean) / spread), atol=1e-5)


def _toy(tokenizer, count: int = 60, seed: int = 0):
    """Calls whose `opening` is met exactly when the counsellor says "help"; `closing` is always met (one answer)."""
    rng = random.Random(seed)
    texts, opening = [], []
    for index in range(count):
        met = index % 2 == 0
        turns = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 6))) for _ in range(4)]
        if met:
            turns[1] = "help " + turns[1]
        texts.append("\n".join(f"{'Caller' if k % 2 == 0 else 'Counsellor'}: {t}" for k, t in enumerate(turns)))
        opening.append([float(met)])
    config = AttentionFusionConfig(
        encoder_config=tiny_bert_config(), tasks=["qa"], qa_pooling="turns", pool_per_head=True, window_length=128,
        window_stride=16, qa_heads={"opening": ["greets"], "closing": ["closes"]},
    )  # fmt: skip
    data = Dataset.from_dict({"text": texts, "qa_opening": opening, "qa_closing": [[1.0]] * count})
    return config, tokenize_qa(data, tokenizer, config)


def _logits(model, windows, collator):
    batch = collator([windows[i] for i in range(len(windows))])
    batch.pop("example_id")
    labels = batch.pop("labels")
    with torch.no_grad():
        return model.eval()(**batch).qa_logits, labels


def test_the_fitted_rows_are_what_the_model_computes_and_nothing_else_moves(tmp_path):
    tokenizer = build_tiny_tokenizer(tmp_path / "tok")
    config, windows = _toy(tokenizer)
    torch.manual_seed(0)
    model = AttentionFusionModel(config)
    collator = MultiTaskCollator(tokenizer, config)
    head = model.qa_head
    before = {name: value.clone() for name, value in model.state_dict().items()}
    report = refit_pooled_heads(model, {"qa": windows}, collator, epochs=0, learning_rate=1e-3, qa_refit_c=1.0)
    after = model.state_dict()
    moved = {name for name in before if not torch.equal(before[name], after[name])}
    assert {"qa_head.heads.opening.weight", "qa_head.heads.opening.bias"} <= moved
    assert all(name.startswith("qa_head.heads.") for name in moved)  # encoder, norm, turn attention: as they were
    assert report["qa_logistic"]["c"] == 1.0 and report["qa_logistic"]["windows"] == len(windows)
    assert report["train_loss"] == {} and report["steps"] == 0  # no gradient epochs were asked for
    # The full model's logits are the fitted regression's on the features the head reads.
    cache = [{"states": s, "turn_ids": t, "labels": lab} for s, t, lab in _cached(model, windows, collator)]
    attended, shared, labels = quality_features(head, cache)
    x = torch.cat([attended[:, head.slices["opening"].start], shared], dim=-1)
    weight, bias, _ = fit_logistic(x, labels["opening"][:, 0].double(), 1.0)
    logits, gold = _logits(model, windows, collator)
    np.testing.assert_allclose(logits["opening"][:, 0].double().numpy(), (x @ weight + bias).numpy(), atol=1e-4)
    # The marker said by the counsellor decides the opening: the fit separates the training calls.
    assert ((logits["opening"][:, 0] > 0) == (gold["opening"][:, 0] > 0.5)).all()
    # Every training call's closing is met: no weight, the smoothed log-odds as intercept.
    assert torch.equal(head.heads["closing"].weight, torch.zeros_like(head.heads["closing"].weight))
    assert float(head.heads["closing"].bias.detach()[0]) == pytest.approx(math.log((len(windows) + 0.5) / 0.5))


def _cached(model, windows, collator):
    from helpline_fusion.train.refit import cache_pooling_inputs

    for row in cache_pooling_inputs(model.eval(), windows, collator, 16, task="qa"):
        yield row["states"], row["turn_ids"], row["labels"]


def test_stronger_regularisation_gives_smaller_weights(tmp_path):
    tokenizer = build_tiny_tokenizer(tmp_path / "tok")
    config, windows = _toy(tokenizer)
    collator = MultiTaskCollator(tokenizer, config)
    norms = []
    for c in (0.001, 0.1, 10.0):
        torch.manual_seed(0)
        model = AttentionFusionModel(config)
        refit_pooled_heads(model, {"qa": windows}, collator, epochs=0, learning_rate=1e-3, qa_refit_c=c)
        norms.append(float(model.qa_head.heads["opening"].weight.norm()))
    assert norms[0] < norms[1] < norms[2]


def test_a_model_the_fit_cannot_serve_and_a_bad_strength_are_refused(tmp_path):
    tokenizer = build_tiny_tokenizer(tmp_path / "tok")
    _, windows = _toy(tokenizer, count=8)
    config = AttentionFusionConfig(encoder_config=tiny_bert_config(), tasks=["qa"], qa_pooling="tokens",
                                   qa_heads={"opening": ["greets"], "closing": ["closes"]})  # fmt: skip
    tokens_windows = tokenize_qa(Dataset.from_dict({"text": ["Counsellor: help you"] * 4, "qa_opening": [[1.0]] * 4,
                                                    "qa_closing": [[0.0]] * 4}), tokenizer, config)  # fmt: skip
    model = AttentionFusionModel(config)
    collator = MultiTaskCollator(tokenizer, config)
    with pytest.raises(ValueError, match="qa_refit_c: .*qa_pooling: turns"):
        refit_pooled_heads(model, {"qa": tokens_windows}, collator, epochs=0, learning_rate=1e-3, qa_refit_c=0.01)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="qa_refit_c: expected an inverse regularisation strength > 0"):
            refit_pooled_heads(model, {"qa": windows}, collator, epochs=0, learning_rate=1e-3, qa_refit_c=bad)


def test_the_refit_phase_runs_for_the_logistic_fit_alone():
    recipe = RecipeArguments(refit_heads_epochs=0, qa_refit_c=0.001)
    assert "refit" in planned_phases(recipe, ["qa"])
    assert "refit" not in planned_phases(RecipeArguments(refit_heads_epochs=0), ["qa"])


def test_the_card_says_the_quality_heads_were_fitted_as_logistic_regressions():
    from helpline_fusion.train.model_card import HelplineFusionModelCardData

    config = AttentionFusionConfig(encoder_config=tiny_bert_config(), qa_pooling="turns")
    fitted = str(HelplineFusionModelCardData(refit_heads_epochs=4, qa_refit_c=0.001).to_model_card(config))
    assert "logistic regressions (C 0.001" in fitted and "for 4 epochs" in fitted
    assert "logistic regressions" not in str(HelplineFusionModelCardData(refit_heads_epochs=4).to_model_card(config))


def _argv(encoder, output, *extra):
    return [
        "--encoder", str(encoder), "--synthetic", "true", "--synthetic_size", "24", "--output_dir", str(output),
        "--tasks", "qa", "--max_steps", "2", "--eval_strategy", "no", "--save_strategy", "no", "--window_length",
        "128", "--window_stride", "32", "--per_device_train_batch_size", "4", "--report_to", "none", "--use_cpu",
        "true", "--dataloader_num_workers", "0", "--disable_tqdm", "true", *extra,
    ]  # fmt: skip


def test_a_training_run_fits_the_quality_heads_and_a_token_pooled_one_is_refused_before_training(tmp_path):
    import json

    from transformers import BertModel

    from helpline_fusion.train.settings import parse_settings
    from helpline_fusion.train.training import train

    encoder = tmp_path / "encoder"
    BertModel(tiny_bert_config()).save_pretrained(encoder)
    build_tiny_tokenizer(encoder)
    output = tmp_path / "out"
    train(*parse_settings(_argv(encoder, output, "--qa_pooling", "turns", "--qa_refit_c", "0.01")))
    refit = json.loads((output / "refit_heads.json").read_text())  # refit_heads_epochs 0: the fit alone
    assert refit["qa_logistic"]["c"] == 0.01 and refit["qa_logistic"]["windows"] == refit["windows"]["qa"] > 0
    assert refit["steps"] == 0 and set(refit["qa_logistic"]["train_log_loss"]) == {
        "opening", "listening", "proactiveness", "resolution", "hold", "closing"}
    assert "logistic regressions (C 0.01" in (output / "README.md").read_text()
    refused = tmp_path / "refused"
    with pytest.raises(ValueError, match="qa_refit_c: .*qa_pooling is 'tokens'"):
        train(*parse_settings(_argv(encoder, refused, "--qa_pooling", "tokens", "--qa_refit_c", "0.01")))
    assert not (refused / "model.safetensors").exists()


def test_a_head_decided_on_one_window_is_fitted_on_those_windows_only(tmp_path):
    from helpline_fusion.train.refit import fit_quality_heads, scope_masks

    masks = scope_masks([7, 7, 7, 3, 5, 5], 6)  # three calls: 3 windows, 1, 2
    assert masks["first"].tolist() == [True, False, False, True, True, False]
    assert masks["last"].tolist() == [False, False, True, True, False, True]
    with pytest.raises(ValueError, match="qa_refit_c: 2 example ids for 6 cached windows"):
        scope_masks([1, 2], 6)

    tokenizer = build_tiny_tokenizer(tmp_path / "tok")
    config, windows = _toy(tokenizer)
    assert config.qa_window_scope == {"opening": "first", "closing": "last"}  # turn pooling's default
    torch.manual_seed(0)
    model = AttentionFusionModel(config)
    collator = MultiTaskCollator(tokenizer, config)
    cache = [{"states": s, "turn_ids": t, "labels": lab} for s, t, lab in _cached(model, windows, collator)]
    assert len(cache) == 60
    triples = [index // 3 for index in range(len(cache))]  # pretend every three windows are one call
    report = fit_quality_heads(model, cache, 1.0, example_ids=triples)
    assert report["scoped_windows"] == {"opening": 20, "closing": 20}
    attended, shared, labels = quality_features(model.qa_head, cache)
    x = torch.cat([attended[:, 0], shared], dim=-1)
    weight, bias, _ = fit_logistic(x[0::3], labels["opening"][0::3, 0].double(), 1.0)  # the calls' first windows
    np.testing.assert_allclose(model.qa_head.heads["opening"].weight[0].detach().double().numpy(), weight.numpy(),
                               rtol=1e-4, atol=1e-6)  # fmt: skip
    everywhere, _, _ = fit_logistic(x, labels["opening"][:, 0].double(), 1.0)
    assert not torch.allclose(everywhere, weight, atol=1e-4)  # fitting every window would give another row
    assert float(model.qa_head.heads["opening"].bias.detach()[0]) == pytest.approx(bias, abs=1e-5)
    # The closing (always met) counts only the calls' last windows in its log-odds.
    assert float(model.qa_head.heads["closing"].bias.detach()[0]) == pytest.approx(math.log(20.5 / 0.5))
