"""Synthetic counsellor-caller transcripts whose 17 call-quality labels follow from the counsellor's behaviour.

For each call the generator draws a competence `p` (uniform in [0.25, 0.95]); every sub-metric is then met with
probability `p`, independently of the others, and rendered by one phrasing *family* of that sub-metric and
outcome (`qa_templates.FAMILIES`), composed afresh from its notation (`qa_compose`). A third of the calls have no
hold: their `hold` label is the string "No hold was required" (not applicable).

The call is assembled the way calls go: sometimes the caller speaks first; the behaviours come in random order
between the opening and the closing, mixed with neutral questions, the caller's details and code-switched asides
(Swahili, Sheng), caller backchannels, the caller breaking into a neutral counsellor turn; counsellor turns join
one to three pieces, some over two lines; speaker labels vary (`Counsellor:`, `Counselor:`, `Agent:`/`Client:`).
Then a seeded transcription noise (`qa_compose.Noise`: lower case, dropped punctuation, misheard words) is
applied to half the calls.

The training split (`split="train"`) renders only families that are not held out, the held-out split
(`split="heldout"`) only the held-out ones, so a model scored on the held-out split has never seen that wording.
`rendered_behaviours(text)` reads back, from the text alone, which families a transcript contains; the tests use
it to check every label against the text.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterator
from typing import Any

from ...modeling_attention_fusion.labels_attention_fusion import QA_HEADS
from ..speakers import find_turns
from .ner import SLOT_PATTERN
from .qa_compose import Noise, add_noise, count_renderings, normalise, phrase_regex, render, split_turns
from .qa_scenarios import (
    BACKCHANNELS,
    CALLER_ASIDES,
    CALLER_FAREWELLS,
    CALLER_FIRST,
    CALLER_INTERRUPTIONS,
    CALLER_INTROS,
    CALLER_OPENERS,
    SCENARIOS,
)
from .qa_templates import (
    COUNSELLOR_OPENERS,
    FAMILIES,
    HOLD_MARKERS,
    INTERRUPTED_COUNSELLOR,
    NEUTRAL_COUNSELLOR,
    RESUMING_COUNSELLOR,
    Family,
)
from .vocab import WEEKDAYS, sample_given_name, sample_landmark, sample_place, sample_surname

SPLITS: tuple[str, ...] = ("train", "heldout")
OUTCOMES: tuple[str, ...] = ("met", "not_met")
HOLD_NOT_APPLICABLE = "No hold was required"
HOLD_SHARE = 2 / 3
SUB_METRICS: list[tuple[str, int]] = [(head, index) for head, names in QA_HEADS.items() for index in range(len(names))]
_MIDDLE = [key for key in SUB_METRICS if key[0] not in {"opening", "closing", "hold"}]
_FEMALE_SCENARIOS = {"teen_pregnancy", "early_marriage"}
# (counsellor label, caller label), drawn per call: mostly the helpline's own, sometimes another convention.
SPEAKER_LABELS: list[tuple[str, str]] = [("Counsellor", "Caller")] * 14 + [
    ("Counselor", "Caller"),
    ("Agent", "Client"),
    ("Counsellor", "Client"),
]

GENERIC_DETAILS: list[str] = [
    "We live near the main road, past the shops.",
    "I have been trying to get help for some weeks now.",
    "Nobody in the village wants to get involved.",
    "I am calling from my sister's phone.",
    "The chief was away when I went to the office.",
    "It has been like this since the rains started.",
    "My husband does not know that I am calling.",
    "I only found out about it on Sunday.",
]

Turn = tuple[str, list[str]]  # (speaker "counsellor"/"caller"/"note", its pieces, joined by a space or a line break)


# --------------------------------------------------------------------------- families and their patterns
def families(split: str, key: tuple[str, int], outcome: str) -> list[Family]:
    """The phrasing families of sub-metric `key` (`(head, index)`) for `outcome` ("met"/"not_met") in `split`."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {list(SPLITS)}, got {split!r}")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome: expected one of {list(OUTCOMES)}, got {outcome!r}")
    held_out = split == "heldout"
    return [f for f in FAMILIES if f.key == key and f.outcome == outcome and f.held_out == held_out]


def family_split(family: Family) -> str:
    return "heldout" if family.held_out else "train"


def counsellor_phrase(family: Family) -> str | None:
    """The notation of the counsellor's turn of `family` (None for a family that leaves the behaviour out)."""
    if not family.phrasing:
        return None
    phrases = [phrase for speaker, phrase in split_turns(family.phrasing) if speaker == "counsellor"]
    if len(phrases) != 1:
        raise ValueError(f"family {family.id}: expected exactly one counsellor turn, found {len(phrases)}")
    return phrases[0]


@functools.cache
def family_regex(family: Family) -> re.Pattern[str] | None:
    """A pattern finding the counsellor's part of any rendering of `family` in `normalise`d text."""
    phrase = counsellor_phrase(family)
    return None if phrase is None else phrase_regex(phrase)


def counsellor_text(text: str) -> list[str]:
    """The counsellor's turns of a transcript (`speakers.find_turns`), each `normalise`d."""
    return [normalise(text[t.start : t.end]) for t in find_turns(text) if t.role in {"counsellor", "unknown"}]


def rendered_behaviours(text: str) -> dict[tuple[str, int], dict[str, list[tuple[str, str]]]]:
    """Which families the counsellor's turns of `text` render: `{(head, index): {"met"|"not_met": [(split, name)]}}`.

    Read from the text alone (the families' patterns tolerate the transcription noise), not from the generator.
    """
    turns = counsellor_text(text)
    found: dict[tuple[str, int], dict[str, list[tuple[str, str]]]] = {
        key: {outcome: [] for outcome in OUTCOMES} for key in SUB_METRICS
    }
    for family in FAMILIES:
        pattern = family_regex(family)
        if pattern is not None and any(pattern.search(turn) for turn in turns):
            found[family.key][family.outcome].append((family_split(family), family.name))
    return found


# --------------------------------------------------------------------------- slots
def _fill(text: str, slots: dict[str, str]) -> str:
    return SLOT_PATTERN.sub(lambda match: slots[match.group(1)], text)


def _slots(rng: random.Random, scenario: str) -> dict[str, str]:
    gender = "female" if scenario in _FEMALE_SCENARIOS else rng.choice(["female", "male"])
    child = sample_given_name(rng, gender)
    counsellor = sample_given_name(rng, rng.choice(["female", "male"]), avoid={child})
    caller = f"{sample_given_name(rng, rng.choice(['female', 'male']), avoid={child, counsellor})} "
    caller += sample_surname(rng, avoid={child, counsellor})
    place = sample_place(rng)
    female = gender == "female"
    slots = {
        "counsellor": counsellor,
        "caller": caller,
        "child": child,
        "age": str(rng.randint(13, 17) if scenario in _FEMALE_SCENARIOS else rng.randint(2, 17)),
        "they": "she" if female else "he",
        "them": "her" if female else "him",
        "poss": "her" if female else "his",
        "place": place.phrase(rng),
        "day": rng.choice(WEEKDAYS),
        "minutes": str(rng.randint(2, 5)),
        "office": sample_landmark(rng, place, rng.choice(["police", "health"])),
        "case_no": rng.choice(["CH", "HL", "116"]) + rng.choice(["-", "/", " "]) + str(rng.randint(1000, 99999)),
    }
    spec = SCENARIOS[scenario]
    slots["issue_short"] = _fill(rng.choice(spec["issue_short"]), slots)
    slots["extra_issue"] = _fill(rng.choice(spec["extra"]), slots)
    return slots


def _quality_level(labels: dict[str, Any]) -> str:
    values = [v for head_values in labels.values() if isinstance(head_values, list) for v in head_values]
    share = sum(values) / len(values)
    return "poor" if share < 0.5 else "average" if share < 0.8 else "good"


# --------------------------------------------------------------------------- assembling a call
def _family_turns(family: Family, rng: random.Random, slots: dict[str, str]) -> list[Turn]:
    if not family.phrasing:
        return []
    return [(speaker, [render(phrase, rng, slots)]) for speaker, phrase in split_turns(family.phrasing)]


def _with_opener(piece: str, openers: list[str], rng: random.Random, share: float, slots: dict[str, str]) -> str:
    """`piece` after a filler or discourse word now and then ("Sawa, let me..."), names and "I" kept upper case."""
    if rng.random() >= share:
        return piece
    first = piece.split(" ", 1)[0].strip(",.;:?!'s")
    proper = {"I"} | {word for key in ("child", "counsellor", "caller") for word in slots[key].split()}
    return rng.choice(openers) + (piece if first in proper else piece[:1].lower() + piece[1:])


def _fillers(rng: random.Random, details: list[str], slots: dict[str, str]) -> list[list[Turn]]:
    """Neutral blocks: the caller's details (sometimes after a neutral question), asides, an interruption."""
    blocks: list[list[Turn]] = []
    for _ in range(rng.randint(1, 5)):
        block: list[Turn] = [("caller", [_with_opener(details.pop(), CALLER_OPENERS, rng, 0.2, slots)])]
        if rng.random() < 0.6:
            block.insert(0, ("counsellor", [render(rng.choice(NEUTRAL_COUNSELLOR), rng, slots)]))
        blocks.append(block)
    if rng.random() < 0.4:
        blocks.append([("caller", [render(rng.choice(CALLER_ASIDES), rng, slots)])])
    if rng.random() < 0.3:
        blocks.append(
            [
                ("counsellor", [render(rng.choice(INTERRUPTED_COUNSELLOR), rng, slots)]),
                ("caller", [render(rng.choice(CALLER_INTERRUPTIONS), rng, slots)]),
                ("counsellor", [render(rng.choice(RESUMING_COUNSELLOR), rng, slots)]),
            ]
        )
    return blocks


def _join(turns: list[Turn], block: list[Turn], rng: random.Random, slots: dict[str, str]) -> None:
    """Append `block` to `turns`: a counsellor piece may join the counsellor's previous turn (longer turns)."""
    if not block:
        return
    if turns and turns[-1][0] == "counsellor" and block[0][0] == "counsellor":
        roll = rng.random()
        if roll < 0.35:
            turns[-1][1].extend(block[0][1])
            block = block[1:]
        elif roll < 0.8:
            turns.append(("caller", [render(rng.choice(BACKCHANNELS), rng, slots)]))
    turns.extend((speaker, list(pieces)) for speaker, pieces in block)


def _format(turns: list[Turn], labels: tuple[str, str], noise: Noise, rng: random.Random) -> str:
    lines = []
    for speaker, pieces in turns:
        content = pieces[0]
        for piece in pieces[1:]:
            content += ("\n" if rng.random() < 0.3 else " ") + piece  # a long turn sometimes runs over two lines
        if speaker == "note":
            lines.append(content)
            continue
        label = labels[0] if speaker == "counsellor" else labels[1]
        lines.append(f"{label}: {add_noise(content, noise, rng)}")
    text = "\n".join(lines)
    return text.lower() if noise.lower else text


def make_qa_record(rng: random.Random, index: int, split: str = "train") -> dict[str, Any]:
    """One transcript with its labels: `{"sample_id", "text", "labels", "scenario", "quality_level"}`."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {list(SPLITS)}, got {split!r}")
    scenario = rng.choice(sorted(SCENARIOS))
    spec = SCENARIOS[scenario]
    slots = _slots(rng, scenario)
    details = [_fill(d, slots) for d in rng.sample(spec["details"] + GENERIC_DETAILS, k=len(spec["details"]) + 8)]
    slots["detail"] = details.pop()

    competence = rng.uniform(0.25, 0.95)
    has_hold = rng.random() < HOLD_SHARE
    met = {key: rng.random() < competence for key in SUB_METRICS if has_hold or key[0] != "hold"}

    def block(key: tuple[str, int]) -> list[Turn]:
        family = rng.choice(families(split, key, "met" if met[key] else "not_met"))
        turns = _family_turns(family, rng, slots)
        if turns and turns[0][0] == "counsellor" and key[0] != "opening":
            turns[0] = ("counsellor", [_with_opener(turns[0][1][0], COUNSELLOR_OPENERS, rng, 0.15, slots)])
        return turns

    blocks: list[list[Turn]] = [block(key) for key in _MIDDLE]
    if has_hold:
        marker = ("note", [_fill(rng.choice(HOLD_MARKERS), slots)])  # a stage note: a line of its own, no label
        blocks.append(block(("hold", 0)) + [marker] + block(("hold", 1)))
    blocks += _fillers(rng, details, slots)
    rng.shuffle(blocks)

    turns: list[Turn] = []
    if rng.random() < 0.25:
        turns.append(("caller", [render(rng.choice(CALLER_FIRST), rng, slots)]))
    _join(turns, block(("opening", 0)), rng, slots)
    problems = [_fill(p, slots) for p in rng.sample(spec["problems"], k=rng.choice([1, 1, 2]))]
    turns.append(("caller", [_fill(rng.choice(CALLER_INTROS), slots)[len("Caller: ") :]]))
    if rng.random() < 0.5:
        turns[-1][1].extend(problems)  # the caller says who they are and why they call in one turn
    else:
        turns.append(("caller", problems))
    for middle in blocks:
        _join(turns, middle, rng, slots)
    _join(turns, block(("closing", 0)), rng, slots)
    if rng.random() < 0.5:
        turns.append(("caller", [render(rng.choice(CALLER_FAREWELLS), rng, slots)]))

    text = _format(turns, rng.choice(SPEAKER_LABELS), Noise.draw(rng), rng)
    labels: dict[str, Any] = {
        head: [int(met[(head, i)]) for i in range(len(names))] if head != "hold" or has_hold else HOLD_NOT_APPLICABLE
        for head, names in QA_HEADS.items()
    }
    return {
        "sample_id": f"qa-{split}-{index:06d}",
        "text": text,
        "labels": labels,
        "scenario": scenario,
        "quality_level": _quality_level(labels),
    }


def generate_qa(rng: random.Random, n: int, split: str = "train") -> Iterator[dict[str, Any]]:
    for index in range(n):
        yield make_qa_record(rng, index, split)


def qa_variety() -> dict[str, Any]:
    """Families and distinct renderings (slot values aside) per sub-metric, outcome and split, for `describe()`."""
    per_metric = {}
    for head, index in SUB_METRICS:
        counts: dict[str, int] = {}
        for outcome in OUTCOMES:
            for split in SPLITS:
                group = families(split, (head, index), outcome)
                counts[f"{outcome}_{split}_families"] = len(group)
                counts[f"{outcome}_{split}_renderings"] = sum(count_renderings(f.phrasing) for f in group if f.phrasing)
        per_metric[f"{head}/{QA_HEADS[head][index]}"] = counts
    return {
        "qa_scenarios": len(SCENARIOS),
        "qa_scenario_sentences": sum(len(v) for spec in SCENARIOS.values() for v in spec.values()),
        "qa_families": len(FAMILIES),
        "qa_held_out_families": sum(f.held_out for f in FAMILIES),
        "qa_renderings": sum(count_renderings(f.phrasing) for f in FAMILIES if f.phrasing),
        "qa_families_per_sub_metric": per_metric,
    }
