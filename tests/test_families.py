"""Tests of the call-quality phrasing families: the held-out split shares no family and no sentence with training.

What they guard: that a score on `qa_heldout.json` measures transfer to wording never seen in training (issue 30),
and that the composed phrasings, the noise and the family patterns the label checks rely on do what they claim.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter

import pytest

from helpline_fusion.data.synthetic.qa import (
    OUTCOMES,
    SPLITS,
    SUB_METRICS,
    _slots,
    counsellor_phrase,
    families,
    family_regex,
    make_qa_record,
    qa_variety,
    rendered_behaviours,
)
from helpline_fusion.data.synthetic.qa_compose import (
    MISHEARD,
    Noise,
    add_noise,
    count_renderings,
    enumerate_renderings,
    normalise,
    parse,
    phrase_regex,
    render,
)
from helpline_fusion.data.synthetic.qa_templates import FAMILIES

SAID = [family for family in FAMILIES if family.phrasing]


@pytest.fixture(scope="module")
def records() -> dict[str, list[dict]]:
    out = {}
    for split in SPLITS:
        rng = random.Random(f"families:{split}")
        out[split] = [make_qa_record(rng, i, split) for i in range(240)]
    return out


def test_every_sub_metric_has_families_on_both_sides_of_the_split() -> None:
    assert len({family.id for family in FAMILIES}) == len(FAMILIES)
    for key in SUB_METRICS:
        for outcome in OUTCOMES:
            train, held = families("train", key, outcome), families("heldout", key, outcome)
            assert train and held, (key, outcome)
            assert not {f.name for f in train} & {f.name for f in held}, (key, outcome)
            assert sorted(train + held, key=lambda f: f.id) == sorted(
                (f for f in FAMILIES if f.key == key and f.outcome == outcome), key=lambda f: f.id
            )
            assert all(f.phrasing for f in held), "a held-out family must be said: an absence has no wording"
        # Failing takes several spoken forms, not only "sentence absent".
        assert len([f for f in families("train", key, "not_met") if f.phrasing]) >= 2, key
        assert len([f for f in families("train", key, "met") if f.phrasing]) >= 2, key
    with pytest.raises(ValueError, match=r"split: expected one of \['train', 'heldout'\], got 'test'"):
        families("test", ("opening", 0), "met")


def test_no_sentence_of_a_held_out_family_is_a_sentence_of_training() -> None:
    """Every counsellor sentence the families can say, enumerated: the two splits' sets do not meet."""
    said: dict[bool, set[str]] = {False: set(), True: set()}
    for family in SAID:
        sentences = {normalise(s) for s in enumerate_renderings(counsellor_phrase(family))}
        assert len(sentences) == count_renderings(counsellor_phrase(family)) or len(sentences) > 1, family.id
        said[family.held_out] |= sentences
    assert len(said[False]) > 5000 and len(said[True]) > 1000
    assert not said[False] & said[True]


def test_each_family_pattern_finds_its_renderings_and_no_other_family_does() -> None:
    """Sampled renderings under every kind of noise: found by their own family only (across all sub-metrics)."""
    rng = random.Random(3)
    crossed, missed = Counter(), []
    for family in SAID:
        for _ in range(25):
            slots = _slots(rng, rng.choice(["bullying", "neglect", "teen_pregnancy"]))
            noise = Noise(
                lower=rng.random() < 0.5, drop_punctuation=rng.choice([0.0, 1.0]), mishear=rng.choice([0, 1.0])
            )
            sentence = normalise(add_noise(render(counsellor_phrase(family), rng, slots), noise, rng))
            if not family_regex(family).search(sentence):
                missed.append((family.id, sentence))
            crossed.update(
                (family.id, other.id) for other in SAID if other is not family and family_regex(other).search(sentence)
            )
    assert not missed, missed[:5]
    assert not crossed, crossed.most_common(5)


def test_training_records_never_render_a_held_out_family_and_vice_versa(records: dict[str, list[dict]]) -> None:
    seen: dict[str, set[str]] = {split: set() for split in SPLITS}
    for split, group in records.items():
        for record in group:
            for key, hits in rendered_behaviours(record["text"]).items():
                for outcome, found in hits.items():
                    seen[split] |= {f"{key[0]}[{key[1]}]/{outcome}/{name}" for _, name in found}
                    assert all(hit_split == split for hit_split, _ in found), (record["sample_id"], key, found)
    for split in SPLITS:
        # Each split uses (nearly) all its spoken families, so the held-out figures cover every held-out wording.
        own = {f.id for f in SAID if (f.held_out == (split == "heldout"))}
        assert seen[split] <= own
        assert len(seen[split]) >= 0.9 * len(own), sorted(own - seen[split])


def test_the_calls_are_diverse(records: dict[str, list[dict]]) -> None:
    texts = [r["text"] for r in records["train"]]
    share = {
        "lower case": sum(t == t.lower() for t in texts),
        "dropped punctuation": sum(
            bool(re.search(r"^(counsellor|caller): [^\n.?!,;:]{40,}$", t, re.I | re.M)) for t in texts
        ),
        "misheard": sum(
            any(re.search(rf"\b{v}\b", t) for vs in MISHEARD.values() for v in vs if " " in v or len(v) > 4)
            for t in texts
        ),
        "caller first": sum(t.split("\n", 1)[0].split(":")[0].lower() in {"caller", "client"} for t in texts),
        "turn over two lines": sum(
            bool(re.search(r"\n(?!(counsellor|counselor|caller|agent|client):|\[)", t, re.I)) for t in texts
        ),
        "swahili or sheng": sum(
            bool(re.search(r"\b(sawa|pole|niaje|poa|asante|haya|ndio|aki|karibu)\b", t, re.I)) for t in texts
        ),
        "other speaker labels": sum(bool(re.search(r"^(agent|client|counselor):", t, re.I | re.M)) for t in texts),
        "interruption": sum(" --" in t for t in texts),
    }
    assert all(count >= 0.05 * len(texts) for count in share.values()), share
    assert len(set(texts)) == len(texts)
    counsellor_lines = Counter(
        normalise(line.split(":", 1)[1])
        for t in texts
        for line in t.splitlines()
        if re.match(r"(counsel|agent)", line, re.I)
    )
    # Most counsellor lines are new: the repeats are short neutral questions ("Who else knows about this?").
    assert len(counsellor_lines) >= 0.6 * sum(counsellor_lines.values())


def test_variety_numbers_are_those_of_the_tables() -> None:
    info = qa_variety()
    assert info["qa_families"] == len(FAMILIES) and 0 < info["qa_held_out_families"] < len(FAMILIES)
    assert info["qa_renderings"] == sum(count_renderings(f.phrasing) for f in SAID) > 10_000
    for name, counts in info["qa_families_per_sub_metric"].items():
        assert counts["met_train_renderings"] >= 20 and counts["met_heldout_renderings"] >= 6, name
        assert counts["not_met_train_families"] >= 2 and counts["not_met_heldout_families"] >= 1, name


def test_generation_is_seeded_and_fast() -> None:
    first = [make_qa_record(random.Random(11), i) for i in range(3)]
    assert first == [make_qa_record(random.Random(11), i) for i in range(3)]
    rng = random.Random(12)
    started = time.perf_counter()
    for i in range(2000):
        make_qa_record(rng, i)
    assert time.perf_counter() - started < 20  # about 2 s on this machine's CPU; seconds, not minutes


def test_notation_render_count_and_pattern_agree() -> None:
    phrase = "(Hello|Habari (yako|za leo))[, dear] {who}[ (sana|kabisa)]."
    sentences = enumerate_renderings(phrase)
    assert len(sentences) == count_renderings(phrase) == 3 * 2 * 3
    assert "Habari za leo, dear {who} sana." in sentences and "Hello {who}." in sentences
    rng = random.Random(0)
    assert {render(phrase, rng, {"who": "Amina"}) for _ in range(400)} == {
        s.replace("{who}", "Amina") for s in sentences
    }
    assert all(phrase_regex(phrase).search(normalise(s.replace("{who}", "Otieno Baraka"))) for s in sentences)
    assert not phrase_regex(phrase).search(normalise("Habari yako."))  # the slot needs a value
    with pytest.raises(ValueError, match=r"missing '\)'"):
        parse("(Hello|Hi there")
    with pytest.raises(ValueError, match=r"unexpected '\]' at position 5"):
        parse("Hello] you")


def test_noise_is_seeded_and_only_what_it_claims() -> None:
    text = "Counsellor: The officer at the police station will call you right away, for sure."
    noise = Noise(lower=True, drop_punctuation=1.0, mishear=1.0)
    noisy = add_noise(text, noise, random.Random(4))
    assert noisy == add_noise(text, noise, random.Random(4))
    assert noisy == noisy.lower() and not re.search(r"[.,]", noisy)
    assert re.search(r"\b(office|polis|cool|write|four)\b", noisy)
    assert add_noise(text, Noise(), random.Random(4)) == text
