"""A training output folder holds one run: every file it wrote, listed with its hash in `run_manifest.json`.

A run gets a new id (`new_run_id`) that every JSON file it writes carries as its top-level `"run_id"`. Each file is
written atomically (`write_atomic`: a temporary file beside it, fsync, `os.replace`), and the manifest is written
last, after the files it lists: a reader that checks the folder (`check_run_folder`) therefore sees either one
complete run or a refusal naming the file that does not belong, never a silent mix of two runs' files.

The manifest also says which phases of the run are done (`phases_done`: `train`, then `refit`, `calibrate`,
`evaluate`, `curves`, `card`) and which are still to run (`phases_pending`); a folder whose run stopped after
training holds a loadable model, and `check_run_folder` refuses it as unfinished unless asked otherwise.

`output_dir_lock` keeps a second training out of a folder that one is writing.

Example:
    >>> from helpline_fusion.train.run_folder import check_run_folder
    >>> manifest = check_run_folder("outputs/quickstart")  # doctest: +SKIP
    >>> manifest["phases_done"]  # doctest: +SKIP
    ['train', 'refit', 'calibrate', 'evaluate', 'curves', 'card']
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

RUN_MANIFEST = "run_manifest.json"
LOCK_NAME = ".helpline-fusion.lock"
MANIFEST_FORMAT = 1
# Top-level files of an output folder that are not the model's: stores that keep changing after the run (MLflow),
# and the manifest itself. Hidden files (the lock, temporary files) are never listed either.
NOT_LISTED = frozenset({RUN_MANIFEST, "mlflow.db", "mlflow.db-journal"})


class MixedRunFolderError(ValueError):
    """A folder whose files are not one complete run's (a missing or foreign file, or no manifest)."""


class OutputDirLockedError(ValueError):
    """Another training holds the output folder."""


def new_run_id() -> str:
    """A new run id (32 hex digits)."""
    return uuid.uuid4().hex


def write_atomic(path: str | Path, data: bytes | str) -> None:
    """Write `data` to `path` so that a reader sees the old file or the new one, never a part: a temporary file in
    the same folder (`.NAME.XXXX.tmp`), flushed and fsynced, then `os.replace`d onto `path`. On an `OSError` (a
    full disk, a file-size limit) the temporary file is removed and the error raised; `path` is untouched."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(temporary, "xb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    # Keep the rename itself across a power loss (best effort: not every file system lets a folder be fsynced).
    with contextlib.suppress(OSError):
        descriptor = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def write_json_atomic(path: str | Path, record: Any, run_id: str | None = None) -> Path:
    """`record` as indented JSON, atomically (`write_atomic`); a dict gets `"run_id"` first when one is given."""
    if run_id is not None:
        if not isinstance(record, dict):
            raise TypeError(f"{Path(path).name}: a run id goes into a JSON object, got {type(record).__name__}")
        record = {"run_id": run_id, **{key: value for key, value in record.items() if key != "run_id"}}
    write_atomic(path, json.dumps(record, indent=2) + "\n")
    return Path(path)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_files(folder: str | Path) -> list[str]:
    """The top-level regular files of `folder` a manifest lists: all but hidden ones, `NOT_LISTED` and symlinks."""
    folder = Path(folder)
    return sorted(
        path.name for path in folder.iterdir()
        if path.is_file() and not path.is_symlink() and not path.name.startswith(".") and path.name not in NOT_LISTED
    )  # fmt: skip


def write_manifest(
    folder: str | Path,
    run_id: str,
    settings_digest: str,
    phases_done: list[str],
    *,
    phases_pending: Iterable[str] = (),
    files: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Write `run_manifest.json` (atomically; call it after the files it lists are written):
    `{"run_id", "settings_digest", "phases_done", "phases_pending", "files": {name: sha256 hex}}` over `files`
    (default: every file `run_files` finds). Returns the manifest."""
    folder = Path(folder)
    names = run_files(folder) if files is None else sorted(set(files) - {RUN_MANIFEST})
    manifest = {
        "format": MANIFEST_FORMAT,
        "run_id": run_id,
        "settings_digest": settings_digest,
        "phases_done": list(phases_done),
        "phases_pending": [phase for phase in phases_pending if phase not in phases_done],
        "files": {name: file_sha256(folder / name) for name in names},
    }
    write_atomic(folder / RUN_MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The folder's manifest, or `MixedRunFolderError` when it is missing or unreadable."""
    path = Path(folder) / RUN_MANIFEST
    if not path.is_file():
        raise MixedRunFolderError(
            f"{path}: missing; {folder} holds no complete training run (a run writes this file last)"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise MixedRunFolderError(f"{path}: unreadable ({type(error).__name__}: {error})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict) or not manifest.get("run_id"):
        raise MixedRunFolderError(f"{path}: not a run manifest (expected run_id and files)")
    return manifest


def check_run_folder(folder: str | Path, *, allow_unfinished: bool = False) -> dict[str, Any]:
    """Check that `folder` holds one run's files and return its manifest.

    Raises `MixedRunFolderError`, in one line naming the file, when the manifest is missing or unreadable, a file
    it lists is missing or differs from its recorded sha256, a top-level JSON file carries another `"run_id"`, or
    (unless `allow_unfinished`) the run has phases still to run.

    Example:
        >>> check_run_folder("outputs/quickstart")["run_id"]  # doctest: +SKIP
        '3f2a...'
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    run_id = manifest["run_id"]
    for name, expected in sorted(manifest["files"].items()):
        path = folder / name
        if path.is_symlink():  # a run writes regular files; a link could point anywhere (a token file, say)
            raise MixedRunFolderError(f"{path}: a symbolic link, not the file run {run_id} wrote")
        if not path.is_file():
            raise MixedRunFolderError(f"{path}: listed in {RUN_MANIFEST} of run {run_id} but missing")
        if file_sha256(path) != expected:
            raise MixedRunFolderError(
                f"{path}: differs from the file run {run_id} wrote ({RUN_MANIFEST} sha256 {expected[:12]}...); "
                "it was changed or written by another run"
            )
    for path in sorted(folder.glob("*.json")):
        if path.name == RUN_MANIFEST or not path.is_file():
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            continue  # not JSON: a listed one was checked by its hash above
        other = record.get("run_id") if isinstance(record, dict) else None
        if other is not None and other != run_id:
            raise MixedRunFolderError(f"{path}: written by run {other}, not by run {run_id} of {RUN_MANIFEST}")
    pending = manifest.get("phases_pending") or []
    if pending and not allow_unfinished:
        raise MixedRunFolderError(
            f"{folder / RUN_MANIFEST}: run {run_id} stopped before its phases {pending} (done: "
            f"{manifest.get('phases_done')}); finish them with `helpline-fusion train CONFIG.yaml --output_dir "
            f"{folder} --resume_phases true`"
        )
    return manifest


class RunFolderWriter:
    """How a run writes its output folder: JSON files with its run id (`write_json`), files another library writes
    (`save_with`: into a staging folder, then each moved into place with `os.replace`), and after each phase the
    manifest (`phase_done`). With `active=False` (a process other than the main one) it writes nothing.

    Example:
        >>> folder = RunFolderWriter(Path("outputs/run"), new_run_id(), digest)  # doctest: +SKIP
        >>> folder.plan(["train", "evaluate"]); folder.save_with(lambda d: model.save_pretrained(d))  # doctest: +SKIP
        >>> folder.phase_done("train")  # doctest: +SKIP
    """

    def __init__(
        self,
        folder: Path,
        run_id: str,
        settings_digest: str,
        *,
        active: bool = True,
        done: Iterable[str] = (),
        written: Iterable[str] = (),
    ) -> None:
        self.path, self.run_id, self.settings_digest, self.active = Path(folder), run_id, settings_digest, active
        self.done: list[str] = list(done)
        self.written: set[str] = set(written)
        self.planned: list[str] = list(self.done)
        # A previous run's files in this folder: those this run does not write again are removed with its first
        # manifest, so that the folder never lists two runs' files.
        self.previous: set[str] = set()
        if active and not self.written and (self.path / RUN_MANIFEST).is_file():
            with contextlib.suppress(MixedRunFolderError):
                self.previous = set(read_manifest(self.path)["files"])

    def plan(self, phases: Iterable[str]) -> None:
        self.planned = list(dict.fromkeys([*self.done, *phases]))

    @property
    def pending(self) -> list[str]:
        return [phase for phase in self.planned if phase not in self.done]

    def write_json(self, name: str, record: Any) -> None:
        if self.active:
            write_json_atomic(self.path / name, record, self.run_id)
            self.written.add(name)

    def save_with(self, save: Callable[[Path], Any]) -> list[str]:
        """`save(staging)` writes files into a fresh hidden staging folder; each is fsynced and moved into the
        output folder (`os.replace`). If `save` fails (a full disk), the staging folder is removed and the output
        folder is as it was. Returns the names moved in."""
        if not self.active:
            return []
        staging = self.path / f".staging-{self.run_id}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            save(staging)
            names = sorted(path.name for path in staging.iterdir() if path.is_file())
            for name in names:
                with open(staging / name, "rb+") as handle:
                    os.fsync(handle.fileno())
            for name in names:
                os.replace(staging / name, self.path / name)
                self.written.add(name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return names

    def remove_stale(self) -> None:
        """Remove the files a previous run's manifest listed that this run has not written."""
        if not self.active:
            return
        stale = sorted(self.previous - self.written)
        for name in stale:
            with contextlib.suppress(FileNotFoundError):
                (self.path / name).unlink()
        if stale:
            logger.info("removed %s of this folder's previous run (not written by this one)", ", ".join(stale))
        self.previous = set()

    def phase_done(self, phase: str) -> None:
        if phase not in self.done:
            self.done.append(phase)
        if self.active:
            present = {name for name in self.written if (self.path / name).is_file()}
            write_manifest(
                self.path, self.run_id, self.settings_digest, self.done, phases_pending=self.pending, files=present
            )


@contextlib.contextmanager
def output_dir_lock(folder: str | Path) -> Iterator[Path]:
    """Hold `folder/.helpline-fusion.lock` (an exclusive, non-blocking `fcntl.flock`, with this process's pid in
    it) while the block runs; a second holder gets `OutputDirLockedError`. The lock ends with the process, so a
    killed training never leaves the folder locked."""
    import fcntl

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise OutputDirLockedError(
                f"output_dir {folder} is in use by another training (pid {holder})"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield path
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


__all__ = [
    "LOCK_NAME", "RUN_MANIFEST", "MixedRunFolderError", "OutputDirLockedError", "RunFolderWriter", "check_run_folder",
    "file_sha256",
    "new_run_id", "output_dir_lock", "read_manifest", "run_files", "write_atomic", "write_json_atomic",
    "write_manifest",
]  # fmt: skip
