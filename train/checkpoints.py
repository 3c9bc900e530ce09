"""Which checkpoint a resumed run starts from: never one that a killed run left half-written.

The Trainer writes a checkpoint in place, in this order: the weights, the optimizer and scheduler, the RNG
states, and last `trainer_state.json`. A run killed in between leaves a `checkpoint-N` folder without (or with a
truncated) `trainer_state.json`, which `transformers.trainer_utils.get_last_checkpoint` would still pick as the
newest. A checkpoint counts as complete here when its `trainer_state.json` parses and names step N, and its
weights file is whole (a safetensors file as long as its header says).

`--resume_from_checkpoint true` (or `last`) resumes from the newest complete checkpoint of the output folder; a
path to an incomplete one is refused with the name of the newest complete one.

Each checkpoint holds the run's `run_settings.json` (with its run id and settings digest). A checkpoint without it,
or one whose settings differ from the resumed run's (other than where it writes and reports to, and the resume
setting itself), is refused naming the file and the settings (`check_resume_settings`): the checkpoint of another
run, or of this folder's previous run, never becomes this run's model.
"""

from __future__ import annotations

import json
import logging
import re
import struct
from pathlib import Path

logger = logging.getLogger(__name__)

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
RESUME_LATEST = {"true", "last", "latest"}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def _safetensors_whole(path: Path) -> bool:
    """A safetensors file is 8 bytes of header length, the JSON header, then the tensor bytes the header spans."""
    size = path.stat().st_size
    if size < 8:
        return False
    with path.open("rb") as handle:
        (header_length,) = struct.unpack("<Q", handle.read(8))
        if 8 + header_length > size:
            return False
        try:
            header = json.loads(handle.read(header_length))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return False
    ends = [entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"]
    return size == 8 + header_length + max(ends, default=0)


def checkpoint_problem(folder: str | Path) -> str | None:
    """Why `folder` is not a complete checkpoint (`None` when it is).

    Example:
        >>> checkpoint_problem("outputs/run/checkpoint-400")  # doctest: +SKIP
        'trainer_state.json is missing (the run was stopped while writing this checkpoint)'
    """
    folder = Path(folder)
    match = _CHECKPOINT.match(folder.name)
    if not folder.is_dir():
        return "not a folder"
    state_file = folder / "trainer_state.json"
    if not state_file.is_file():
        return "trainer_state.json is missing (the run was stopped while writing this checkpoint)"
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "trainer_state.json is truncated or not JSON (the run was stopped while writing it)"
    if match and state.get("global_step") != int(match.group(1)):
        return f"trainer_state.json names step {state.get('global_step')}, not {match.group(1)}"
    weights = next((folder / name for name in WEIGHT_FILES if (folder / name).is_file()), None)
    if weights is None:
        return f"no weights file ({' or '.join(WEIGHT_FILES)})"
    if weights.suffix == ".safetensors" and not _safetensors_whole(weights):
        return f"{weights.name} is truncated"
    # The optimizer, scheduler and RNG files are written before trainer_state.json, so they are whole when it is.
    return None


def last_complete_checkpoint(output_dir: str | Path, expected: dict | None = None) -> Path | None:
    """The newest complete `checkpoint-N` folder of `output_dir` (with `expected`, a `run_settings` record: the
    newest whose `run_settings.json` records those settings); newer ones that are not are skipped with a warning."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    folders = [path for path in output_dir.iterdir() if _CHECKPOINT.match(path.name) and path.is_dir()]
    for folder in sorted(folders, key=lambda path: int(_CHECKPOINT.match(path.name).group(1)), reverse=True):
        problem = checkpoint_problem(folder)
        if problem is None and expected is not None:
            try:
                check_resume_settings(folder, expected)
            except ValueError as error:
                problem = str(error).removeprefix("resume_from_checkpoint: ")
        if problem is None:
            return folder
        logger.warning("skipping %s: %s", folder, problem)
    return None


def resolve_resume(value: str | bool | None, output_dir: str | Path, expected: dict | None = None) -> str | None:
    """The checkpoint folder `trainer.train(resume_from_checkpoint=...)` gets for a `--resume_from_checkpoint`
    value: `None` (start fresh), `true`/`last`/`latest` (the newest complete checkpoint of `output_dir`), or a path.
    With `expected` (this run's `run_settings` record), only a checkpoint that records the same settings
    (`check_resume_settings`): `true` skips those of other runs, a named one of another run is refused.

    Raises:
        ValueError: no complete checkpoint to resume from, or the named one is incomplete, missing or another run's.
    """
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() in {"", "false", "none"}):
        return None
    if value is True or str(value).strip().lower() in RESUME_LATEST:
        latest = last_complete_checkpoint(output_dir, expected)
        if latest is None:
            which = " of this run's settings" if expected is not None else ""
            raise ValueError(f"resume_from_checkpoint: no complete checkpoint{which} in {output_dir} to resume from")
        logger.info("resuming from %s", latest)
        return str(latest)
    folder = Path(value)
    if not folder.exists():
        raise ValueError(f"resume_from_checkpoint: {folder} does not exist")
    problem = checkpoint_problem(folder)
    if problem is not None:
        latest = last_complete_checkpoint(folder.parent)
        hint = f"; the newest complete one is {latest}" if latest else ""
        raise ValueError(f"resume_from_checkpoint: {folder} is not a complete checkpoint ({problem}){hint}")
    if expected is not None:
        check_resume_settings(folder, expected)
    return str(folder)


def check_resume_settings(checkpoint: str | Path, expected: dict) -> dict:
    """Refuse to resume from `checkpoint` unless its `run_settings.json` records the settings of this run
    (`expected`, a `run_settings` record); returns the checkpoint's record.

    Raises:
        ValueError: naming the checkpoint's run_settings.json when it is missing, unreadable or differs.
    """
    from .run_settings import RUN_SETTINGS_NAME, differing_settings, read_run_settings

    path = Path(checkpoint) / RUN_SETTINGS_NAME
    if not path.is_file():
        raise ValueError(
            f"resume_from_checkpoint: {path} is missing, so nothing says which settings trained this checkpoint "
            "(an older version or another program wrote it); train afresh into a new output_dir"
        )
    recorded = read_run_settings(path)
    differing = differing_settings(recorded, expected)
    if differing:
        listed = "; ".join(f"{key}: {theirs!r} there, {mine!r} here" for key, theirs, mine in differing[:8])
        more = f" (and {len(differing) - 8} more)" if len(differing) > 8 else ""
        raise ValueError(
            f"resume_from_checkpoint: {path} records other settings than this run's: {listed}{more}; resume with "
            "the checkpoint's settings, or train afresh into a new output_dir"
        )
    return recorded
