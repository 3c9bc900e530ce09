"""The model card tells the truth about safety: a tiny model trained through the package's own job (train ->
calibrate -> evaluate -> card) gets a card whose safety figures are the held-out ones of `calibration.json` (a
test split for the case data, cross-fitted validation for quality data too small for one), with the in-sample
figures only beside them and labelled, and whose other metrics are those of `eval_results.json`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard
from transformers import AutoModel

from helpline_fusion.data.loaders import load_cases
from helpline_fusion.data.splits import train_validation_split
from helpline_fusion.data.synthetic import generate
from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig
from helpline_fusion.train.model_card import IN_SAMPLE, REVISION_PLACEHOLDER, card_for_repo
from helpline_fusion.train.run import main as train_main

from .conftest import build_tiny_tokenizer, tiny_bert_config

N_CASES, N_QA, SEED, TEST_FRACTION, VALIDATION = 110, 40, 5, 0.3, 0.1


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("card_safety")
    torch.manual_seed(0)
    AutoModel.from_config(tiny_bert_config()).save_pretrained(root / "encoder")
    build_tiny_tokenizer(root / "encoder")
    files = generate(root / "data", seed=3, n_ner=10, n_cases=N_CASES, n_qa=N_QA, n_qa_heldout=10)
    args = [
        "--encoder", str(root / "encoder"), "--tasks", "cls", "qa",
        "--cases_file", str(files["cases_file"]), "--qa_file", str(files["qa_file"]),
        "--output_dir", str(root / "run"), "--window_length", "128", "--window_stride", "32",
        "--per_device_train_batch_size", "16", "--per_device_eval_batch_size", "64", "--max_steps", "3",
        "--validation_size", str(VALIDATION), "--test_fraction", str(TEST_FRACTION),
        "--eval_strategy", "no", "--save_strategy", "no", "--use_cpu", "true", "--seed", str(SEED),
        "--report_to", "none", "--dataloader_num_workers", "0", "--disable_tqdm", "true",
        "--hub_model_id", "helpline-org/tiny-safety",
    ]  # fmt: skip
    assert train_main(args) == 0
    output = root / "run"
    return {
        "output": output,
        "files": files,
        "calibration": json.loads((output / "calibration.json").read_text()),
        "eval": json.loads((output / "eval_results.json").read_text()),
        "card": (output / "README.md").read_text(),
    }


def _safety_rows(card: str) -> dict[str, list[str]]:
    """The safety table of a card: figure -> [held out, measured on, in-sample]."""
    section = card.split("## Safety figures", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("figure", "---"):
            rows[cells[0]] = cells[1:]
    return rows


def test_the_case_figures_are_measured_on_the_test_split_and_quality_cross_fitted(trained):
    held = trained["calibration"]["held_out"]
    # The test split is the one data/splits.py makes from the same records, seed and fractions.
    cases, _ = load_cases(trained["files"]["cases_file"], config=AttentionFusionConfig())
    parts = train_validation_split(cases, validation_size=VALIDATION, seed=SEED, test_size=TEST_FRACTION)
    assert held["case"]["evaluated_on"] == "test"
    assert held["case"]["records"] == len(parts["test"]) == held["case"]["critical"]["records"] > 0
    assert held["case"]["critical"]["critical_calls"] == sum(p == "1" for p in parts["test"]["priority"])
    # 40 quality records give 12 test groups, fewer than a test split needs: cross-fitted validation stands in.
    assert held["quality"]["evaluated_on"] == "validation (cross-fitted)"
    assert held["quality"]["folds"] == min(5, held["quality"]["records"]) >= 2
    assert held["quality"]["records"] == trained["calibration"]["review"]["quality"]["records"]
    # The card's data section counts the same test records.
    assert f"{len(parts['train'])} training and {len(parts['validation'])} validation records, {len(parts['test'])} test" in trained["card"]


def test_the_card_headlines_the_held_out_safety_figures_beside_the_in_sample_ones(trained):
    report, card = trained["calibration"], trained["card"]
    rows = _safety_rows(card)
    critical, fitted = report["held_out"]["case"]["critical"], report["critical"]
    found = round(critical["critical_recall"] * critical["critical_calls"])
    recall = rows["critical recall (share of critical calls alerted)"]
    assert recall[0] == f"**{critical['critical_recall']:.3f}** ({found} of {critical['critical_calls']} critical calls)"
    assert recall[1] == f"test split, {report['held_out']['case']['records']} calls"
    assert recall[2] == f"{fitted['critical_recall']:.3f} (of {fitted['critical_calls']} critical calls)"
    alarms = rows["false alarms per 100 calls (alerted, not critical)"]
    assert alarms[0] == (f"**{critical['false_alarms_per_100_calls']:.1f}** ({critical['false_alarms']} of "
                         f"{critical['records']} calls)")  # fmt: skip
    assert alarms[2] == f"{fitted['false_alarms_per_100_calls']:.1f}"
    precision = rows["critical precision (share of alerted calls that are critical)"]
    assert precision[0].startswith(f"**{critical['critical_precision']:.3f}**")
    for task, title in (("case", "case"), ("quality", "call-quality")):
        flags = report["held_out"][task]["review"]
        assert rows[f"{title} calls flagged `needs_review`"][0] == (
            f"**{100 * flags['flagged_share']:.0f}%** of {flags['records']} calls"
        )
        assert rows[f"{title} calls with any wrong decision: flagged vs not flagged"][0] == (
            f"**{flags['error_rate_flagged']:.3f}** vs **{flags['error_rate_not_flagged']:.3f}**"
        )
    quality_where = rows["call-quality calls flagged `needs_review`"][1]
    quality = report["held_out"]["quality"]
    assert quality_where == f"validation, cross-fitted ({quality['folds']} folds), {quality['records']} calls"
    assert f"| figure | held out | measured on | {IN_SAMPLE} |" in card
    assert f"**{report['critical']['critical_threshold']:.4f}**" in card
    # The safety section comes before everything else a reader acts on.
    assert card.index("## Safety figures") < card.index("## How to use") < card.index("## Evaluation")


def test_the_cards_metrics_agree_with_eval_results_and_the_calibration_report(trained):
    metrics, report = trained["eval"], trained["calibration"]
    card = ModelCard(trained["card"])
    # eval_results.json stays on validation: no held-out figure in it; its critical recall is the in-sample one.
    assert not [key for key in metrics if "heldout" in key]
    assert metrics["cls_priority_critical_recall"] == pytest.approx(report["critical"]["critical_recall"])
    by_name = {(r.task_name, r.metric_name, r.dataset_split): r.metric_value for r in card.data.eval_results}
    assert by_name[("all tasks", "composite", "validation")] == pytest.approx(metrics["composite"], abs=1e-4)
    assert by_name[("case priority", f"critical recall, {IN_SAMPLE}", "validation")] == pytest.approx(
        metrics["cls_priority_critical_recall"], abs=1e-4
    )
    assert by_name[("case priority", "critical recall (test split)", "test")] == pytest.approx(
        report["held_out"]["case"]["critical"]["critical_recall"], abs=1e-4
    )
    assert by_name[("case priority", "false alarms per 100 calls (test split)", "test")] == pytest.approx(
        report["held_out"]["case"]["critical"]["false_alarms_per_100_calls"], abs=1e-4
    )
    evaluation = trained["card"].split("## Evaluation", 1)[1]
    assert f"| cls_priority_critical_recall, {IN_SAMPLE}: see Safety figures | " \
        f"{metrics['cls_priority_critical_recall']:.4f} |" in evaluation
    assert f"| composite | {metrics['composite']:.4f} |" in evaluation
    # The stored config holds what calibration fitted: predict applies the thresholds the card reports on.
    config = json.loads((trained["output"] / "config.json").read_text())
    assert config["critical_threshold"] == report["critical"]["critical_threshold"]
    assert config["review_thresholds"] == report["review_thresholds"]


def test_the_card_states_use_failure_modes_privacy_and_pins_a_revision(trained):
    card = trained["card"]
    for piece in (
        "## Intended use", "triage aid for trained counsellors", "### Out of scope",
        "**Any automatic decision about a child**", "### Known failure modes (measured in this project)",
        "ROC AUC 0.625", "macro F1 0.505 on 240 externally written calls", "Swahili and Sheng code-switching",
        "**private** unless `--public` is given",
        "[helpline-org/tiny-safety](https://huggingface.co/helpline-org/tiny-safety)",
    ):  # fmt: skip
        assert piece in card, piece
    assert "https://github.com/)" not in card  # no placeholder link
    assert f'from_pretrained("helpline-org/tiny-safety", revision="{REVISION_PLACEHOLDER}", trust_remote_code=True)' in card
    assert f"--model helpline-org/tiny-safety --revision {REVISION_PLACEHOLDER} " in card
    published = str(card_for_repo(ModelCard(card), "team/published", revision="v2.1.0"))
    assert REVISION_PLACEHOLDER not in published and "helpline-org/tiny-safety" not in published
    assert 'AutoModel.from_pretrained("team/published", revision="v2.1.0", trust_remote_code=True)' in published
    assert "--model team/published --revision v2.1.0 " in published
    assert "[team/published](https://huggingface.co/team/published)" in published
    # No transcript text from the training data in the card.
    texts = [record["narrative"] for record in json.loads(Path(trained["files"]["cases_file"]).read_text())]
    assert not any(text[:40] in card for text in texts if len(text) >= 40)


def test_a_card_without_held_out_figures_says_so():
    from helpline_fusion.train.model_card import render_model_card

    config = AttentionFusionConfig(encoder_config=tiny_bert_config().to_dict())
    metrics = {"eval_composite": 0.4, "calib_critical_threshold": 0.31, "calib_critical_recall": 0.9,
               "calib_critical_calls": 10, "calib_critical_precision": 0.5}  # fmt: skip
    text = str(render_model_card(config, metrics, repo_id="org/old"))
    assert "**No held-out figures were recorded with this card**" in text
    rows = _safety_rows(text)
    assert rows["critical recall (share of critical calls alerted)"] == ["not measured", "", "0.900 (of 10 critical calls)"]
    assert not re.search(r"critical recall \((test split|cross-fitted)", text)


def test_held_out_records_without_a_critical_call_are_not_a_bold_zero():
    from helpline_fusion.train.model_card import safety_summary

    calibration = {
        "critical": {"critical_threshold": 0.3, "critical_recall": 0.9, "critical_calls": 10, "critical_precision": 0.5},
        "held_out": {"case": {"evaluated_on": "test", "records": 30, "critical": {
            "critical_calls": 0, "critical_recall": 0.0, "critical_precision": 0.0, "decided_critical": 4,
            "false_alarms": 4, "false_alarms_per_100_calls": 13.3}}},
    }  # fmt: skip
    rows = {row["figure"]: row for row in safety_summary(calibration, {})["rows"]}
    recall = rows["critical recall (share of critical calls alerted)"]
    assert recall["held_out"] == "not measured" and recall["in_sample"] == "0.900 (of 10 critical calls)"
    assert not any("**0.000**" in row["held_out"] for row in rows.values())
