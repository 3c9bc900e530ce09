"""Tests of the bundled synthetic data generator (`helpline_fusion.data.synthetic`)."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest

from helpline_fusion.data.speakers import find_turns
from helpline_fusion.data.synthetic import (
    DEFAULT_SIZES,
    FILE_NAMES,
    describe,
    ensure_generated,
    generate,
    main,
)
from helpline_fusion.data.synthetic.case_issues import ISSUES, RISK_CUES
from helpline_fusion.data.synthetic.cases import ACTIONS
from helpline_fusion.data.synthetic.ner import INCIDENT_KINDS, render
from helpline_fusion.data.synthetic.qa import (
    HOLD_NOT_APPLICABLE,
    SUB_METRICS,
    rendered_behaviours,
)
from helpline_fusion.data.synthetic.qa_compose import normalise
from helpline_fusion.data.synthetic.qa_templates import (
    HESITATION_MARKERS,
    HOLD_MARKERS,
    POLITE_WORDS,
)
from helpline_fusion.data.synthetic.vocab import (
    GENDER_WORDS,
    GIVEN_NAMES,
    NUMBER_WORDS,
    PLACES,
    SURNAMES,
    VILLAGES,
)
from helpline_fusion.modeling_attention_fusion.configuration_attention_fusion import (
    INTERVENTIONS,
    NER_ENTITY_TYPES,
    PRIORITIES,
    QA_HEADS,
    SUB_TO_MAIN_CATEGORY,
)

SIZES = {"n_ner": 150, "n_cases": 140, "n_qa": 80, "n_qa_heldout": 40}


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate(tmp_path_factory.mktemp("synthetic"), seed=7, **SIZES)


@pytest.fixture(scope="module")
def ner(paths: dict[str, Path]) -> list[dict]:
    return [json.loads(line) for line in paths["ner_file"].read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def cases(paths: dict[str, Path]) -> list[dict]:
    return json.loads(paths["cases_file"].read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def qa(paths: dict[str, Path]) -> list[dict]:
    return json.loads(paths["qa_file"].read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def qa_heldout(paths: dict[str, Path]) -> list[dict]:
    return json.loads(paths["qa_heldout_file"].read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- determinism
def test_same_seed_gives_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    small = {"n_ner": 20, "n_cases": 20, "n_qa": 10, "n_qa_heldout": 5}
    first = generate(tmp_path / "a", seed=3, **small)
    again = generate(tmp_path / "b", seed=3, **small)
    other = generate(tmp_path / "c", seed=4, **small)
    assert set(first) == {"ner_file", "cases_file", "qa_file", "qa_heldout_file"}
    for key in first:
        assert first[key].read_bytes() == again[key].read_bytes(), key
        assert first[key].read_bytes() != other[key].read_bytes(), key


def test_each_file_has_its_own_random_stream(tmp_path: Path) -> None:
    base = generate(tmp_path / "a", seed=3, n_ner=10, n_cases=10, n_qa=5, n_qa_heldout=5)
    more_ner = generate(tmp_path / "b", seed=3, n_ner=30, n_cases=10, n_qa=5, n_qa_heldout=5)
    assert base["ner_file"].read_bytes() != more_ner["ner_file"].read_bytes()
    for key in ("cases_file", "qa_file", "qa_heldout_file"):
        assert base[key].read_bytes() == more_ner[key].read_bytes(), key


def test_bad_sizes_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_ner: expected a non-negative integer, got -1"):
        generate(tmp_path, n_ner=-1)
    with pytest.raises(ValueError, match=r"unknown size argument\(s\) \['n_foo'\]"):
        ensure_generated(tmp_path, seed=1, n_foo=3)


# --------------------------------------------------------------------------- NER
def test_render_records_spans_while_building() -> None:
    text, spans = render(
        "I am {caller}, from {place}; {child} is {age}.",
        {
            "caller": ("Wanjiru Kamau", "NAME"),
            "place": ("Kisumu", "LOCATION"),
            "child": ("Otieno", "VICTIM"),
            "age": ("9", "AGE"),
        },
    )
    assert text == "I am Wanjiru Kamau, from Kisumu; Otieno is 9."
    assert [text[s:e] for s, e, _ in spans] == ["Wanjiru Kamau", "Kisumu", "Otieno", "9"]
    assert [label for _, _, label in spans] == ["NAME", "LOCATION", "VICTIM", "AGE"]


_PERSON_WORDS = set(GIVEN_NAMES["female"]) | set(GIVEN_NAMES["male"]) | {w for s in SURNAMES for w in s.split()}
_PLACE_WORDS = (
    {
        w
        for c in PLACES.values()
        for county, towns in c.items()
        for p in [county, *towns]
        for w in re.split(r"[\s,]+", p)
    }
    | {w for v in VILLAGES for w in v.split()}
    | {"in"}
)
_INCIDENTS = {phrase for spec in INCIDENT_KINDS.values() for phrase in spec["phrases"]}
_ROLES = {role for spec in INCIDENT_KINDS.values() for role in spec["perps"]}


def _span_problem(text: str, span: dict) -> str | None:
    """Why `span` is not an exact entity of its type in `text` (None when it is)."""
    start, end, label = span["start"], span["end"], span["label"]
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        return f"bad offsets {start}-{end}"
    value = text[start:end]
    if value != value.strip():
        return f"whitespace around {value!r}"
    if start > 0 and text[start - 1].isalnum() or end < len(text) and text[end].isalnum():
        return f"{value!r} cuts a word"
    checks = {
        "NAME": lambda v: all(w in _PERSON_WORDS for w in v.split()),
        "VICTIM": lambda v: all(w in _PERSON_WORDS for w in v.split()),
        "PERPETRATOR": lambda v: v in _ROLES or all(w in _PERSON_WORDS for w in v.split()),
        "AGE": lambda v: v.isdigit() or v in NUMBER_WORDS,
        "GENDER": lambda v: v in GENDER_WORDS["female"] + GENDER_WORDS["male"],
        "INCIDENT_TYPE": lambda v: v in _INCIDENTS,
        "LOCATION": lambda v: all(w in _PLACE_WORDS for w in re.split(r"[\s,]+", v)),
        "PHONE_NUMBER": lambda v: re.fullmatch(r"\+?(0|254|255)[\d -]{8,13}", v) is not None,
        "LANDMARK": lambda v: (
            re.search(
                r"School|Academy|Msingi|Market|Soko|Church|Mosque|Masjid|Stage|Bus Park|Stendi|Hospital|Health Centre|"
                r"Dispensary|Clinic|Police|Chief's Camp|Children's Office|Borehole|Social Hall|Stadium|Shop|"
                r"Water Point|Posta",
                v,
            )
            is not None
        ),
    }
    if label not in checks:
        return f"unknown label {label!r}"
    return None if checks[label](value) else f"{value!r} is not a {label}"


def test_ner_spans_are_exact_and_never_overlap(ner: list[dict]) -> None:
    assert len(ner) == SIZES["n_ner"]
    assert len({record["id"] for record in ner}) == len(ner)
    for record in ner:
        text, spans = record["text"], record["entities"]
        problems = [p for p in (_span_problem(text, span) for span in spans) if p]
        assert not problems, (record["id"], problems)
        ordered = sorted((s["start"], s["end"]) for s in spans)
        assert all(end <= next_start for (_, end), (next_start, _) in zip(ordered, ordered[1:])), record["id"]


def test_span_checker_catches_a_shifted_span(ner: list[dict]) -> None:
    record = ner[0]
    span = next(s for s in record["entities"] if s["label"] == "VICTIM")
    assert _span_problem(record["text"], {**span, "start": span["start"] + 1}) is not None
    assert _span_problem(record["text"], {**span, "end": span["end"] + 1}) is not None


def test_ner_labels_every_mention_of_a_labelled_string(ner: list[dict]) -> None:
    """A string labelled once in a call is covered by a span wherever else it occurs in that call."""
    for record in ner:
        text = record["text"]
        covered = [False] * len(text)
        for span in record["entities"]:
            covered[span["start"] : span["end"]] = [True] * (span["end"] - span["start"])
        for value in {text[s["start"] : s["end"]] for s in record["entities"]}:
            for match in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", text):
                assert all(covered[match.start() : match.end()]), (record["id"], match.start())


def test_all_nine_entity_types_occur_in_a_good_share_of_records(ner: list[dict]) -> None:
    share = {
        label: sum(any(s["label"] == label for s in r["entities"]) for r in ner) / len(ner)
        for label in NER_ENTITY_TYPES
    }
    assert set(NER_ENTITY_TYPES) == {s["label"] for r in ner for s in r["entities"]}
    assert min(share.values()) >= 0.5, share


def test_ner_lengths_vary_and_some_exceed_a_window(ner: list[dict]) -> None:
    lengths = [len(record["text"]) for record in ner]
    assert sum(length >= 2500 for length in lengths) >= 3
    assert sum(300 <= length <= 1300 for length in lengths) / len(lengths) >= 0.75
    assert len(set(lengths)) > len(lengths) / 2


# --------------------------------------------------------------------------- cases
@functools.cache
def _pattern(template: str) -> re.Pattern[str]:
    """Any rendering of a sentence template; a slot at either end is dropped (it only says "some text here")."""
    pieces = re.split(r"\{(\w+)\}", template)  # literal, slot, literal, ..., literal
    if len(pieces) > 1 and pieces[0] == "":
        pieces = pieces[2:]
    if len(pieces) > 1 and pieces[-1] == "":
        pieces = pieces[:-2]
    return re.compile("".join(re.escape(p) if i % 2 == 0 else r"[^\n\"]+?" for i, p in enumerate(pieces)))


def test_cases_schema_and_coverage(cases: list[dict]) -> None:
    assert len(cases) == SIZES["n_cases"]
    assert len({case["uniqueid"] for case in cases}) == len(cases)
    assert {case["category"] for case in cases} == set(SUB_TO_MAIN_CATEGORY)  # 140 records >= 2 rounds of 66
    assert {case["priority"] for case in cases} == set(PRIORITIES)
    values = [value for case in cases for value in case["intervention"].split(", ")]
    assert set(values) <= set(INTERVENTIONS) - {"Unknown"}
    assert any(", " in case["intervention"] for case in cases)
    assert all(case["county"] and case["narrative"] for case in cases)


def _case_problems(case: dict) -> list[str]:
    """Every disagreement between a case's labels and the issue, risk and action sentences of its narrative."""
    narrative, problems = case["narrative"], []
    issue_of = {sub for sub, group in ISSUES.items() if any(_pattern(t).search(narrative) for t in group)}
    if issue_of != {case["category"]}:
        problems.append(f"category {case['category']!r} but issues of {sorted(issue_of)}")
    risk_of = {p for (p, _), group in RISK_CUES.items() if any(_pattern(t).search(narrative) for t in group)}
    if risk_of != {case["priority"]}:
        problems.append(f"priority {case['priority']!r} but risk sentences of {sorted(risk_of)}")
    actions = {
        name for name, (first, third) in ACTIONS.items() if any(_pattern(t).search(narrative) for t in first + third)
    }
    if actions != set(case["intervention"].split(", ")):
        problems.append(f"intervention {case['intervention']!r} but actions {sorted(actions)}")
    return problems


def test_case_labels_follow_from_the_narrative(cases: list[dict]) -> None:
    for case in cases:
        problems = _case_problems(case)
        assert not problems, (case["uniqueid"], problems)


def test_case_checker_catches_wrong_labels(cases: list[dict]) -> None:
    case = cases[0]
    wrong_category = next(sub for sub in ISSUES if sub != case["category"])
    wrong_priority = next(p for p in PRIORITIES if p != case["priority"])
    assert any("category" in p for p in _case_problems({**case, "category": wrong_category}))
    assert any("priority" in p for p in _case_problems({**case, "priority": wrong_priority}))
    assert any("intervention" in p for p in _case_problems({**case, "intervention": "Shelter, Mediation"}))


# --------------------------------------------------------------------------- QA
def _qa_problems(record: dict, split: str) -> list[str]:
    """Every disagreement between a QA record's labels and the behaviours its transcript renders.

    A sub-metric is met exactly when the counsellor's turns render one of its met families; a rendered not-met
    family (an abrupt closing, a dismissive reply...) only ever comes with label 0; a family left out renders
    nothing. The families are found from the text alone (`rendered_behaviours`), noise included.
    """
    problems = []
    found = rendered_behaviours(record["text"])
    for head, index in SUB_METRICS:
        label = record["labels"][head]
        hits = found[(head, index)]
        if label == HOLD_NOT_APPLICABLE:
            if hits["met"] or hits["not_met"]:
                problems.append(f"{head}[{index}] not applicable but rendered")
            continue
        if bool(hits["met"]) != bool(label[index]) or (label[index] == 1 and hits["not_met"]):
            problems.append(f"{head}[{index}]={label[index]} but text has {hits}")
        if any(hit_split != split for hit_split, _ in hits["met"] + hits["not_met"]):
            problems.append(f"{head}[{index}] rendered with a family of the other split")
    text = record["text"]
    counsellor = "\n".join(text[t.start : t.end] for t in find_turns(text) if t.role == "counsellor")  # as written
    polite = re.search(POLITE_WORDS, counsellor, flags=re.IGNORECASE) is not None
    if polite != bool(record["labels"]["listening"][3]):
        problems.append("please/thank you words disagree with listening[3]")
    hesitant = re.search(HESITATION_MARKERS, counsellor, flags=re.IGNORECASE) is not None
    if hesitant == bool(record["labels"]["listening"][4]):
        problems.append("hesitation markers disagree with listening[4]")
    return problems


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_qa_labels_agree_with_the_rendered_behaviours(split: str, qa: list[dict], qa_heldout: list[dict]) -> None:
    records = qa if split == "train" else qa_heldout
    assert len(records) == SIZES["n_qa" if split == "train" else "n_qa_heldout"]
    for record in records:
        assert set(record) == {"sample_id", "text", "labels", "scenario", "quality_level"}
        for head, names in QA_HEADS.items():
            value = record["labels"][head]
            assert value == HOLD_NOT_APPLICABLE if isinstance(value, str) else len(value) == len(names)
        problems = _qa_problems(record, split)
        assert not problems, (record["sample_id"], problems)


def test_qa_checker_catches_a_flipped_label(qa: list[dict]) -> None:
    for head, index in SUB_METRICS:
        record = next(r for r in qa if isinstance(r["labels"][head], list))
        record = json.loads(json.dumps(record))
        record["labels"][head][index] = 1 - record["labels"][head][index]
        assert any(f"{head}[{index}]" in problem for problem in _qa_problems(record, "train")), (head, index)
    record = json.loads(json.dumps(qa[0]))
    record["labels"]["listening"][3] = 1 - record["labels"]["listening"][3]
    assert any("please/thank you" in problem for problem in _qa_problems(record, "train"))
    assert any("other split" in problem for problem in _qa_problems(qa[0], "heldout"))


def test_qa_has_calls_without_hold_and_quality_follows_the_share_met(qa: list[dict], qa_heldout: list[dict]) -> None:
    for records in (qa, qa_heldout):
        not_applicable = [r for r in records if r["labels"]["hold"] == HOLD_NOT_APPLICABLE]
        assert 0 < len(not_applicable) < len(records)
        for record in not_applicable:
            assert not any(normalise(marker.split("{")[0]) in normalise(record["text"]) for marker in HOLD_MARKERS)
    for record in qa + qa_heldout:
        values = [v for head in record["labels"].values() if isinstance(head, list) for v in head]
        share = sum(values) / len(values)
        expected = "poor" if share < 0.5 else "average" if share < 0.8 else "good"
        assert record["quality_level"] == expected, record["sample_id"]
    assert {r["quality_level"] for r in qa} == {"poor", "average", "good"}
    assert len({r["scenario"] for r in qa}) >= 8


# --------------------------------------------------------------------------- cache, CLI, describe
def test_ensure_generated_writes_once_and_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = {"n_ner": 5, "n_cases": 5, "n_qa": 5, "n_qa_heldout": 5}
    first = ensure_generated(tmp_path, seed=2, **small)
    assert all(path.is_file() for path in first.values())
    content = {key: path.read_bytes() for key, path in first.items()}

    import helpline_fusion.data.synthetic as synthetic

    def fail(*args, **kwargs):
        raise AssertionError("generate() called although a complete copy exists")

    monkeypatch.setattr(synthetic, "generate", fail)
    again = ensure_generated(tmp_path, seed=2, **small)
    assert again == first and {key: path.read_bytes() for key, path in again.items()} == content
    with pytest.raises(AssertionError, match="generate\\(\\) called"):
        ensure_generated(tmp_path, seed=2, **{**small, "n_ner": 6})  # other sizes: another folder
    monkeypatch.undo()

    (first["ner_file"].parent / "manifest.json").unlink()  # an interrupted copy is not trusted
    repaired = ensure_generated(tmp_path, seed=2, **small)
    assert (repaired["ner_file"].parent / "manifest.json").is_file()
    assert repaired["ner_file"].read_bytes() == content["ner_file"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".synthetic-")]


def test_main_writes_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(
        ["--out", str(out), "--seed", "5", "--n-ner", "4", "--n-cases", "3", "--n-qa", "2", "--n-qa-heldout", "1"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    for name in FILE_NAMES.values():
        assert (out / name).is_file() and name in printed
    assert "(3 records" in printed
    assert len(json.loads((out / "cases.json").read_text(encoding="utf-8"))) == 3
    with pytest.raises(SystemExit):
        main(["--out", str(out), "--n-qa", "-2"])
    assert "n_qa: expected a non-negative integer, got -2" in capsys.readouterr().err


def test_describe_reports_sizes_and_variety() -> None:
    info = describe()
    assert info["default_sizes"] == DEFAULT_SIZES
    assert info["qa_sub_metrics"] == 17 and info["case_sub_categories"] == len(SUB_TO_MAIN_CATEGORY)
    for name, counts in info["qa_families_per_sub_metric"].items():
        assert counts["met_train_families"] >= 2 and counts["met_heldout_families"] >= 1, name
        assert counts["not_met_train_families"] >= 2 and counts["not_met_heldout_families"] >= 1, name
        assert min(counts.values()) >= 1, name
    assert info["given_names_female"] + info["given_names_male"] >= 100
    assert info["counties_kenya"] == 47
