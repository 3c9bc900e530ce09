"""Tests of speaker-turn detection (`helpline_fusion.data.speakers`)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpline_fusion.data.speakers import (
    DEFAULT_SPEAKER_ROLES,
    Turn,
    counsellor_token_mask,
    find_turns,
    token_turn_ids,
)


def _view(text: str, turns: list[Turn]) -> list[tuple[str, str, str]]:
    return [(t.speaker, t.role, text[t.start : t.end]) for t in turns]


def test_labelled_transcript_gives_exact_turns() -> None:
    text = "Counsellor: Child helpline, how can I help?\nCaller: My son is missing.\nCounsellor: Since when?"
    turns = find_turns(text)
    assert _view(text, turns) == [
        ("Counsellor", "counsellor", "Child helpline, how can I help?"),
        ("Caller", "caller", "My son is missing."),
        ("Counsellor", "counsellor", "Since when?"),
    ]
    assert turns[0] == Turn("Counsellor", "counsellor", 12, 43)


def test_mixed_case_indentation_and_other_conventions() -> None:
    text = "  AGENT:hello there\ncLiEnT :  hi\n\tcounselor: and you?\nK: ndio\nc: sawa"
    assert _view(text, find_turns(text)) == [
        ("AGENT", "counsellor", "hello there"),
        ("cLiEnT", "caller", "hi"),
        ("counselor", "counsellor", "and you?"),
        ("K", "caller", "ndio"),
        ("c", "counsellor", "sawa"),
    ]


def test_a_turn_spans_lines_until_the_next_label() -> None:
    text = "Caller: It started in May.\nThen it got worse,\n\nmuch worse.\nCounsellor: I hear you."
    turns = find_turns(text)
    assert _view(text, turns)[0] == ("Caller", "caller", "It started in May.\nThen it got worse,\n\nmuch worse.")
    assert _view(text, turns)[1] == ("Counsellor", "counsellor", "I hear you.")


def test_a_label_inside_a_line_does_not_start_a_turn() -> None:
    text = "Counsellor: Tell me what the caller: said.\nCaller: He said nothing."
    assert [t.role for t in find_turns(text)] == ["counsellor", "caller"]
    assert text[find_turns(text)[0].start : find_turns(text)[0].end] == "Tell me what the caller: said."


def test_without_labels_the_whole_text_is_one_unknown_turn() -> None:
    text = "  hello, my name is amina and my brother is beaten at home.\n  "
    turns = find_turns(text)
    assert turns == [Turn("", "unknown", 2, len(text.rstrip()))]
    assert text[turns[0].start : turns[0].end] == text.strip()
    assert find_turns("") == [] and find_turns(" \n\t ") == []


def test_text_before_the_first_label_and_empty_turns() -> None:
    text = "[call starts]\nCounsellor:\nCaller:   \nCounsellor: Hello."
    assert _view(text, find_turns(text)) == [("", "unknown", "[call starts]"), ("Counsellor", "counsellor", "Hello.")]


def test_configurable_pattern_and_roles() -> None:
    text = "Mshauri: Karibu.\nMtoto: Nimepigwa.\nMama: Ni kweli.\nNote: not a speaker"
    pattern = r"^(?P<speaker>mshauri|mtoto|mama):"
    turns = find_turns(text, pattern=pattern, roles={"mshauri": "counsellor", "mtoto": "caller"})
    assert _view(text, turns) == [
        ("Mshauri", "counsellor", "Karibu."),
        ("Mtoto", "caller", "Nimepigwa."),
        ("Mama", "other", "Ni kweli.\nNote: not a speaker"),
    ]
    compiled = re.compile(r"^(\w+)>", re.MULTILINE)  # a compiled pattern is used as given (here case-sensitive)
    assert _view("Agent> hi\nagent> yo", find_turns("Agent> hi\nagent> yo", pattern=compiled)) == [
        ("Agent", "counsellor", "hi"),
        ("agent", "counsellor", "yo"),
    ]


def test_bad_pattern_or_roles_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match=r"expected a named group \(\?P<speaker>...\) or exactly one group, found 0"):
        find_turns("Caller: hi", pattern=r"^Caller:")
    with pytest.raises(ValueError, match=r"expected 'counsellor', 'caller' or 'other', found \['boss'\]"):
        find_turns("Caller: hi", roles={**DEFAULT_SPEAKER_ROLES, "caller": "boss"})


def test_counsellor_token_mask_with_a_fast_tokenizer(tiny_tokenizer) -> None:
    text = "Caller: my child\nCounsellor: help you\nCaller: the call"
    encoding = tiny_tokenizer(text, return_offsets_mapping=True)
    offsets = encoding["offset_mapping"]
    turns = find_turns(text)
    mask = counsellor_token_mask(offsets, turns)
    counsellor = turns[1]
    expected = [end > start and start >= counsellor.start and end <= counsellor.end for start, end in offsets]
    assert mask == expected and sum(mask) >= 2
    assert [text[s:e] for (s, e), m in zip(offsets, mask) if m] == ["help", "you"]
    assert not mask[0] and not mask[-1]  # [CLS], [SEP]
    ids = token_turn_ids(offsets, turns)
    assert [text[s:e] for (s, e), i in zip(offsets, ids) if i == 2] == ["the", "call"]
    assert all(i == -1 for (s, e), i in zip(offsets, ids) if text[s:e] in {"caller", "counsellor", ":"})


def test_mask_fallback_reads_the_whole_unlabelled_text(tiny_tokenizer) -> None:
    text = "my child was beaten"
    offsets = tiny_tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
    turns = find_turns(text)
    assert counsellor_token_mask(offsets, turns) == [end > start for start, end in offsets]
    assert not any(counsellor_token_mask(offsets, turns, unknown_is_counsellor=False))


def test_token_across_a_turn_boundary_belongs_to_the_earlier_turn() -> None:
    turns = [Turn("Caller", "caller", 0, 5), Turn("Counsellor", "counsellor", 5, 9)]
    assert token_turn_ids([(3, 7), (5, 6), (9, 12), (2, 2)], turns) == [0, 1, -1, -1]


_SPEAKERS = st.sampled_from(["Counsellor", "Caller", "AGENT", "client", "C", "k"])
_CONTENT = st.text(alphabet="abc xyz.,?\n", min_size=1, max_size=30).filter(lambda s: s.strip() != "")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_SPEAKERS, _CONTENT), min_size=1, max_size=6))
def test_any_labelled_transcript_round_trips(parts: list[tuple[str, str]]) -> None:
    text = "\n".join(f"{speaker}: {content}" for speaker, content in parts)
    turns = find_turns(text)
    assert [(t.speaker, text[t.start : t.end]) for t in turns] == [(s, c.strip()) for s, c in parts]
    assert [t.role for t in turns] == [DEFAULT_SPEAKER_ROLES[s.lower()] for s, _ in parts]
