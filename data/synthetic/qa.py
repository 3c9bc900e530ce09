"""Synthetic counsellor-caller transcripts whose 17 call-quality labels follow from the counsellor's behaviour.

For each call the generator draws a competence `p` (uniform in [0.25, 0.95]); every sub-metric is then
met with probability `p`, independently of the others, and rendered with a met or a not-met paraphrase
template of that sub-metric (see `qa_templates.BEHAVIOURS`). A third of the calls have no hold
at all: their `hold` label is the string "No hold was required" (not applicable). The behaviours are
placed in random order between the opening and the closing, mixed with neutral filler turns.

The training split (`split="train"`) renders only the non-held-out templates, the held-out split
(`split="heldout"`) only the held-out ones, so a model scored on the held-out split has never seen
those sentences. `rendered_behaviours(text)` finds which templates a transcript contains; the tests use
it to check every label against the text.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterator
from typing import Any

from ...modeling_attention_fusion.labels_attention_fusion import QA_HEADS
from .ner import SLOT_PATTERN
from .qa_scenarios import CALLER_INTROS, SCENARIOS
from .qa_templates import BEHAVIOURS, HOLD_MARKERS, NEUTRAL_COUNSELLOR
from .vocab import WEEKDAYS, sample_given_name, sample_landmark, sample_place, sample_surname

SPLITS: tuple[str, ...] = ("train", "heldout")
HELD_OUT_EVERY = 4  # templates 3, 7, 11... of each list are held out
HOLD_NOT_APPLICABLE = "No hold was required"
HOLD_SHARE = 2 / 3
SUB_METRICS: list[tuple[str, int]] = [(head, index) for head, names in QA_HEADS.items() for index in range(len(names))]
_MIDDLE = [key for key in SUB_METRICS if key[0] not in {"opening", "closing", "hold"}]
_FEMALE_SCENARIOS = {"teen_pregnancy", "early_marriage"}

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


BACKCHANNELS: list[str] = [
    "Caller: Okay.",
    "Caller: Yes.",
    "Caller: I see.",
    "Caller: Alright.",
    "Caller: Yes, I understand.",
    "Caller: Mm-hmm.",
    "Caller: Sawa.",
    "Caller: Okay, go on.",
]


def is_held_out(template_index: int) -> bool:
    """Whether the template at this position of its list belongs to the held-out split."""
    return template_index % HELD_OUT_EVERY == HELD_OUT_EVERY - 1


def templates(split: str, key: tuple[str, int], outcome: str) -> list[str]:
    """The templates of sub-metric `key` (`(head, index)`) for `outcome` ("met"/"not_met") usable in `split`."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {list(SPLITS)}, got {split!r}")
    held_out = split == "heldout"
    return [t for i, t in enumerate(BEHAVIOURS[key][outcome]) if is_held_out(i) == held_out]


def turns_of(template: str) -> list[str]:
    """The transcript lines of a template: speaker prefix added, `" || "` turned into line breaks."""
    lines = []
    for turn in template.split(" || "):
        lines.append(turn if turn.startswith(("Caller: ", "Counsellor: ", "[")) else f"Counsellor: {turn}")
    return lines


@functools.cache
def template_regex(template: str) -> re.Pattern[str]:
    """A pattern matching any rendering of `template` as whole transcript lines (slots match any text)."""
    pieces = SLOT_PATTERN.split("\n".join(turns_of(template)))
    # split() alternates literal text and slot names: literal, slot, literal, ...
    body = "".join(re.escape(piece) if i % 2 == 0 else r"[^\n]+?" for i, piece in enumerate(pieces))
    return re.compile(rf"(?m)^{body}$")


def rendered_behaviours(text: str) -> dict[tuple[str, int], dict[str, list[tuple[str, int]]]]:
    """Which behaviour templates `text` contains: `{(head, index): {"met"|"not_met": [(split, position)]}}`."""
    found: dict[tuple[str, int], dict[str, list[tuple[str, int]]]] = {}
    for key, outcomes in BEHAVIOURS.items():
        hits: dict[str, list[tuple[str, int]]] = {"met": [], "not_met": []}
        for outcome, group in outcomes.items():
            for position, template in enumerate(group):
                if template_regex(template).search(text):
                    hits[outcome].append(("heldout" if is_held_out(position) else "train", position))
        found[key] = hits
    return found


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
    }
    spec = SCENARIOS[scenario]
    slots["issue_short"] = _fill(rng.choice(spec["issue_short"]), slots)
    slots["extra_issue"] = _fill(rng.choice(spec["extra"]), slots)
    return slots


def _quality_level(labels: dict[str, Any]) -> str:
    values = [v for head_values in labels.values() if isinstance(head_values, list) for v in head_values]
    share = sum(values) / len(values)
    return "poor" if share < 0.5 else "average" if share < 0.8 else "good"


def make_qa_record(rng: random.Random, index: int, split: str = "train") -> dict[str, Any]:
    """One transcript with its labels: `{"sample_id", "text", "labels", "scenario", "quality_level"}`."""
    scenario = rng.choice(sorted(SCENARIOS))
    spec = SCENARIOS[scenario]
    slots = _slots(rng, scenario)
    details = rng.sample(spec["details"] + GENERIC_DETAILS, k=len(spec["details"]) + len(GENERIC_DETAILS))
    slots["detail"] = _fill(details.pop(), slots)

    competence = rng.uniform(0.25, 0.95)
    has_hold = rng.random() < HOLD_SHARE
    met = {key: rng.random() < competence for key in SUB_METRICS if has_hold or key[0] != "hold"}

    def block(key: tuple[str, int]) -> list[str]:
        template = rng.choice(templates(split, key, "met" if met[key] else "not_met"))
        return turns_of(template)

    blocks: list[list[str]] = [block(key) for key in _MIDDLE]
    if has_hold:
        blocks.append(block(("hold", 0)) + [rng.choice(HOLD_MARKERS)] + block(("hold", 1)))
    for _ in range(rng.randint(1, 5)):
        filler = [f"Caller: {details.pop()}"]
        if rng.random() < 0.5:
            filler.insert(0, f"Counsellor: {rng.choice(NEUTRAL_COUNSELLOR)}")
        blocks.append(filler)
    rng.shuffle(blocks)

    lines = block(("opening", 0)) + [rng.choice(CALLER_INTROS)]
    lines += [f"Caller: {problem}" for problem in rng.sample(spec["problems"], k=rng.choice([1, 1, 2]))]
    for turns in blocks:
        # A caller's short acknowledgement between two counsellor turns of different behaviours.
        if lines[-1].startswith("Counsellor: ") and turns[0].startswith("Counsellor: ") and rng.random() < 0.6:
            lines.append(rng.choice(BACKCHANNELS))
        lines += turns
    lines += block(("closing", 0))

    labels: dict[str, Any] = {
        head: [int(met[(head, i)]) for i in range(len(names))]
        for head, names in QA_HEADS.items()
        if head != "hold" or has_hold
    }
    if not has_hold:
        labels = {head: labels.get(head, HOLD_NOT_APPLICABLE) for head in QA_HEADS}
    return {
        "sample_id": f"qa-{split}-{index:06d}",
        "text": _fill("\n".join(lines), slots),
        "labels": labels,
        "scenario": scenario,
        "quality_level": _quality_level(labels),
    }


def generate_qa(rng: random.Random, n: int, split: str = "train") -> Iterator[dict[str, Any]]:
    for index in range(n):
        yield make_qa_record(rng, index, split)


def qa_variety() -> dict[str, Any]:
    """Template counts per sub-metric and split, for `describe()`."""
    per_metric = {}
    for head, index in SUB_METRICS:
        name = f"{head}/{QA_HEADS[head][index]}"
        per_metric[name] = {
            f"{outcome}_{split}": len(templates(split, (head, index), outcome))
            for outcome in ("met", "not_met")
            for split in SPLITS
        }
    return {
        "qa_scenarios": len(SCENARIOS),
        "qa_scenario_sentences": sum(len(v) for spec in SCENARIOS.values() for v in spec.values()),
        "qa_behaviour_templates": sum(len(g) for outcomes in BEHAVIOURS.values() for g in outcomes.values()),
        "qa_templates_per_sub_metric": per_metric,
    }
