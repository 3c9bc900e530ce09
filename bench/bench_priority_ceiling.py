"""How far the words of a narrative predict its priority at all: a reference for the priority goal.

A bag-of-words model (TF-IDF over word 1-2-grams, class-balanced logistic regression from scikit-learn),
5-fold cross-validated over every record of the public case file, scores each narrative's chance of being
critical (priority "1"); the script prints the ranking quality (ROC AUC), the precision and the share of calls
flagged at the threshold that catches 90% of the critical calls, and the 3-class priority accuracy beside
the majority class. A second reference ranks calls by their *true* sub-category's share of critical calls
(an oracle no model has): if even that flags most calls to catch 9 in 10 critical ones, the labels, more than
the network, bound what a priority head can reach on this data.

    pip install scikit-learn
    python bench/bench_priority_ceiling.py [--cases ../shared/data/cases_helpline.json]

Reads the file through the project's loader (the same records and labels training sees); prints numbers
only, never a narrative. Writes `bench/results/priority_ceiling.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CASES = ROOT.parent / "shared" / "data" / "cases_helpline.json"
RECALL_TARGET = 0.9


def at_recall(scores: np.ndarray, critical: np.ndarray, target: float = RECALL_TARGET) -> dict[str, float]:
    """Precision, recall and share flagged at the highest threshold whose recall reaches `target`."""
    ranked = np.sort(scores[critical])[::-1]
    threshold = ranked[int(np.ceil(target * len(ranked))) - 1]
    flagged = scores >= threshold
    return {"recall": float(flagged[critical].mean()),
            "precision": float(critical[flagged].mean()), "flagged_share": float(flagged.mean())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=str(DEFAULT_CASES))
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "priority_ceiling.json"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from sklearn.pipeline import make_pipeline
    except ImportError:
        print("this reference needs scikit-learn: pip install scikit-learn", file=sys.stderr)
        return 2
    if not Path(args.cases).is_file():
        print(f"{args.cases}: no case file there (the public data lives in ../shared/data)", file=sys.stderr)
        return 2
    from helpline_fusion.data.loaders import load_cases

    cases, _ = load_cases(args.cases, labels_from_data=True)
    cases = cases.filter(lambda row: row["priority"] is not None)
    texts, priority, sub = cases["text"], np.array(cases["priority"]), np.array(cases["sub_category"])
    critical = priority == "1"
    folds = StratifiedKFold(5, shuffle=True, random_state=args.seed)

    def bag_of_words(**kwargs):
        return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                             LogisticRegression(max_iter=3000, **kwargs))

    scores = cross_val_predict(bag_of_words(class_weight="balanced"), texts, critical, cv=folds,
                               method="predict_proba")[:, 1]
    predicted = cross_val_predict(bag_of_words(), texts, priority, cv=folds)
    by_sub: dict[str, Counter] = defaultdict(Counter)
    for label, is_critical in zip(sub, critical):
        by_sub[label][bool(is_critical)] += 1
    oracle = np.array([by_sub[label][True] / sum(by_sub[label].values()) for label in sub])
    result = {
        "records": len(texts), "critical_share": float(critical.mean()),
        "bag_of_words": {"critical_auc": float(roc_auc_score(critical, scores)), **at_recall(scores, critical),
                         "priority_accuracy": float((predicted == priority).mean())},
        "priority_majority_accuracy": max(Counter(priority).values()) / len(priority),
        "true_sub_category_oracle": {"critical_auc": float(roc_auc_score(critical, oracle)),
                                     **at_recall(oracle, critical)},
    }
    words, ceiling = result["bag_of_words"], result["true_sub_category_oracle"]
    print(f"{result['records']} case records, {result['critical_share']:.3f} critical")
    print(f"bag of words, 5-fold: critical AUC {words['critical_auc']:.3f}; at recall {words['recall']:.2f}: "
          f"precision {words['precision']:.3f}, {words['flagged_share']:.2f} of calls flagged; "
          f"priority accuracy {words['priority_accuracy']:.3f} (majority {result['priority_majority_accuracy']:.3f})")
    print(f"true sub-category's critical share (oracle): AUC {ceiling['critical_auc']:.3f}; at recall "
          f"{ceiling['recall']:.2f}: precision {ceiling['precision']:.3f}, {ceiling['flagged_share']:.2f} flagged")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
