"""The bundled synthetic data set: NER, case and call-quality records written by a seeded generator.

A fresh machine has no helpline data, so the package writes its own default with
`generate(out_dir)` (or `helpline-fusion generate --out DIR`). Nothing in it comes from a real
transcript: names, places and sentences are the project's own templates (the modules of this package).
Output for a seed is byte-identical from run to run (same Python `random`); each file has its own
random stream, so changing one size does not change the other files.

Files, at the default sizes (seed 13; about 5-8 s of generation on this machine's CPU, 4 s of it QA):

- `ner.jsonl` (2,000 records): call transcripts with exact, non-overlapping spans of all nine entity
  types, recorded while the text is assembled. 89 % are 300-1,300 characters, 10 % are long calls of
  2,500-4,400 characters (past a 512-token window). Records with each type: VICTIM, AGE, GENDER 100 %,
  INCIDENT_TYPE 99 %, NAME 99 %, LOCATION 97 %, LANDMARK 94 %, PERPETRATOR 93 %, PHONE_NUMBER 73 %
  (about 29 spans a record).
- `cases.json` (2,000 records): all 66 sub-categories of the label reference, drawn in shuffled
  rounds; priorities "1"/"2"/"3" 18/38/44 %; 17 interventions, 6 % multi-valued
  ("Counselling, Referral"); narratives of 285-1,820 characters, dialogues or case notes. The category
  follows from the caller's issue, the priority from the risk sentence, the intervention from the
  counsellor's action sentence (`cases`).
- `qa.json` (2,000) and `qa_heldout.json` (400): counsellor-caller transcripts of 1,050-2,400
  characters over 13 scenarios. Each of the 17 sub-metrics is rendered by phrasing *families* (one way
  of doing or of failing the behaviour each, composed from a phrase notation, `qa_templates`): 3-4 met
  and 2-4 not-met ones for training, one of each held out: 136 families (34 held out; 7 training ones leave
  the behaviour out) and 17,110 distinct sentences aside from slot values. `qa.json` renders only training
  families, `qa_heldout.json` only held-out ones, so validation wording is never seen in training.
  Calls vary turn order and length, code-switch to Swahili and Sheng, and about half carry seeded
  transcription noise (lower case, dropped punctuation, misheard words). About a third of the calls
  have no hold (`"hold": "No hold was required"`); quality levels poor/average/good about 36/40/24 %.

Variety (`describe()` returns the exact numbers): 188 given names and 76 surnames (Kikuyu, Meru,
Luo, Kalenjin, Luhya, Kamba, Kisii, Swahili, Maasai, Sukuma/Chagga and church names); 47 Kenyan
counties and 27 Tanzanian regions with 323 towns, plus 31 villages; 37 landmark patterns (schools,
markets, churches and mosques, stages, health facilities, police posts...); 12 phone formats (07xx,
01xx, +254, +255, 06xx...); NER: 16 incident kinds with 54 incident phrases, 31 perpetrator roles
and 161 turn templates; cases: 198 issue sentences, 34 risk sentences, 136 action sentences; QA:
136 phrasing families and 169 scenario sentences.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .cases import case_variety, generate_cases
from .ner import generate_ner, ner_variety
from .qa import generate_qa, qa_variety
from .vocab import vocab_sizes

logger = logging.getLogger(__name__)

GENERATOR_VERSION = "2"
"""Bump whenever the output for a given seed and sizes changes, so cached copies are regenerated."""
_STREAM_VERSIONS = {"ner": "1", "cases": "1", "qa": GENERATOR_VERSION, "qa_heldout": GENERATOR_VERSION}

DEFAULT_SEED = 13
DEFAULT_SIZES: dict[str, int] = {"n_ner": 2000, "n_cases": 2000, "n_qa": 2000, "n_qa_heldout": 400}
FILE_NAMES: dict[str, str] = {
    "ner_file": "ner.jsonl",
    "cases_file": "cases.json",
    "qa_file": "qa.json",
    "qa_heldout_file": "qa_heldout.json",
}
MANIFEST = "manifest.json"


def _check_sizes(sizes: dict[str, Any]) -> dict[str, int]:
    unknown = sorted(set(sizes) - set(DEFAULT_SIZES))
    if unknown:
        raise ValueError(f"unknown size argument(s) {unknown}; valid: {sorted(DEFAULT_SIZES)}")
    checked = {**DEFAULT_SIZES, **sizes}
    for name, value in checked.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")
    return checked


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def _write_json_array(path: Path, records: Iterable[dict[str, Any]]) -> int:
    records = list(records)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        json.dump(records, handle, ensure_ascii=False, indent=1)
        handle.write("\n")
    return len(records)


def generate(
    out_dir: str | Path,
    seed: int = DEFAULT_SEED,
    n_ner: int = DEFAULT_SIZES["n_ner"],
    n_cases: int = DEFAULT_SIZES["n_cases"],
    n_qa: int = DEFAULT_SIZES["n_qa"],
    n_qa_heldout: int = DEFAULT_SIZES["n_qa_heldout"],
) -> dict[str, Path]:
    """Write the synthetic data set to `out_dir` and return the paths of its four files.

    Args:
        out_dir: folder to write into (created if missing; existing files of the same names are replaced).
        seed: the seed; the same seed and sizes give byte-identical files.
        n_ner, n_cases, n_qa, n_qa_heldout: number of records of each file.

    Returns:
        `{"ner_file", "cases_file", "qa_file", "qa_heldout_file"}` → `Path`.

    Example:
        >>> paths = generate("/tmp/helpline-synthetic", seed=13, n_ner=10, n_cases=10, n_qa=10, n_qa_heldout=5)
        >>> sorted(paths)
        ['cases_file', 'ner_file', 'qa_file', 'qa_heldout_file']
    """
    sizes = _check_sizes({"n_ner": n_ner, "n_cases": n_cases, "n_qa": n_qa, "n_qa_heldout": n_qa_heldout})
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed: expected an integer, got {seed!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {key: out_dir / name for key, name in FILE_NAMES.items()}

    def stream(task: str) -> random.Random:
        # One independent stream per file: resizing one file leaves the others unchanged, and a new generator
        # version of one task (the QA families of version 2) leaves the other tasks' files as they were.
        return random.Random(f"helpline-fusion-synthetic:{_STREAM_VERSIONS[task]}:{seed}:{task}")

    started = time.perf_counter()
    counts = {
        "ner_file": _write_jsonl(paths["ner_file"], generate_ner(stream("ner"), sizes["n_ner"])),
        "cases_file": _write_json_array(paths["cases_file"], generate_cases(stream("cases"), sizes["n_cases"])),
        "qa_file": _write_json_array(paths["qa_file"], generate_qa(stream("qa"), sizes["n_qa"], "train")),
        "qa_heldout_file": _write_json_array(
            paths["qa_heldout_file"], generate_qa(stream("qa_heldout"), sizes["n_qa_heldout"], "heldout")
        ),
    }
    logger.info(
        "synthetic data (seed %d) written to %s in %.1f s: %s",
        seed,
        out_dir,
        time.perf_counter() - started,
        ", ".join(f"{FILE_NAMES[key]} {count}" for key, count in counts.items()),
    )
    return paths


def _cache_key(seed: int, sizes: dict[str, int]) -> str:
    blob = json.dumps({"version": GENERATOR_VERSION, "seed": seed, **sizes}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def ensure_generated(cache_dir: str | Path, seed: int = DEFAULT_SEED, **sizes: int) -> dict[str, Path]:
    """The synthetic data set for `seed` and `sizes` under `cache_dir`, written on first use and reused after.

    The folder name is keyed by the seed, the sizes and `GENERATOR_VERSION`; a copy is complete only once
    its manifest exists (written last, then the folder renamed into place), so an interrupted or
    concurrent run never leaves a half-written data set that a later run would trust.

    Example:
        >>> paths = ensure_generated("/tmp/helpline-cache", seed=13, n_ner=10, n_cases=10, n_qa=10, n_qa_heldout=5)
        >>> paths["ner_file"].name
        'ner.jsonl'
    """
    sizes = _check_sizes(sizes)
    cache_dir = Path(cache_dir)
    target = cache_dir / f"synthetic-seed{seed}-{_cache_key(seed, sizes)}"
    paths = {key: target / name for key, name in FILE_NAMES.items()}
    if (target / MANIFEST).is_file() and all(path.is_file() for path in paths.values()):
        logger.info("reusing synthetic data set %s", target)
        return paths
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".synthetic-", dir=cache_dir))
    try:
        generate(staging, seed=seed, **sizes)
        manifest = {"generator_version": GENERATOR_VERSION, "seed": seed, "sizes": sizes, "files": FILE_NAMES}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        if target.exists():  # an incomplete copy from an interrupted run
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(staging, target)
        except OSError:
            if not (target / MANIFEST).is_file():  # another process did not finish it either
                raise
            logger.info("another process wrote %s first; using its copy", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return paths


def describe() -> dict[str, Any]:
    """Sizes and variety of the generator (template and vocabulary counts), for the README.

    Example:
        >>> describe()["qa_sub_metrics"]
        17
    """
    qa = qa_variety()
    return {
        "generator_version": GENERATOR_VERSION,
        "default_seed": DEFAULT_SEED,
        "default_sizes": dict(DEFAULT_SIZES),
        **vocab_sizes(),
        **ner_variety(),
        **case_variety(),
        "qa_sub_metrics": len(qa["qa_families_per_sub_metric"]),
        **qa,
    }


def main(argv: list[str] | None = None) -> int:
    """`helpline-fusion generate --out DIR [--seed N] [--n-ner N] [--n-cases N] [--n-qa N] [--n-qa-heldout N]`."""
    parser = argparse.ArgumentParser(
        prog="helpline-fusion generate",
        description="Write the bundled synthetic data set (NER JSONL, cases JSON, QA JSON + held-out QA JSON).",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    for name, default in DEFAULT_SIZES.items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=int, default=default, dest=name, help=f"records (default {default})")
    parser.add_argument("--describe", action="store_true", help="also print the generator's variety as JSON")
    args = parser.parse_args(argv)
    sizes = {name: getattr(args, name) for name in DEFAULT_SIZES}
    try:
        paths = generate(args.out, seed=args.seed, **sizes)
    except ValueError as error:
        parser.error(str(error))
    size_of = {"ner_file": "n_ner", "cases_file": "n_cases", "qa_file": "n_qa", "qa_heldout_file": "n_qa_heldout"}
    print(f"synthetic data set, seed {args.seed}, generator version {GENERATOR_VERSION}:")
    for key, path in paths.items():
        print(f"  {key:<16} {path}  ({sizes[size_of[key]]} records, {path.stat().st_size:,} bytes)")
    if args.describe:
        print(json.dumps(describe(), indent=1))
    return 0
