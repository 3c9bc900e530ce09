"""A small phrase grammar for the call-quality behaviours: render, count and recognise composed sentences.

A phrasing is written once, in a compact notation, and yields many sentences:

- `(a|b|c)` one of the alternatives, `[a]` optional text (nesting allowed), `{slot}` a slot filled later;
- `" || "` separates turns; a turn starting with `Caller: ` is the caller's, any other the counsellor's.

`render` draws one sentence with a seeded `random.Random`; `count_renderings` says how many distinct sentences
(slot values aside) the notation can give; `phrase_regex` compiles the counsellor's part into a pattern that finds
any rendering of it in `normalise`d text, whatever the transcription noise of `add_noise` did to it (lower case,
dropped punctuation, the misheard words of `MISHEARD`). The tests use these patterns to read every label back off
the rendered transcript, independently of the generator's own bookkeeping.

Example:
    >>> import random
    >>> render("(Hello|Habari), [dear ]{who}.", random.Random(1), {"who": "Amina"}) in {
    ...     "Hello, Amina.", "Hello, dear Amina.", "Habari, Amina.", "Habari, dear Amina."}
    True
    >>> count_renderings("(Hello|Habari), [dear ]{who}.")
    4
    >>> bool(phrase_regex("(Hello|Habari), [dear ]{who}.").search(normalise("habari dear amina")))
    True
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass

CALLER = "Caller: "
TURN_SEPARATOR = " || "

# Words a speech recogniser confuses, and what it writes instead (whole words, lower case). None of them is a
# reserved politeness or hesitation word (see `qa_templates`), and no substitute is one.
MISHEARD: dict[str, tuple[str, ...]] = {
    "helpline": ("help line", "health line"),
    "counsellor": ("councillor",),
    "officer": ("office",),
    "police": ("polis",),
    "school": ("skul",),
    "right": ("write",),
    "there": ("their",),
    "hear": ("here",),
    "week": ("weak",),
    "know": ("no",),
    "case": ("kes",),
    "number": ("namba",),
    "for": ("four",),
    "two": ("to",),
    "safe": ("save",),
    "call": ("cool",),
    "would": ("wood",),
    "clinic": ("kliniki",),
}
_MISHEARD_PATTERN = re.compile(r"\b(" + "|".join(sorted(MISHEARD, key=len, reverse=True)) + r")\b(?!')", re.IGNORECASE)
_DROPPABLE = re.compile(r"[.,;:!?]")


# --------------------------------------------------------------------------- parsing
@dataclass(frozen=True)
class Slot:
    name: str


@dataclass(frozen=True)
class Choice:
    options: tuple[tuple[Node, ...], ...]  # each option a sequence of nodes; `()` is the empty option


Node = str | Slot | Choice


def _parse(text: str, position: int, closing: str | None) -> tuple[list[tuple[Node, ...]], int]:
    """Alternatives (separated by `|`) up to `closing` (or the end), from `position`; returns them and the end."""
    options: list[tuple[Node, ...]] = []
    nodes: list[Node] = []
    literal = ""
    while position < len(text):
        char = text[position]
        if char in "([":
            if literal:
                nodes.append(literal)
                literal = ""
            inner, position = _parse(text, position + 1, ")" if char == "(" else "]")
            nodes.append(Choice(tuple(inner) + (((),) if char == "[" else ())))
            continue
        if char == "{":
            end = text.index("}", position)
            if literal:
                nodes.append(literal)
                literal = ""
            nodes.append(Slot(text[position + 1 : end]))
            position = end + 1
            continue
        if char == "|" and closing is not None:
            options.append(tuple(nodes + ([literal] if literal else [])))
            nodes, literal = [], ""
        elif char == closing:
            options.append(tuple(nodes + ([literal] if literal else [])))
            return options, position + 1
        elif char in ")]":
            raise ValueError(f"phrase {text!r}: unexpected {char!r} at position {position}")
        else:
            literal += char
        position += 1
    if closing is not None:
        raise ValueError(f"phrase {text!r}: missing {closing!r}")
    options.append(tuple(nodes + ([literal] if literal else [])))
    return options, position


@functools.cache
def parse(phrase: str) -> tuple[Node, ...]:
    """The node sequence of one turn's notation (cached)."""
    options, _ = _parse(phrase, 0, None)
    return options[0]


def split_turns(phrasing: str) -> list[tuple[str, str]]:
    """`[(speaker, notation)]` of a phrasing: speaker `"caller"` or `"counsellor"`."""
    turns = []
    for turn in phrasing.split(TURN_SEPARATOR):
        if turn.startswith(CALLER):
            turns.append(("caller", turn[len(CALLER) :]))
        else:
            turns.append(("counsellor", turn))
    return turns


# --------------------------------------------------------------------------- rendering
def _render(nodes: tuple[Node, ...], rng: random.Random, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, Slot):
            out.append("{" + node.name + "}")
        else:
            _render(node.options[rng.randrange(len(node.options))], rng, out)


def tidy(text: str) -> str:
    """Spaces collapsed and kept off punctuation, first letter capitalised (after an optional part was dropped)."""
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;:?!])", r"\1", text)
    text = re.sub(r"([,;:])(?=[,.;:?!])", "", text)  # "hello,." from a dropped tail
    text = re.sub(r"([?!])\.", r"\1", text)
    return text[:1].upper() + text[1:]


def render(phrase: str, rng: random.Random, slots: dict[str, str] | None = None) -> str:
    """One sentence of a turn's notation; slots filled from `slots` when given."""
    out: list[str] = []
    _render(parse(phrase), rng, out)
    text = tidy("".join(out))
    if slots is not None:
        text = re.sub(r"\{(\w+)\}", lambda match: slots[match.group(1)], text)
    return text


def _count(nodes: tuple[Node, ...]) -> int:
    total = 1
    for node in nodes:
        if isinstance(node, Choice):
            total *= sum(_count(option) for option in node.options)
    return total


def count_renderings(phrasing: str) -> int:
    """How many sentences (slot values aside) a phrasing's notation can give, over all its turns."""
    total = 1
    for _, turn in split_turns(phrasing):
        total *= _count(parse(turn))
    return total


def enumerate_renderings(phrase: str, limit: int = 100_000) -> list[str]:
    """Every sentence of one turn's notation (slots left as `{name}`), at most `limit` of them."""

    def expand(nodes: tuple[Node, ...]) -> list[str]:
        results = [""]
        for node in nodes:
            if isinstance(node, str):
                pieces = [node]
            elif isinstance(node, Slot):
                pieces = ["{" + node.name + "}"]
            else:
                pieces = [text for option in node.options for text in expand(option)]
            results = [head + piece for head in results for piece in pieces][:limit]
        return results

    return sorted({tidy(text) for text in expand(parse(phrase))})


# --------------------------------------------------------------------------- recognising
def normalise(text: str) -> str:
    """Lower case, punctuation and line breaks to single spaces: what every pattern of `phrase_regex` reads."""
    text = text.lower().replace("\u2019", "'")
    return re.sub(r"\s+", " ", re.sub(r"[^\w'{}\s]", " ", text)).strip()


def _word_regex(word: str) -> str:
    if word not in MISHEARD:
        return re.escape(word)
    return "(?:" + "|".join(re.escape(variant) for variant in (word, *MISHEARD[word])) + ")"


def _regex(nodes: tuple[Node, ...]) -> str:
    parts = []
    for node in nodes:
        if isinstance(node, str):
            words = normalise(node).split()
            if words:
                parts.append(" ".join(_word_regex(word) for word in words))
        elif isinstance(node, Slot):
            parts.append(r"\S.*?")
        else:
            parts.append("(?:" + "|".join(_regex(option) for option in node.options) + ")")
    return r"\s*".join(parts)


@functools.cache
def phrase_regex(phrase: str) -> re.Pattern[str]:
    """A pattern finding any rendering of one turn's notation in `normalise`d text, noise included."""
    return re.compile(r"(?<![\w'])" + _regex(parse(phrase)) + r"(?![\w'])")


# --------------------------------------------------------------------------- transcription noise
@dataclass(frozen=True)
class Noise:
    """How badly one call was transcribed: lower case, share of punctuation dropped, share of words misheard."""

    lower: bool = False
    drop_punctuation: float = 0.0
    mishear: float = 0.0

    @classmethod
    def draw(cls, rng: random.Random) -> Noise:
        """A noise profile: about half the calls clean, the rest with one to three kinds of noise."""
        if rng.random() < 0.45:
            return cls()
        return cls(
            lower=rng.random() < 0.5,
            drop_punctuation=rng.choice([0.0, 0.0, 0.3, 0.7, 1.0]),
            mishear=rng.choice([0.0, 0.2, 0.5]),
        )


def add_noise(text: str, noise: Noise, rng: random.Random) -> str:
    """`text` as a noisy transcriber might have written it (the same `rng` state gives the same result)."""
    if noise.mishear:
        text = _MISHEARD_PATTERN.sub(
            lambda m: rng.choice(MISHEARD[m.group(1).lower()]) if rng.random() < noise.mishear else m.group(1), text
        )
    if noise.drop_punctuation:
        text = _DROPPABLE.sub(lambda m: "" if rng.random() < noise.drop_punctuation else m.group(0), text)
        text = re.sub(r"[ \t]{2,}", " ", text)
    return text.lower() if noise.lower else text
