"""Speaker turns of a transcript: who speaks where, by character offsets, for speaker-aware call-quality pooling.

A call-quality sub-metric is about what the counsellor did, so the quality heads should read the counsellor's
turns. `find_turns` splits a transcript at speaker labels found at line starts (`Counsellor:`, `Caller:`,
`Agent:`, `Client:`, `C:`, `K:` ... case-insensitive) and maps each label to a role through a table; a
transcript without any label becomes one whole-text turn of role `"unknown"`, so a caller of this module always
has something to pool over. `counsellor_token_mask` and `token_turn_ids` turn the character turns into
per-token facts from a fast tokenizer's `offset_mapping`; `window_turn_ids` is the one rule that gives a window
its quality turns (`qa_pooling: "turns"`), used alike by training's tokenisation and by `predict`.

This file ships to the Hub next to the weights (``trust_remote_code``): it imports nothing but the standard library.
`helpline_fusion.data.speakers` re-exports it for the data tools.

Example:
    >>> text = "Counsellor: Child helpline, how can I help?\\nCaller: My son is missing."
    >>> [(t.role, text[t.start:t.end]) for t in find_turns(text)]
    [('counsellor', 'Child helpline, how can I help?'), ('caller', 'My son is missing.')]
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Role = Literal["counsellor", "caller", "other", "unknown"]
ROLES: tuple[str, ...] = ("counsellor", "caller", "other", "unknown")

DEFAULT_SPEAKER_ROLES: dict[str, str] = {
    "counsellor": "counsellor",
    "counselor": "counsellor",
    "agent": "counsellor",
    "helpline": "counsellor",
    "mshauri": "counsellor",
    "c": "counsellor",
    "caller": "caller",
    "client": "caller",
    "child": "caller",
    "mpigaji": "caller",
    "k": "caller",
    "supervisor": "other",
    "interpreter": "other",
}
"""Speaker label (lower case) → role. A label the pattern finds but this table lacks gets role `"other"`."""

DEFAULT_SPEAKER_PATTERN = (
    r"^[ \t]*(?P<speaker>" + "|".join(sorted(DEFAULT_SPEAKER_ROLES, key=lambda name: (-len(name), name))) + r")[ \t]*:"
)
"""A speaker label at a line start: optional indentation, a known name, a colon (matched case-insensitively)."""


@dataclass(frozen=True)
class Turn:
    """One speaker turn: `text[start:end]` is its content (label and surrounding whitespace excluded)."""

    speaker: str
    role: str
    start: int
    end: int


def _compile(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    compiled = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, re.IGNORECASE | re.MULTILINE)
    if "speaker" not in compiled.groupindex and compiled.groups != 1:
        raise ValueError(
            f"speaker pattern {compiled.pattern!r}: expected a named group (?P<speaker>...) or exactly one group, "
            f"found {compiled.groups} groups"
        )
    return compiled


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def find_turns(
    text: str,
    pattern: str | re.Pattern[str] = DEFAULT_SPEAKER_PATTERN,
    roles: Mapping[str, str] = DEFAULT_SPEAKER_ROLES,
) -> list[Turn]:
    """The speaker turns of `text`, in order.

    A turn starts after a speaker label matched by `pattern` and runs to the next label (so a turn may span
    several lines); its offsets exclude the label and the whitespace around the content. Text before the first
    label, if any, is a turn of speaker `""` and role `"unknown"`; a label with no content gives no turn. Without
    any label the whole (stripped) text is one `"unknown"` turn; empty or blank text has no turns.

    Args:
        text: the transcript.
        pattern: a regex (string, compiled case-insensitive and multi-line, or a compiled pattern used as is) with
            a named group `speaker` or exactly one group: the speaker's name.
        roles: speaker name (lower case) → `"counsellor"`, `"caller"` or `"other"`; unlisted names are `"other"`.

    Example:
        >>> text = "agent: Hello.\\nCLIENT: Hi,\\nit is me."
        >>> [(t.speaker, t.role, text[t.start:t.end]) for t in find_turns(text)]
        [('agent', 'counsellor', 'Hello.'), ('CLIENT', 'caller', 'Hi,\\nit is me.')]
    """
    compiled = _compile(pattern)
    bad = sorted({role for role in roles.values() if role not in ROLES[:3]})
    if bad:
        raise ValueError(f"speaker roles: expected 'counsellor', 'caller' or 'other', found {bad}")
    group = "speaker" if "speaker" in compiled.groupindex else 1
    labels = list(compiled.finditer(text))
    turns: list[Turn] = []
    bounds = [(None, 0, labels[0].start() if labels else len(text))]
    bounds += [(m, m.end(), labels[i + 1].start() if i + 1 < len(labels) else len(text)) for i, m in enumerate(labels)]
    for match, raw_start, raw_end in bounds:
        start, end = _strip(text, raw_start, raw_end)
        if start == end:
            continue
        if match is None:
            turns.append(Turn("", "unknown", start, end))
        else:
            speaker = match.group(group)
            turns.append(Turn(speaker, roles.get(speaker.lower(), "other"), start, end))
    return turns


def token_turn_ids(offsets: Sequence[Sequence[int]], turns: Sequence[Turn]) -> list[int]:
    """For each token (its `(start, end)` character offsets), the index in `turns` of the turn it falls in, or -1.

    A token belongs to a turn when its characters overlap the turn's content; special tokens (empty offsets such
    as `(0, 0)`) and tokens of the speaker labels belong to none.

    Example:
        >>> turns = [Turn("Caller", "caller", 8, 11), Turn("Counsellor", "counsellor", 24, 27)]
        >>> token_turn_ids([(0, 0), (0, 6), (8, 11), (12, 22), (24, 27)], turns)
        [-1, -1, 0, -1, 1]
    """
    ordered = sorted(range(len(turns)), key=lambda i: turns[i].start)
    starts = [turns[i].start for i in ordered]
    ids = []
    for token_start, token_end in offsets:
        found = -1
        if token_end > token_start:
            # Turns do not overlap: only the last turn starting before the token's end, or the one before it
            # (for a token across a turn boundary), can hold it; the earlier of the two wins.
            last = bisect.bisect_left(starts, token_end) - 1
            for position in (last - 1, last):
                if position >= 0 and token_start < turns[ordered[position]].end:
                    found = ordered[position]
                    break
        ids.append(found)
    return ids


def window_turn_ids(offsets: Sequence[Sequence[int]], turns: Sequence[Turn]) -> list[int]:
    """The quality turns of one window: per token (its `(start, end)` offsets), the window's own index of the
    counsellor turn it falls in (0, 1, ... in order of appearance in the window), -1 elsewhere.

    Caller, other and unknown turns (text before the first label of a labelled transcript), speaker labels, special
    tokens and padding are -1. A transcript without any speaker label (`find_turns` gives one `"unknown"` turn) is
    read whole: every content token of the window is turn 0. A turn cut by a window boundary is a turn of each
    window that sees part of it. `turns` are the whole transcript's (`find_turns`), `offsets` the window's.

    Example:
        >>> text = "Caller: hi\\nCounsellor: welcome\\nCaller: ok\\nCounsellor: bye"
        >>> window_turn_ids([(0, 0), (8, 10), (23, 30), (39, 41), (54, 57), (0, 0)], find_turns(text))
        [-1, -1, 0, -1, 1, -1]
        >>> window_turn_ids([(0, 0), (0, 2), (3, 8), (0, 0)], find_turns("my child"))
        [-1, 0, 0, -1]
    """
    unlabelled = len(turns) == 1 and turns[0].role == "unknown" and turns[0].speaker == ""
    wanted = ("counsellor", "unknown") if unlabelled else ("counsellor",)
    local: dict[int, int] = {}
    ids = []
    for turn in token_turn_ids(offsets, turns):
        if turn < 0 or turns[turn].role not in wanted:
            ids.append(-1)
            continue
        ids.append(local.setdefault(turn, len(local)))
    return ids


def quality_speakers(config: object) -> tuple[str, dict[str, str]] | None:
    """`(speaker_pattern, speaker_roles)` of a config whose quality heads pool over turns (`qa_pooling: "turns"`),
    the defaults where the config leaves them unset; `None` for token pooling (no turns needed)."""
    if getattr(config, "qa_pooling", "tokens") != "turns":
        return None
    pattern = getattr(config, "speaker_pattern", None) or DEFAULT_SPEAKER_PATTERN
    roles = getattr(config, "speaker_roles", None) or DEFAULT_SPEAKER_ROLES
    return pattern, dict(roles)


def check_speakers(pattern: str, roles: Mapping[str, str]) -> None:
    """Raise a one-line `ValueError` when a speaker pattern or role table cannot be used (see `find_turns`)."""
    try:
        _compile(pattern)
    except re.error as error:
        raise ValueError(f"speaker_pattern {pattern!r}: not a regular expression ({error})") from None
    bad = sorted({str(role) for role in roles.values() if role not in ROLES[:3]})
    if bad:
        raise ValueError(f"speaker roles: expected 'counsellor', 'caller' or 'other', found {bad}")


def counsellor_token_mask(
    offsets: Sequence[Sequence[int]], turns: Sequence[Turn], unknown_is_counsellor: bool = True
) -> list[bool]:
    """Which tokens (by `(start, end)` character offsets) fall in the counsellor's turns.

    With `unknown_is_counsellor` (the default) the tokens of `"unknown"` turns count too: a transcript without
    speaker labels is read whole, as the fallback of `find_turns` promises.

    Example:
        >>> text = "Caller: Hi.\\nCounsellor: Welcome."
        >>> counsellor_token_mask([(0, 0), (8, 11), (12, 22), (24, 32)], find_turns(text))
        [False, False, False, True]
    """
    wanted = {"counsellor", "unknown"} if unknown_is_counsellor else {"counsellor"}
    return [i >= 0 and turns[i].role in wanted for i in token_turn_ids(offsets, turns)]
