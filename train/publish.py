"""Publish a trained model folder on the Hugging Face Hub as a version: one commit, one version tag.

    helpline-fusion publish DIR --repo org/helpline-fusion [--tag v1.2.0] [--public] [--message M]
                                [--require-better | --force]

What goes up (an explicit list, and nothing else): the safetensors weights, `config.json` (with `auto_map`), the
remote-code files `auto_map` names and the sibling modules they import, the tokenizer files, `label_maps.json`,
`eval_results.json`, `calibration.json`, `training_curves.png`, the card's plots `report_*.png`, the model card
`README.md` aimed at `--repo` and the run's manifest (`run_manifest.json`, restricted to the published files). Any other file (checkpoints,
`training_args.bin`, the data validation report, which holds local paths, MLflow stores, data, a stray `notes.py`)
stays local. A published file that is a symbolic link or not a regular file is refused, naming it (exit 2).

One run: the folder must pass `check_run_folder` (train/run_folder.py: every file the run wrote, unchanged, and no
JSON file of another run), every published file must be one the run's manifest lists, and the bytes uploaded are
checked against the manifest's sha256 as they are read. The "only if better" gate reads the composite from those
same checked bytes. A folder mixing two runs is refused, naming the file (exit 2).

Private by default: a repo that does not exist yet is created PRIVATE unless `--public` is given (the client then
sends `"visibility": "private"`; `private=False`, which overrides an organisation's private default, is sent only
with `--public`). Publishing into an existing PUBLIC repo is refused without `--public`. A model trained on helpline
calls can memorise names and phrases: making it public is a deliberate act.

Versions:
    - One `create_commit` with `parent_commit` = the head it compared against, so a publish is one commit or none,
      and a concurrent publish makes it fail instead of interleaving. Files of the previous version that the folder
      no longer has are deleted in that commit, so each version is exactly its folder.
    - The tag (`--tag`, default: the next minor version after the highest `vX.Y.Z` tag, `v1.0.0` at first) is
      created on the commit id the upload returned, only after the commit succeeded.
    - "Save only if better", on the Hub (`--require-better`, the default): a folder whose `composite`
      (`eval_results.json`, else its card) is below the currently published card's `model-index` composite is
      refused unless `--force`. A composite that is not a finite number (NaN in either) is refused, never compared.

Errors (no token, unknown repo, refused token or commit, a connection failing midway) raise [`PublishError`] with
what happened, the repo and what to do; the local folder is only read, and no tag is created for a commit that did
not certainly land. A commit whose answer was lost is detected; re-running the same command then finds the files
already there (the Hub makes no empty commit) and only creates the tag.

`train/run.py --push_to_hub` publishes through [`push_with_trainer`] to the repo the Trainer created
(`--hub_model_id`, else `<user>/<output_dir name>`; private unless `--hub_private_repo false`) and tags the commit
it made the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import re
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    ModelCard,
    get_token,
    hf_hub_download,
)
from huggingface_hub.errors import HfHubHTTPError, HFValidationError, RepositoryNotFoundError
from huggingface_hub.utils import validate_repo_id

from .model_card import card_for_repo, composite_from_card, is_helpline_card
from .run_folder import RUN_MANIFEST, MixedRunFolderError, check_run_folder
from .sources import ModelFolderNotFound

try:  # huggingface_hub >= 2 talks over httpx2, 1.x over httpx
    from httpx2 import TransportError
except ImportError:  # pragma: no cover
    from httpx import TransportError

logger = logging.getLogger(__name__)

# Top-level files of a trained folder that make a published version, with the code files `code_files` finds.
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "model-*-of-*.safetensors")
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.txt",
    "vocab.json", "merges.txt", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model", "chat_template.jinja",
)  # fmt: skip
MODEL_FILES = (
    "config.json", "label_maps.json", "eval_results.json", "calibration.json", "README.md", "training_curves.png",
    "report_*.png", RUN_MANIFEST,  # report_*.png: the card's evaluation plots (train/report.py)
)  # fmt: skip
HUB_FILES = WEIGHT_FILES + TOKENIZER_FILES + MODEL_FILES
# The exported graphs of `helpline-fusion export` (train/export.py), in their subfolders, when the folder has them.
EXPORTED_FILES = (
    "onnx/model.onnx", "onnx/model.onnx.data", "onnx/model_int8.onnx", "onnx/export.json",
    "openvino/openvino_model.xml", "openvino/openvino_model.bin", "openvino/export.json",
)  # fmt: skip
REQUIRED_FILES = ("config.json", "label_maps.json", "README.md", "tokenizer_config.json")
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
_SIBLING_IMPORT = re.compile(r"^\s*from\s+\.(\w+)\s+import\s", re.MULTILINE)
_IN_MEMORY_BYTES = 8 << 20  # files up to this size are read whole; larger ones (weights) upload from an open handle


class PublishError(RuntimeError):
    """A publish that did not happen: the message names the repo, what went wrong and what to do."""


class NotBetterError(PublishError):
    """The folder's `composite` is below the published version's (`--require-better`)."""


@dataclass
class PublishResult:
    """What a publish did. `created` is False when the repo already held exactly this folder as a tagged version."""

    repo_id: str
    tag: str
    commit: str
    url: str
    composite: float | None
    previous_composite: float | None
    files: list[str] = field(default_factory=list)
    created: bool = True


# --------------------------------------------------------------------------- the local folder
def hub_files(folder: str | Path) -> list[str]:
    """The files of `folder` that make a published version (sorted), after checking that it is complete and that
    each is a regular file of the folder.

    Raises:
        ValueError: `folder` is missing a file a stranger needs to load the model (naming the folder and the files),
            or a file to publish is a symbolic link or not a regular file (naming it).
    """
    given, folder = str(folder), Path(folder)
    if not folder.exists():
        raise ModelFolderNotFound(given)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder; expected the output folder of `helpline-fusion train`")
    names = sorted(os.listdir(folder))
    chosen = [name for name in names if any(fnmatch(name, pattern) for pattern in HUB_FILES)]
    chosen += [name for name in EXPORTED_FILES if (folder / name).exists() or (folder / name).is_symlink()]
    for name in chosen:
        _check_regular(folder, name)
    code, missing = code_files(folder, names)
    chosen = sorted(chosen + code)
    missing += [name for name in REQUIRED_FILES if name not in chosen]
    if "model.safetensors" not in chosen and "model.safetensors.index.json" not in chosen:
        missing.append("model.safetensors")
    missing += _missing_shards(folder, chosen)
    if missing:
        raise ValueError(
            f"{folder}: cannot publish an incomplete model folder: missing {sorted(set(missing))}; expected the "
            "output folder of `helpline-fusion train` (weights, config.json with auto_map, the remote-code files, "
            "the tokenizer, label_maps.json and README.md)"
        )
    left = sorted(name + ("/" if (folder / name).is_dir() else "") for name in names if name not in chosen)
    if left:
        logger.info("not published (not part of a model version): %s", ", ".join(left))
    return chosen


def code_files(folder: str | Path, names: Iterable[str] | None = None) -> tuple[list[str], list[str]]:
    """The `.py` files a loader runs with `trust_remote_code`, as (present, missing): the modules that config.json's
    `auto_map` and `custom_pipelines` and tokenizer_config.json's `auto_map` name and, transitively, the sibling
    modules they import (`from .x import`). Any other `.py` file in the folder is not part of the model."""
    folder = Path(folder)
    names = set(os.listdir(folder) if names is None else names)
    if "config.json" not in names:
        return [], []
    config = _read_json(folder / "config.json")
    auto_map = config.get("auto_map") or {}
    if "AutoModel" not in auto_map:
        return [], ["config.json with an auto_map for AutoModel (save the model with helpline_fusion imported)"]
    references = list(auto_map.values()) + [
        entry.get("impl") for entry in (config.get("custom_pipelines") or {}).values() if isinstance(entry, dict)
    ]
    if "tokenizer_config.json" in names:
        references += list((_read_json(folder / "tokenizer_config.json").get("auto_map") or {}).values())
    flat = [r for ref in references for r in (ref if isinstance(ref, (list, tuple)) else [ref]) if isinstance(r, str)]
    pending = [reference.split("--")[-1].rsplit(".", 1)[0] + ".py" for reference in flat]
    found: set[str] = set()
    missing: set[str] = set()
    while pending:
        name = pending.pop()
        if name in found or name in missing:
            continue
        if name not in names:
            missing.add(name)
            continue
        _check_regular(folder, name)
        found.add(name)
        pending += [f"{module}.py" for module in _SIBLING_IMPORT.findall((folder / name).read_text(encoding="utf-8"))]
    return sorted(found), sorted(missing)


def _check_regular(folder: Path, name: str) -> None:
    """Refuse a file to publish that is a symbolic link (above all one leading out of the folder) or not a regular
    file: a version holds the folder's own files, never what a link points at."""
    path = folder / name
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        where = "inside" if path.resolve().is_relative_to(folder.resolve()) else "outside"
        raise ValueError(
            f"{path}: a symbolic link to {os.readlink(path)} ({where} the folder); publish uploads regular files "
            "only: replace the link with a copy of the file"
        )
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a named pipe" if stat.S_ISFIFO(mode) else "a special file"
        raise ValueError(f"{path}: {kind}, not a regular file; publish uploads regular files only")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(record, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(record).__name__}")
    return record


def _missing_shards(folder: Path, chosen: list[str]) -> list[str]:
    if "model.safetensors.index.json" not in chosen:
        return []
    index = _read_json(folder / "model.safetensors.index.json")
    return sorted(set(index.get("weight_map", {}).values()) - set(chosen))


def _checked_additions(folder: Path, files: list[str], stack: contextlib.ExitStack) -> tuple[dict, dict]:
    """The run's manifest (`check_run_folder`) and one upload per file but the manifest, read through handles that
    follow no link, each checked against the sha256 the manifest lists for it, so the version and its composite
    come from the bytes of the run that passed the check, not from a file swapped in meanwhile.

    Raises:
        MixedRunFolderError: the folder does not hold one complete run, or a file to publish is not the run's.
    """
    manifest = check_run_folder(folder)
    listed, run_id = manifest["files"], manifest["run_id"]
    additions: dict[str, CommitOperationAdd] = {}
    for name in files:
        if name == RUN_MANIFEST:
            continue
        path = folder / name
        if name not in listed:
            raise MixedRunFolderError(
                f"{path}: not a file of run {run_id} ({RUN_MANIFEST} does not list it); publish uploads one run's "
                "files only"
            )
        handle = stack.enter_context(_open_regular(path))
        small = name in ("README.md", "eval_results.json") or os.fstat(handle.fileno()).st_size <= _IN_MEMORY_BYTES
        addition = CommitOperationAdd(path_in_repo=name, path_or_fileobj=handle.read() if small else handle)
        if addition.upload_info.sha256.hex() != listed[name]:
            raise MixedRunFolderError(
                f"{path}: changed after run {run_id} wrote it (its sha256 differs from {RUN_MANIFEST})"
            )
        additions[name] = addition
    return manifest, additions


def _open_regular(path: Path):
    """`path` opened for reading without following a link (O_NOFOLLOW), refused unless a regular file."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise ValueError(f"{path}: cannot be read for publishing ({error.strerror})") from error
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise ValueError(f"{path}: not a regular file; publish uploads regular files only")
    return os.fdopen(descriptor, "rb")


def folder_composite(folder: str | Path) -> float | None:
    """The `composite` of a trained folder: `eval_results.json`, else the card's `model-index`; None if neither.

    Raises:
        ValueError: the file holding it does not parse, or the composite is not a finite number (NaN, infinity).
    """
    folder = Path(folder)
    results, readme = folder / "eval_results.json", folder / "README.md"
    card = _parse_card(readme, readme.read_bytes()) if readme.is_file() else None
    return _composite(folder, results.read_bytes() if results.is_file() else None, card)


def _composite(folder: Path, results: bytes | None, card: ModelCard | None) -> float | None:
    if results is not None:
        try:
            metrics = json.loads(results)
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            raise ValueError(f"{folder / 'eval_results.json'}: not valid JSON ({error})") from error
        value = metrics.get("composite", metrics.get("eval_composite")) if isinstance(metrics, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _finite(float(value), folder / "eval_results.json")
    value = composite_from_card(card) if card is not None else None
    return None if value is None else _finite(value, folder / "README.md")


def _finite(value: float, where: Path) -> float:
    if not math.isfinite(value):
        raise ValueError(
            f"{where}: the composite is {value}, not a finite number; a model whose evaluation gave no number is "
            "neither compared nor published (re-run the evaluation)"
        )
    return value


def _parse_card(path: Path, data: bytes) -> ModelCard:
    try:
        return ModelCard(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{path}: the model card's metadata does not parse ({error})") from error


def next_version(tags: Iterable[str]) -> str:
    """The next minor version after the highest `vX.Y.Z` tag; `v1.0.0` when there is none.

    Example:
        >>> next_version(["v1.2.0", "v1.10.3", "nightly"])
        'v1.11.0'
    """
    versions = [tuple(int(part) for part in m.groups()) for m in map(_VERSION.match, tags) if m]
    if not versions:
        return "v1.0.0"
    major, minor, _ = max(versions)
    return f"v{major}.{minor + 1}.0"


# --------------------------------------------------------------------------- publishing
def publish_folder(
    folder: str | Path,
    repo_id: str,
    *,
    tag: str | None = None,
    public: bool = False,
    message: str | None = None,
    require_better: bool = True,
    token: str | None = None,
) -> PublishResult:
    """Publish a trained folder as a version of `repo_id`: one commit, then a version tag on it.

    Args:
        folder: the output folder of `helpline-fusion train` (only read, never written); it must hold one run.
        repo_id: `namespace/name`; created PRIVATE if it does not exist, unless `public=True`.
        tag: the version tag; default: [`next_version`] of the repo's tags.
        public: create the repo public, and allow publishing into an existing public repo (refused otherwise).
        message: the commit title; default `Publish <tag> (composite <value>)`.
        require_better: refuse when the folder's `composite` is below the published card's.
        token: a Hub token with write access; default: `HF_TOKEN` or the one saved by `hf auth login`.

    Raises:
        ValueError: an incomplete folder, a linked or special file, a folder mixing runs (`MixedRunFolderError`), a
            composite that is not finite, a malformed repo id or tag (nothing was sent).
        NotBetterError: the refusal rule. PublishError: everything else that stopped the publish.

    Example:
        >>> publish_folder("runs/quickstart", "org/helpline-fusion", tag="v1.2.0")  # doctest: +SKIP
        PublishResult(repo_id='org/helpline-fusion', tag='v1.2.0', commit='3f1c...', ...)
    """
    files = hub_files(folder)  # first: a mistyped folder is named as the user typed it
    folder = Path(folder)
    _check_repo_id(repo_id)
    if tag is not None and not _TAG.match(tag):
        raise ValueError(f"--tag {tag!r}: not a valid tag name; use letters, digits, '.', '_' and '-', e.g. v1.2.0")
    with contextlib.ExitStack() as stack:
        manifest, additions = _checked_additions(folder, files, stack)
        card = _parse_card(folder / "README.md", additions.pop("README.md").path_or_fileobj)
        results = additions.get("eval_results.json")
        composite = _composite(folder, results.path_or_fileobj if results else None, card)
        return _publish(folder, repo_id, files, manifest, additions, card, composite, tag=tag, public=public,
                        message=message, require_better=require_better, token=token)  # fmt: skip


def _publish(
    folder: Path, repo_id: str, files: list[str], manifest: dict, additions: dict, card: ModelCard,
    composite: float | None, *, tag: str | None, public: bool, message: str | None, require_better: bool,
    token: str | None,
) -> PublishResult:  # fmt: skip
    api = _api(repo_id, token)
    repo_id = _create_repo(api, repo_id, public)
    head, remote_files, tags, private = _published_state(api, repo_id)
    if private is False and not public:
        raise PublishError(
            f"refusing to publish {folder} to {repo_id}: that repository is public, so everyone could download a "
            "model trained on helpline calls (which can memorise names). Pass --public (training: "
            "--hub_private_repo false) to publish it publicly on purpose, or choose a private repo. Nothing was "
            "committed."
        )
    previous = _published_composite(api, repo_id, head, remote_files)
    tag = tag or next_version(tags)
    if tag in tags:
        raise PublishError(
            f"tag {tag} already exists on {repo_id} (commit {tags[tag][:10]}): a version is never replaced. Choose "
            f"another --tag (next free: {next_version(tags)})."
        )
    if require_better:
        _check_better(folder, repo_id, composite, previous, head, tags)
    if not is_helpline_card(card):
        logger.warning("%s: README.md is not a helpline-fusion card (no 'helpline-fusion' tag); publishing it as is",
                       folder)  # fmt: skip
    existing = _already_published(api, repo_id, head, tags, remote_files, additions, card, manifest)
    if existing is None:
        # The card's snippets pin the tag this version gets.
        operations, stale = _version_operations(additions, card_for_repo(card, repo_id, revision=tag), manifest,
                                                remote_files)  # fmt: skip
        title, description = _commit_text(folder, manifest, tag, len(files), stale, composite, previous, message)
        commit = _commit(api, repo_id, operations, title, description, head)
        if commit == head and head in tags.values():
            existing = next(name for name, target in tags.items() if target == head)
    if existing is not None:
        logger.info("%s already holds exactly this folder as %s: nothing to publish", repo_id, existing)
        return PublishResult(repo_id, existing, head, f"{api.endpoint}/{repo_id}/tree/{existing}", composite,
                             previous, files, created=False)  # fmt: skip
    _tag(api, repo_id, tag, commit, title)
    logger.info("published %s %s as commit %s (%s)", repo_id, tag, commit, "public" if private is False else "private")
    return PublishResult(repo_id, tag, commit, f"{api.endpoint}/{repo_id}/tree/{tag}", composite, previous, files)


def _api(repo_id: str, token: str | None) -> HfApi:
    token = token or get_token()
    if not token:
        raise PublishError(
            f"no Hugging Face token: publishing to {repo_id} needs a token with write access. Run `hf auth login` "
            "or set HF_TOKEN, then re-run. Nothing was sent."
        )
    return HfApi(token=token)


def _check_better(
    folder: Path, repo_id: str, composite: float | None, previous: float | None, head: str, tags: dict[str, str]
) -> None:
    """The "only if better" gate: refuse a folder whose composite is below the published one, or not comparable."""
    if previous is None:
        return
    if composite is None or not math.isfinite(previous):
        reason = (
            "the folder has no composite metric (eval_results.json or its card's model-index)" if composite is None
            else f"the published card's composite is {previous}, not a finite number"
        )  # fmt: skip
        raise NotBetterError(
            f"cannot compare {folder} with the version published on {repo_id} (main at {head[:10]}): {reason}. "
            "Pass --force to publish anyway."
        )
    # The published composite is read from the card, which holds 4 decimals: compare at that precision, or the same
    # folder published again (composite 0.57845 against the card's 0.5785) would count as worse than itself.
    if round(composite, 4) < round(previous, 4):
        raise NotBetterError(
            f"refusing to publish {folder} to {repo_id}: its composite {composite:.4f} is below the published "
            f"version's {previous:.4f} (main at {head[:10]}{_tag_note(tags, head)}). Pass --force to publish it anyway."
        )


def _commit_text(
    folder: Path, manifest: dict, tag: str, count: int, stale: list[str], composite: float | None,
    previous: float | None, message: str | None,
) -> tuple[str, str]:  # fmt: skip
    """The commit's title (`message`, or `Publish <tag> (composite <value>)`) and description."""
    title = message or f"Publish {tag}" + (f" (composite {composite:.4f})" if composite is not None else "")
    description = (
        f"helpline-fusion publish of `{folder.name}` (run {manifest['run_id']}) as {tag}: {count} files"
        + (f", removed from the previous version: {', '.join(stale)}" if stale else "")
        + (f"; composite {composite:.4f}" if composite is not None else "")
        + (f" (published before: {previous:.4f})" if previous is not None else "")
    )
    return title, description


def push_with_trainer(trainer: Any, commit_message: str = "helpline-fusion training run") -> str | None:
    """Publish the training output folder at the end of `train/run.py --push_to_hub`: the same curated files,
    one commit and a version tag as `helpline-fusion publish` (not `Trainer.push_to_hub`, which would upload
    the whole folder: training_args.bin, the validation report with local paths, MLflow store, synthetic data).

    The repo is the one the Trainer created when it started (`trainer.hub_model_id`: `--hub_model_id`, else
    `<user>/<output_dir name>`), private unless `--hub_private_repo false`. Returns the tag on the main process,
    None elsewhere. "Only if better" is not applied: a training run that asks to push publishes its result; use
    `helpline-fusion publish --require-better` for the guarded path.
    """
    if not trainer.is_world_process_zero():
        return None
    repo_id = getattr(trainer, "hub_model_id", None) or trainer.args.hub_model_id
    if not repo_id:
        raise ValueError(
            f"--push_to_hub: no repo to publish {trainer.args.output_dir} to (the Trainer created none); set "
            "--hub_model_id namespace/name"
        )
    result = publish_folder(
        trainer.args.output_dir, repo_id, public=trainer.args.hub_private_repo is False, message=commit_message,
        require_better=False, token=trainer.args.hub_token,
    )  # fmt: skip
    logger.info("published %s as %s (commit %s)", result.repo_id, result.tag, result.commit)
    return result.tag


# --------------------------------------------------------------------------- Hub steps
def _check_repo_id(repo_id: str) -> None:
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ValueError(f"--repo {repo_id!r}: not a valid repo id ({error})") from error
    if "/" not in repo_id:
        raise ValueError(f"--repo {repo_id!r}: expected namespace/name, e.g. org/helpline-fusion")


def _create_repo(api: HfApi, repo_id: str, public: bool) -> str:
    # Always an explicit choice: `private=None` would leave it to the namespace's default, public for a user.
    try:
        return api.create_repo(repo_id, private=not public, exist_ok=True).repo_id
    except (HfHubHTTPError, TransportError) as error:
        raise _failure(error, api, repo_id, "create or open the repository") from error


def _published_state(api: HfApi, repo_id: str) -> tuple[str, list[str], dict[str, str], bool | None]:
    """Head commit of main, its files, the tags (name -> commit) and whether the repo is private."""
    try:
        info = api.model_info(repo_id)
        tags = {ref.name: ref.target_commit for ref in api.list_repo_refs(repo_id).tags}
    except (HfHubHTTPError, TransportError) as error:
        raise _failure(error, api, repo_id, "read the published version") from error
    return info.sha, [sibling.rfilename for sibling in info.siblings or []], tags, info.private


def _published_composite(api: HfApi, repo_id: str, head: str, remote_files: list[str]) -> float | None:
    """The composite in the `model-index` of the card at `head`; None when nothing comparable is published."""
    if "README.md" not in remote_files:
        return None
    try:
        card = ModelCard.load(hf_hub_download(repo_id, "README.md", revision=head, token=api.token))
    except (HfHubHTTPError, TransportError) as error:
        raise _failure(error, api, repo_id, "read the published model card") from error
    except ValueError as error:  # card metadata that does not parse
        logger.warning("%s: the published card's metadata does not parse (%s); nothing to compare with", repo_id, error)
        return None
    composite = composite_from_card(card)
    if composite is None:
        logger.info("%s: the published card has no composite in its model-index; nothing to compare with", repo_id)
    return composite


def _already_published(
    api: HfApi, repo_id: str, head: str, tags: dict[str, str], remote_files: list[str],
    additions: dict[str, CommitOperationAdd], card: ModelCard, manifest: dict,
) -> str | None:  # fmt: skip
    """The tag of main's head when it already is exactly this folder's version: the manifest published there (the
    sha256 of every file of that version) is the one this publish would write, with the card pinned to that tag."""
    names = [name for name, target in tags.items() if target == head]
    if not names or RUN_MANIFEST not in remote_files:
        return None
    try:
        published = Path(hf_hub_download(repo_id, RUN_MANIFEST, revision=head, token=api.token)).read_bytes()
    except (HfHubHTTPError, TransportError) as error:
        raise _failure(error, api, repo_id, "read the published version's manifest") from error
    for name in names:
        operations, stale = _version_operations(additions, card_for_repo(card, repo_id, revision=name), manifest,
                                                remote_files)  # fmt: skip
        if not stale and operations[-1].path_or_fileobj == published:
            return name
    return None


def _version_operations(
    additions: dict[str, CommitOperationAdd], card: ModelCard, manifest: dict, remote_files: list[str]
) -> tuple[list[Any], list[str]]:
    """The commit's operations (the folder's checked files, the card aimed at the repo, the run's manifest over
    exactly these files, deletions of files the previous version had and this one has not, so each version is
    exactly its folder) and the deleted names."""
    operations: list[Any] = [additions[name] for name in sorted(additions)]
    operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=str(card).encode("utf-8")))
    # The Inference Endpoints custom handler, from this package (train/endpoint_handler.py), in every version.
    operations.append(CommitOperationAdd(path_in_repo="handler.py", path_or_fileobj=endpoint_handler_source()))
    # The manifest as published: the run's id, settings digest and phases, and the sha256 of exactly the files of
    # this version (the card as aimed at the repo), so `check_run_folder` passes on a download of the version.
    published = {key: value for key, value in manifest.items() if key != "files"}
    published["files"] = {op.path_in_repo: op.upload_info.sha256.hex() for op in operations}
    operations.append(
        CommitOperationAdd(path_in_repo=RUN_MANIFEST, path_or_fileobj=(json.dumps(published, indent=2) + "\n").encode())
    )
    stale = sorted(set(remote_files) - {op.path_in_repo for op in operations} - {".gitattributes"})
    operations += [CommitOperationDelete(path_in_repo=name) for name in stale]
    return operations, stale


def endpoint_handler_source() -> bytes:
    """`handler.py` of a published version: train/endpoint_handler.py, the Inference Endpoints custom handler."""
    from importlib import resources

    return resources.files("helpline_fusion.train").joinpath("endpoint_handler.py").read_bytes()


def _commit(api: HfApi, repo_id: str, operations: list[Any], title: str, description: str, head: str) -> str:
    """One commit on main whose parent must be `head`; returns its id (`head` itself when nothing changed)."""
    try:
        return api.create_commit(
            repo_id, operations=operations, commit_message=title, commit_description=description, parent_commit=head
        ).oid
    except HfHubHTTPError as error:
        raise _failure(error, api, repo_id, "commit the new version") from error
    except TransportError as error:
        state, landed = _after_dropped_commit(api, repo_id, head, title)
        if state == "landed":
            raise PublishError(
                f"the connection to {api.endpoint} dropped after {repo_id} received the commit ({_reason(error)}): "
                f"main is now at {landed[:10]} ('{title}'), but it was NOT tagged. Re-run the same command: the "
                "files are already there, so it only creates the tag. The local folder is unchanged."
            ) from error
        checked = f"{repo_id} is unchanged" if state == "unchanged" else f"{repo_id} could not be checked afterwards"
        raise PublishError(
            f"cannot publish to {repo_id}: the connection to {api.endpoint} failed while committing "
            f"({_reason(error)}). {checked}; nothing was tagged and the local folder is unchanged. Check the network "
            "(and HF_ENDPOINT), then re-run (if the commit did land, the re-run only creates the tag)."
        ) from error


def _after_dropped_commit(api: HfApi, repo_id: str, head: str, title: str) -> tuple[str, str | None]:
    """After a dropped commit: `("landed", id)` if main moved to our commit, `("unchanged", None)` if main did not
    move, `("unknown", None)` if that cannot be checked."""
    try:
        latest = api.list_repo_commits(repo_id)[0]
    except Exception:  # noqa: BLE001 - the connection may still be down; "unknown" is the honest answer
        return "unknown", None
    if latest.commit_id == head:
        return "unchanged", None
    return ("landed", latest.commit_id) if latest.title == title else ("unknown", None)


def _tag(api: HfApi, repo_id: str, tag: str, commit: str, message: str) -> None:
    try:
        api.create_tag(repo_id, tag=tag, revision=commit, tag_message=message)
    except (HfHubHTTPError, TransportError) as error:
        raise PublishError(
            f"{repo_id}: the version is committed as {commit[:10]} but tagging it {tag} failed ({_reason(error)}). "
            "Re-run the same command: the files are already there, so it only creates the tag."
        ) from error


def _tag_note(tags: dict[str, str], commit: str) -> str:
    names = [name for name, target in tags.items() if target == commit]
    return f", tagged {', '.join(names)}" if names else ""


def _reason(error: Exception) -> str:
    status = getattr(getattr(error, "response", None), "status_code", None)
    text = getattr(error, "server_message", None) or (str(error).strip().splitlines() or [type(error).__name__])[0]
    return f"HTTP {status}: {text}" if status else f"{type(error).__name__}: {text}"


def _failure(error: Exception, api: HfApi, repo_id: str, action: str) -> PublishError:
    """A [`PublishError`] saying what failed at which step, for `repo_id`, and what to do about it."""
    namespace = repo_id.split("/")[0]
    status = getattr(getattr(error, "response", None), "status_code", None)
    if isinstance(error, RepositoryNotFoundError) or (status in (403, 404) and not _exists(api, repo_id)):
        what = (
            f"unknown repo {repo_id}: {api.endpoint} has no such repository (or your token cannot see it) and "
            f"could not create it ({_reason(error)}). Check --repo (namespace/name), that '{namespace}' exists, and that your token may "
            f"create repos there (or create {repo_id} on the Hub first)."
        )
    elif status == 401:
        what = (
            f"the Hub did not accept the token while trying to {action} ({_reason(error)}). Log in again with "
            f"`hf auth login` or set HF_TOKEN to a token with write access to {repo_id}."
        )
    elif status == 403:
        what = f"the Hub refused to {action} ({_reason(error)}). Use a token with write access to '{namespace}'."
    elif status == 412:
        what = (
            f"{repo_id} changed while this publish ran (another publish?), so the commit was refused "
            f"({_reason(error)}). Re-run to compare against the new version."
        )
    elif status is not None:
        what = f"the Hub refused to {action} ({_reason(error)}). Re-run later; if it persists, check the Hub's status."
    else:
        what = (
            f"the connection to {api.endpoint} failed while trying to {action} ({_reason(error)}). Check the network "
            "(and HF_ENDPOINT), then re-run."
        )
    return PublishError(f"cannot publish to {repo_id}: {what} Nothing was tagged; the local folder is unchanged.")


def _exists(api: HfApi, repo_id: str) -> bool:
    try:
        return api.repo_exists(repo_id)
    except Exception:  # noqa: BLE001 - only refines the message; assume it exists when unsure
        return True


# --------------------------------------------------------------------------- command line
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpline-fusion publish",
        description="Publish a trained model folder on the Hugging Face Hub as a tagged version (one commit). "
        "Uses HF_TOKEN (or `hf auth login`) and HF_ENDPOINT.",
    )
    parser.add_argument("folder", metavar="DIR", help="output folder of `helpline-fusion train`")
    parser.add_argument("--repo", required=True, help="Hub repo id, namespace/name (created if missing)")
    parser.add_argument("--tag", help="version tag (default: next minor version after the highest vX.Y.Z tag)")
    visibility = parser.add_mutually_exclusive_group()
    visibility.add_argument(
        "--public", action="store_true",
        help="create the repo PUBLIC (default: private) and allow publishing into an existing public repo",
    )  # fmt: skip
    visibility.add_argument("--private", dest="public", action="store_false", help="create the repo private (default)")
    parser.add_argument("--message", help="commit title (default: 'Publish <tag> (composite <value>)')")
    rule = parser.add_mutually_exclusive_group()
    rule.add_argument(
        "--require-better", dest="require_better", action="store_true", default=True,
        help="refuse a model whose composite is below the published version's (default)",
    )  # fmt: skip
    rule.add_argument("--force", dest="require_better", action="store_false", help="publish without comparing")
    return parser


def main(argv: list[str] | None = None) -> int:
    """`helpline-fusion publish`: 0 published (or already published), 1 failed, 2 bad input (an incomplete folder,
    a linked or special file, a folder mixing runs, a composite that is not finite), 3 not better."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        result = publish_folder(
            args.folder, args.repo, tag=args.tag, public=args.public, message=args.message,
            require_better=args.require_better,
        )  # fmt: skip
    except ValueError as error:
        print(f"helpline-fusion publish: {error}", file=sys.stderr)
        return 2
    except NotBetterError as error:
        print(f"helpline-fusion publish: {error}", file=sys.stderr)
        return 3
    except PublishError as error:
        print(f"helpline-fusion publish: {error}", file=sys.stderr)
        return 1
    composite = "n/a" if result.composite is None else f"{result.composite:.4f}"
    previous = "" if result.previous_composite is None else f", published before: {result.previous_composite:.4f}"
    verb = "published" if result.created else "already published"
    print(f"{verb} {result.repo_id} {result.tag} (commit {result.commit[:10]}, composite {composite}{previous})")
    print(result.url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
