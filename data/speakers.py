"""Speaker turns of a transcript, for the data tools (the synthetic generator, validation).

The rule lives once, in the model's payload (`modeling_attention_fusion/speakers_attention_fusion.py`), because
`predict` needs it wherever the model goes (`qa_pooling: "turns"`); this module re-exports it. Importing it loads
no torch: the payload package imports its modules lazily and the speakers module needs the standard library only.

Example:
    >>> text = "Counsellor: Child helpline, how can I help?\\nCaller: My son is missing."
    >>> [(t.role, text[t.start:t.end]) for t in find_turns(text)]
    [('counsellor', 'Child helpline, how can I help?'), ('caller', 'My son is missing.')]
"""

from __future__ import annotations

from ..modeling_attention_fusion.speakers_attention_fusion import (
    DEFAULT_SPEAKER_PATTERN,
    DEFAULT_SPEAKER_ROLES,
    ROLES,
    Role,
    Turn,
    check_speakers,
    counsellor_token_mask,
    find_turns,
    quality_speakers,
    token_turn_ids,
    window_turn_ids,
)

__all__ = [
    "DEFAULT_SPEAKER_PATTERN",
    "DEFAULT_SPEAKER_ROLES",
    "ROLES",
    "Role",
    "Turn",
    "check_speakers",
    "counsellor_token_mask",
    "find_turns",
    "quality_speakers",
    "token_turn_ids",
    "window_turn_ids",
]
