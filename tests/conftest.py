"""Shared test fixtures: tiny random encoders and a tokenizer built from a small vocab, all offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set once, here: pytest imports this file before any test module (and so before transformers / huggingface_hub).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

TINY_VOCAB = (
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    + list("abcdefghijklmnopqrstuvwxyz0123456789.,?!'+-:")
    + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    + "the a my is from in at of to and was he she his her call child help you i calling old years".split()
)


def tiny_bert_config(**overrides):
    from transformers import BertConfig

    kwargs = dict(
        vocab_size=len(TINY_VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37, max_position_embeddings=512,
    )
    kwargs.update(overrides)
    return BertConfig(**kwargs)


def tiny_distilbert_config(**overrides):
    from transformers import DistilBertConfig

    kwargs = dict(vocab_size=len(TINY_VOCAB), dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=512)
    kwargs.update(overrides)
    return DistilBertConfig(**kwargs)


def build_tiny_tokenizer(directory: Path):
    """A real fast WordPiece tokenizer over `TINY_VOCAB`, saved in `directory`."""
    from transformers import BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(TINY_VOCAB) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(vocab), do_lower_case=True, model_max_length=512)
    tokenizer.save_pretrained(directory)
    return tokenizer


@pytest.fixture
def one_thread():
    """One intra-op thread for the test: tiny models gain nothing from threads, and on a busy 2-core machine their
    synchronisation makes each step several times slower. A module takes it for every test with
    `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_tokenizer(tmp_path):
    return build_tiny_tokenizer(tmp_path / "tokenizer")


@pytest.fixture(params=["bert", "distilbert"])
def tiny_encoder_config(request):
    return tiny_bert_config() if request.param == "bert" else tiny_distilbert_config()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the public helpline data is not at {SHARED_DATA} (a fresh clone has no ../shared)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny random model saved with its tokenizer (window 32, stride 8), for the `predict` command's tests."""
    from transformers import BertTokenizerFast

    from .test_inference import VOCAB, make_model

    folder = tmp_path_factory.mktemp("model")
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    tokenizer = BertTokenizerFast.from_pretrained(folder, do_lower_case=True, model_max_length=512)
    make_model(window_length=32, window_stride=8).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
