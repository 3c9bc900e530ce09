"""Case figures by k-fold cross-validation (`python bench/bench_quality.py --kfold 5 ...`).

65 validation narratives cannot tell two recipes apart (one record is 1.5 points), and one seed's figure is not the
recipe's. Here every public case record is predicted exactly once, by the model of the fold that did not train on
it: the records are split into K folds by transcript group (copies of a narrative stay in one fold), stratified by
priority; each fold's model trains on the other K-1 folds with the recipe as it is (its own validation and
calibration test splits come out of those), then `model.predict` decides the held-out fold, calibrated thresholds
and safety-first priority rule included, exactly as a user's call would be decided.

Printed per case head: accuracy and macro F1 as mean and spread over the folds, a 95% bootstrap interval over the
pooled out-of-fold records, and beside each the majority baseline (each fold's training majority answered for its
held-out records, scored the same way). For priority also the critical alert (raised where any window's critical
probability reaches the calibrated threshold, or the label is critical): recall, precision, false alarms per 100
calls and the share of calls alerted; and the earlier rule (the alert overriding the label) re-scored beside it.
Per head also the majority fallback (`majority_fallback`: the majority unless the decided label's score reaches a
threshold fitted on the other folds), which `python bench/bench_kfold.py DIR/kfold_cases.json` re-scores from a
stored run without training. Records are named by id only; nothing of a transcript is printed or written.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

HEADS = ("main_category", "sub_category", "intervention", "priority")
BOOTSTRAP = 2000


def fold_indices(groups: list[int], strata: list[str], k: int, seed: int) -> list[np.ndarray]:
    """The held-out record indices of each of `k` folds: whole groups, stratified by `strata` (sklearn's
    StratifiedGroupKFold, shuffled with `seed`)."""
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [held for _, held in splitter.split(np.zeros(len(groups)), strata, groups)]


def _macro_f1(gold: list[str], predicted: list[str]) -> float:
    classes = sorted(set(gold) | set(predicted))
    scores = []
    for label in classes:
        tp = sum(g == label and p == label for g, p in zip(gold, predicted))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)
    return float(np.mean(scores)) if scores else 0.0


def critical_figures(gold: list[str], flagged: list[bool], critical: str) -> dict[str, float]:
    """Recall and precision of the critical flag, false alarms per 100 calls, share of calls flagged."""
    real = np.array([g == critical for g in gold])
    flag = np.array(flagged, dtype=bool)
    tp, fp = int((real & flag).sum()), int((~real & flag).sum())
    return {
        "critical_recall": tp / real.sum() if real.sum() else float("nan"),
        "critical_precision": tp / flag.sum() if flag.sum() else float("nan"),
        "false_alarms_per_100": 100.0 * fp / len(gold) if gold else float("nan"),
        "flagged_share": float(flag.mean()) if gold else float("nan"),
        "critical_calls": int(real.sum()),
    }


def bootstrap_interval(values: np.ndarray, seed: int, draws: int = BOOTSTRAP) -> tuple[float, float]:
    """95% percentile interval of the mean of `values` (per-record 0/1 scores) over `draws` resamples."""
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(draws, len(values)), replace=True).mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def score_fold(gold: dict[str, list[str]], predicted: dict[str, list[str]], majority: dict[str, str]) -> dict:
    """Accuracy and macro F1 per head of the model and of answering the training folds' majority."""
    out: dict[str, float] = {}
    for head, labels in gold.items():
        answer = predicted[head]
        out[f"{head}_accuracy"] = float(np.mean([g == p for g, p in zip(labels, answer)]))
        out[f"{head}_macro_f1"] = _macro_f1(labels, answer)
        constant = [majority[head]] * len(labels)
        out[f"{head}_majority_accuracy"] = float(np.mean([g == p for g, p in zip(labels, constant)]))
        out[f"{head}_majority_macro_f1"] = _macro_f1(labels, constant)
    return out


def summarise(folds: list[dict], pooled: dict[str, np.ndarray], seed: int) -> dict[str, dict[str, float]]:
    """Per figure: mean and standard deviation over folds, and the pooled bootstrap interval where the figure is a
    per-record mean (accuracies)."""
    summary: dict[str, dict[str, float]] = {}
    for key in folds[0]:
        values = np.array([fold[key] for fold in folds], dtype=float)
        entry = {"mean": float(np.nanmean(values)), "std": float(np.nanstd(values)), "folds": values.round(4).tolist()}
        if key in pooled:
            entry["pooled"] = float(pooled[key].mean())
            entry["ci95"] = bootstrap_interval(pooled[key], seed)
        summary[key] = entry
    return summary


def format_summary(summary: dict[str, dict[str, float]], heads: list[str]) -> str:
    def cell(key: str) -> str:
        entry = summary.get(key)
        if entry is None:
            return ""
        text = f"{entry['mean']:.3f} ± {entry['std']:.3f}"
        if "ci95" in entry:
            text += f" [{entry['ci95'][0]:.3f}, {entry['ci95'][1]:.3f}]"
        return text

    lines = ["| head | accuracy: mean ± sd [pooled 95% CI] | majority accuracy | macro F1 | majority macro F1 | "
             "at or above majority |", "|---|---|---|---|---|---|"]
    for head in heads:
        acc, base = summary[f"{head}_accuracy"]["mean"], summary[f"{head}_majority_accuracy"]["mean"]
        lines.append(f"| {head} | {cell(f'{head}_accuracy')} | {cell(f'{head}_majority_accuracy')} | "
                     f"{cell(f'{head}_macro_f1')} | {cell(f'{head}_majority_macro_f1')} | "
                     f"{'yes' if acc >= base else 'NO'} |")
    if "priority_argmax_accuracy" in summary:
        lines.append(f"| priority, the mean distribution's top label | {cell('priority_argmax_accuracy')} | | | | |")
    lines += ["", "| critical alert | mean ± sd over folds |", "|---|---|"]
    for key in ("critical_recall", "critical_precision", "false_alarms_per_100", "flagged_share", "critical_calls"):
        if key in summary:
            lines.append(f"| {key} | {cell(key)} |")
    return "\n".join(lines)


def priority_rules(out_of_fold: list[dict], critical: str) -> dict[str, dict[str, float]]:
    """The priority decision re-scored on the same out-of-fold decisions under two rules: `shipped` (what predict
    decided: the head's label, prior-corrected where the model was trained with class weights, the critical alert
    beside it) and `override` (the earlier rule: the label made critical wherever the alert is raised), with the
    alert's own figures (`alert`: recall, precision, false alarms) and the majority answer's accuracy."""
    gold = [r["priority"]["gold"] for r in out_of_fold]
    alert = [bool(r["critical_alert"]) for r in out_of_fold]
    labels = {
        "shipped": [r["priority"]["predicted"] for r in out_of_fold],
        "override": [critical if a else r["priority"]["predicted"] for r, a in zip(out_of_fold, alert)],
    }
    out = {}
    for rule, predicted in labels.items():
        out[rule] = {"accuracy": float(np.mean([g == p for g, p in zip(gold, predicted)])),
                     "macro_f1": _macro_f1(gold, predicted)}
    out["alert"] = critical_figures(gold, alert, critical)
    majority = Counter(gold).most_common(1)[0][0]
    out["majority"] = {"accuracy": float(np.mean([g == majority for g in gold]))}
    return out


def majority_fallback(out_of_fold: list[dict], heads: tuple[str, ...] = HEADS) -> dict[str, dict[str, float]]:
    """Each head re-scored under "the majority class unless the decided label's score reaches t": `t` is fitted
    (highest accuracy; ties to the lowest `t`, i.e. to the model) on the other folds' out-of-fold records, with the
    majority of those folds, and applied to each fold; `t` may be above every score (the majority everywhere). Says
    whether a threshold on the model's own confidence can lift a head that ends under its majority. Pooled accuracy
    `fallback` beside `shipped` (what predict decided) and `majority` (each fold's other-folds majority).

    Raises `ValueError` naming the record (position and id) that lacks a field, or when fewer than two folds are
    given (nothing to fit a fold's threshold on)."""
    for position, record in enumerate(out_of_fold):
        missing = [key for key in ("fold", *heads) if key not in record]
        missing += [f"{head}.{key}" for head in heads if head in record for key in ("gold", "predicted", "probs")
                    if key not in record[head]]
        if missing:
            raise ValueError(f"out_of_fold record {position} (id {record.get('id', '?')}): expected {missing}")
    folds = np.array([record["fold"] for record in out_of_fold])
    if len(np.unique(folds)) < 2:
        raise ValueError(f"out_of_fold: expected records of at least 2 folds, found {len(np.unique(folds))}")
    out = {}
    for head in heads:
        gold = np.array([r[head]["gold"] for r in out_of_fold])
        predicted = np.array([r[head]["predicted"] for r in out_of_fold])
        score = np.array([r[head]["probs"].get(r[head]["predicted"], 0.0) for r in out_of_fold])
        fallback, majority_hits = np.zeros(len(gold), dtype=bool), np.zeros(len(gold), dtype=bool)
        for fold in np.unique(folds):
            fit, held = folds != fold, folds == fold
            majority = Counter(gold[fit].tolist()).most_common(1)[0][0]
            best_t, best = 0.0, -1.0
            for t in np.concatenate([[0.0], np.unique(score[fit]), [np.inf]]):  # inf: the majority everywhere
                accuracy = float(np.mean(np.where(score[fit] >= t, predicted[fit], majority) == gold[fit]))
                if accuracy > best + 1e-12:
                    best_t, best = float(t), accuracy
            fallback[held] = np.where(score[held] >= best_t, predicted[held], majority) == gold[held]
            majority_hits[held] = gold[held] == majority
        out[head] = {"shipped": float(np.mean(predicted == gold)), "fallback": float(fallback.mean()),
                     "majority": float(majority_hits.mean())}
    return out


def format_fallback(figures: dict[str, dict[str, float]]) -> str:
    """`majority_fallback`'s figures as printed: one line per head (pooled accuracies)."""
    lines = ["the majority unless the decided label's score reaches a threshold fitted on the other folds (pooled):"]
    return "\n".join(lines + [f"  {head}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items())
                              for head, row in figures.items()])


def kfold_report(args: Any, cases_path: Path, train_variant, variants: dict[str, list[str]]) -> int:
    """Train one model per fold for each variant with the case task; print and write the k-fold case figures."""
    from helpline_fusion.data.loaders import load_cases

    raw = json.loads(cases_path.read_text())
    dataset, report = load_cases(str(cases_path), labels_from_data=True)
    if len(dataset) != len(raw):  # rows follow the file's records one to one (repairs keep a record, none dropped)
        raise SystemExit(f"kfold: {cases_path} has {len(raw)} records but {len(dataset)} loaded ({report})")
    gold = {head: [str(value) for value in dataset[head]] for head in HEADS}
    ids = dataset["id"]
    seed = 42
    folds = fold_indices(list(dataset["text_group"]), gold["priority"], args.kfold, seed)
    results: dict[str, Any] = {"command": "bench_quality --kfold", "k": args.kfold, "records": len(raw),
                               "data_report": {"kept": report.kept, "repaired": report.repaired,
                                               "rejected": report.rejected}, "variants": {}}
    for name in [v for v in args.variants if "cls" in variants[v]]:
        fold_scores, pooled_hits, seconds, out_of_fold = [], {}, [], []
        for index, held in enumerate(folds):
            train_rows = sorted(set(range(len(raw))) - set(held.tolist()))
            with tempfile.TemporaryDirectory() as tmp:
                train_file = Path(tmp) / "cases_train.json"
                train_file.write_text(json.dumps([raw[i] for i in train_rows]))
                print(f"== {name} fold {index + 1}/{len(folds)}: {len(train_rows)} training records, "
                      f"{len(held)} held out", flush=True)
                started = time.perf_counter()
                run = train_variant(f"{name}_fold{index}", variants[name], args, ["--cases_file", str(train_file)])
                seconds.append(round(time.perf_counter() - started, 1))
            trainer = run["trainer"]
            model = trainer.accelerator.unwrap_model(trainer.model).eval()
            decisions = model.predict([dataset[int(i)]["text"] for i in held], tokenizer=trainer.processing_class,
                                      bf16=bool(run["training_args"].bf16), top_k=1000)
            # Every held-out record's full distributions (by id), so a decision rule can be re-scored offline.
            out_of_fold.extend({
                "id": ids[int(i)], "fold": index, "critical_threshold": model.config.critical_threshold,
                "priority_class_weights": dict(zip(model.config.case_heads["priority"],
                                                   (model.config.case_class_weights or {}).get("priority") or [])),
                # The fitted share of the model and the training frequencies it was mixed with, per head: with
                # them a distribution can be un-mixed offline, (p - (1 - a) x priors) / a, to score the model alone.
                "prior_mix": dict(model.config.case_prior_mix or {}),
                "class_priors": {head: dict(zip(model.config.case_heads[head], values))
                                 for head, values in (model.config.case_class_priors or {}).items() if head in HEADS},
                "critical_probability": d["case"]["priority"].get("critical_probability"),
                "critical_alert": d["case"]["priority"]["critical_alert"],
                **{head: {"gold": gold[head][int(i)], "predicted": d["case"][head]["label"],
                          "probs": {c["label"]: round(c["score"], 5) for c in d["case"][head]["top_k"]}}
                   for head in HEADS},
            } for i, d in zip(held, decisions))
            held_gold = {head: [gold[head][int(i)] for i in held] for head in HEADS}
            predicted = {head: [d["case"][head]["label"] for d in decisions] for head in HEADS}
            majority = {head: Counter(gold[head][i] for i in train_rows).most_common(1)[0][0] for head in HEADS}
            scores = score_fold(held_gold, predicted, majority)
            argmax = [d["case"]["priority"]["top_k"][0]["label"] for d in decisions]
            scores["priority_argmax_accuracy"] = float(np.mean([g == p for g, p in zip(held_gold["priority"], argmax)]))
            critical = model.config.critical_priority
            alerts = [d["case"]["priority"]["critical_alert"] for d in decisions]
            scores.update(critical_figures(held_gold["priority"], alerts, critical))
            fold_scores.append(scores)
            for head in HEADS:
                hits = [float(g == p) for g, p in zip(held_gold[head], predicted[head])]
                base = [float(g == majority[head]) for g in held_gold[head]]
                pooled_hits.setdefault(f"{head}_accuracy", []).extend(hits)
                pooled_hits.setdefault(f"{head}_majority_accuracy", []).extend(base)
            pooled_hits.setdefault("priority_argmax_accuracy", []).extend(
                float(g == p) for g, p in zip(held_gold["priority"], argmax))
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}), flush=True)
            del run, trainer, model
        summary = summarise(fold_scores, {k: np.array(v) for k, v in pooled_hits.items()}, seed)
        table = format_summary(summary, list(HEADS))
        print(f"\n### {name}: case figures by {args.kfold}-fold cross-validation over {len(raw)} records\n")
        print(table)
        rules = priority_rules(out_of_fold, critical)
        print("\npriority decision rules on the same out-of-fold distributions (pooled):")
        for rule, figures in rules.items():
            print(f"  {rule}: " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()))
        fallback = majority_fallback(out_of_fold)
        print("\n" + format_fallback(fallback))
        results["variants"][name] = {"summary": summary, "priority_rules": rules, "majority_fallback": fallback,
                                     "seconds_per_fold": seconds, "out_of_fold": out_of_fold,
                                     "held_out_ids_per_fold": [[ids[int(i)] for i in held] for held in folds]}
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "kfold_cases.json").write_text(json.dumps(results, indent=2))
    print(f"written {output / 'kfold_cases.json'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        description="Re-score a k-fold run's stored out-of-fold decisions under the majority fallback (no training)."
    )
    parser.add_argument("kfold_file", type=Path, help="the kfold_cases.json a `bench_quality.py --kfold` run wrote")
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.kfold_file.read_text())
    except (OSError, json.JSONDecodeError) as error:
        parser.error(f"{args.kfold_file}: expected the JSON a k-fold run wrote ({error})")
    variants = results.get("variants") if isinstance(results, dict) else None
    if not isinstance(variants, dict) or not variants:
        parser.error(f"{args.kfold_file}: expected a JSON object with a non-empty 'variants' (a k-fold run's file)")
    for name, variant in variants.items():
        if not variant.get("out_of_fold"):
            parser.error(f"{args.kfold_file}: variant {name!r} has no out_of_fold decisions (written since 6a323d9)")
        try:
            figures = majority_fallback(variant["out_of_fold"])
        except ValueError as error:
            parser.error(f"{args.kfold_file}: variant {name!r}: {error}")
        print(f"{name}: " + format_fallback(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
