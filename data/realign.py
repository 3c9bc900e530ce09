"""Realignment of drifted NER spans: a span is moved only when the record itself proves where it belongs.

Many records rejected as `spans_misaligned` (`validation.py`) are not random: their first spans are right and,
from some span on, the offsets drift by a few characters (a NAME span that starts two characters inside the name
it labelled earlier, and runs past its end). Two rules repair such a span, and nothing else does:

- `same_text`: exactly one shift within `MAX_SHIFT` characters puts the span on word boundaries (its first and
  last characters a letter or digit, no letter or digit just outside) AND makes its text equal to the text of a
  correctly placed span of the same label in the record (a span before the drift starts). The span keeps its
  length: only its offsets drifted.
- `shared_shift`: the drift starts at the first span that cuts a word and every span from there on lands on word
  boundaries under one and the same shift, and no other shift within `MAX_SHIFT` does that for all of them (at
  least `MIN_SHARED_SPANS` spans; no span of the drift proven elsewhere by `same_text`).

Anything ambiguous is left as it was and counted as unproven: two shifts fit, the shifted text is not on word
boundaries, or the shifts of the drifted spans disagree. The caller (`validation.repair_ner_record`) realigns a
record only when no drifted span is unproven (a record whose offsets belong to another text often has one span
that happens to land on a name and four that land nowhere), then applies the misalignment rule to the result.

Only a record the misalignment rule rejects is ever realigned, so with realignment on every record kept today is
kept unchanged. Each repair is described by span index, shift and rule (`Realignment`), never by its text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from .validation import cuts_a_word as cuts_word

MAX_SHIFT = 12
"""Largest drift (characters, either way) a span is moved by."""
MIN_SHARED_SPANS = 2
"""`shared_shift` needs at least this many drifted spans agreeing on one shift (one span alone proves nothing)."""
SAME_TEXT, SHARED_SHIFT = "same_text", "shared_shift"


@dataclass(frozen=True)
class Realignment:
    """One span moved: its index in the record's `entities` list, the shift applied and the rule that proved it."""

    span: int
    shift: int
    rule: str

    def to_dict(self) -> dict[str, int | str]:
        return asdict(self)


def on_word_boundaries(text: str, start: int, end: int) -> bool:
    """Whether `[start, end)` lies inside the text, begins and ends with a letter or digit, and cuts no word.

    Example:
        >>> text = "Amina called from Mombasa"
        >>> on_word_boundaries(text, 0, 5), on_word_boundaries(text, 1, 6), on_word_boundaries(text, 5, 12)
        (True, False, False)
    """
    if not (0 <= start < end <= len(text)):
        return False
    return text[start].isalnum() and text[end - 1].isalnum() and not cuts_word(text, start, end)


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    return start + len(piece) - len(piece.lstrip()), end - len(piece) + len(piece.rstrip())


@dataclass
class RealignResult:
    """What `realign` did: the new `(start, end)` of every span (in the order given), the repairs, how many spans
    drifted (from the first that cuts a word on) and how many of those neither rule proved (left where they were)."""

    offsets: list[tuple[int, int]]
    repairs: list[Realignment]
    drifted: int
    unproven: int


def realign(
    text: str, spans: Sequence[tuple[int, int, str]], indices: Sequence[int] | None = None, max_shift: int = MAX_SHIFT
) -> RealignResult:
    """Realign the drifted spans of one record by the two rules of this module.

    Args:
        text: the record's text.
        spans: `(start, end, label)` of each span as given (offsets inside the text, before whitespace trimming).
        indices: each span's index in the record's `entities` list (what a `Realignment` names); default 0, 1, ...
        max_shift: largest shift tried, either way.

    Example:
        >>> text = "Hi, I am Amina. Later Amina said more."
        >>> result = realign(text, [(9, 14, "NAME"), (24, 29, "NAME")])
        >>> result.offsets[1], [r.to_dict() for r in result.repairs]
        ((22, 27), [{'span': 1, 'shift': -2, 'rule': 'same_text'}])
    """
    indices = list(range(len(spans))) if indices is None else list(indices)
    offsets = [(start, end) for start, end, _ in spans]
    order = sorted(range(len(spans)), key=lambda i: (spans[i][0], spans[i][1], i))
    drift_at = next(
        (position for position, i in enumerate(order) if cuts_word(text, *_trimmed(text, spans[i][0], spans[i][1]))),
        None,
    )
    if drift_at is None:
        return RealignResult(offsets, [], 0, 0)
    drifted = order[drift_at:]
    shifts = [d for d in range(-max_shift, max_shift + 1)]
    same_text = _same_text_shifts(text, spans, order[:drift_at], drifted, shifts)
    shared = _shared_shift(text, spans, drifted, shifts, same_text)

    repairs: list[Realignment] = []
    unproven = 0
    for i in drifted:
        start, end, _ = spans[i]
        if i in same_text:
            shift, rule = same_text[i], SAME_TEXT
        elif shared is not None:
            shift, rule = shared, SHARED_SHIFT
        else:
            unproven += 1
            continue
        if shift:
            offsets[i] = (start + shift, end + shift)
            repairs.append(Realignment(indices[i], shift, rule))
    repairs.sort(key=lambda r: r.span)
    return RealignResult(offsets, repairs, len(drifted), unproven)


def _same_text_shifts(
    text: str, spans: Sequence[tuple[int, int, str]], placed: list[int], drifted: list[int], shifts: list[int]
) -> dict[int, int]:
    """Rule same_text: for each drifted span, the one shift that lands it on an anchor's text of its label (the
    text of a correctly placed span; 0: already in place)."""
    anchors: dict[str, set[str]] = {}
    for i in placed:
        start, end = _trimmed(text, spans[i][0], spans[i][1])
        if on_word_boundaries(text, start, end):
            anchors.setdefault(spans[i][2], set()).add(text[start:end])
    same_text: dict[int, int] = {}
    for i in drifted:
        start, end, label = spans[i]
        fits = [
            d
            for d in shifts
            if on_word_boundaries(text, start + d, end + d) and text[start + d : end + d] in anchors.get(label, ())
        ]
        if len(fits) == 1:
            same_text[i] = fits[0]
    return same_text


def _shared_shift(
    text: str, spans: Sequence[tuple[int, int, str]], drifted: list[int], shifts: list[int], same_text: dict[int, int]
) -> int | None:
    """Rule shared_shift: the one shift that puts every drifted span on word boundaries (agreeing with same_text)."""
    if len(drifted) >= MIN_SHARED_SPANS:
        fits = [
            d for d in shifts if d != 0 and all(on_word_boundaries(text, spans[i][0] + d, spans[i][1] + d) for i in drifted)
        ]
        if len(fits) == 1 and all(d == fits[0] for d in same_text.values()):
            return fits[0]
    return None


__all__ = ["MAX_SHIFT", "MIN_SHARED_SPANS", "RealignResult", "Realignment", "on_word_boundaries", "realign"]
