"""A trained model's tokenizer is saved as its own files describe it, and loads anywhere as a plain tokenizer.

The encoder's tokenizer here carries what a sentence-transformers export does (truncation at 128 and fixed padding in
its `tokenizer.json`), and is loaded the way training loads it; transformers 5 then records `is_local`,
`local_files_only`, `max_length` and `stride` in `init_kwargs`, which `save_pretrained` writes into
`tokenizer_config.json` unless training drops them (`train/sources.py: load_tokenizer`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpline_fusion.train.settings import parse_settings
from helpline_fusion.train.sources import TOKENIZER_LOADING_STATE
from helpline_fusion.train.training import train

from .conftest import build_tiny_tokenizer, tiny_bert_config

PROMPT = "Do you wish to run the custom code"
TEXT = "hello, my child is calling from kisumu"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    from transformers import BertModel, BertTokenizerFast

    root = tmp_path_factory.mktemp("tokenizer_files")
    encoder = root / "encoder"
    BertModel(tiny_bert_config()).save_pretrained(encoder)
    build_tiny_tokenizer(encoder)
    exported = BertTokenizerFast.from_pretrained(encoder)  # as sentence-transformers exports MiniLM's tokenizer
    exported.backend_tokenizer.enable_truncation(max_length=128, stride=0)
    exported.backend_tokenizer.enable_padding(length=128, pad_id=0, pad_token="[PAD]")
    exported.backend_tokenizer.save(str(encoder / "tokenizer.json"))
    assert json.loads((encoder / "tokenizer.json").read_text())["truncation"]["max_length"] == 128
    output = root / "model"
    argv = [
        "--encoder", str(encoder), "--synthetic", "true", "--synthetic_size", "24", "--output_dir", str(output),
        "--max_steps", "1", "--eval_strategy", "no", "--save_strategy", "no", "--window_length", "64",
        "--window_stride", "16", "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "32",
        "--report_to", "none", "--use_cpu", "true", "--dataloader_num_workers", "0", "--disable_tqdm", "true",
        "--calibrate", "false",
    ]  # fmt: skip
    train(*parse_settings(argv))
    return output


def test_the_saved_tokenizer_config_holds_no_loading_state(trained):
    saved = json.loads((trained / "tokenizer_config.json").read_text())
    assert not set(TOKENIZER_LOADING_STATE) & set(saved), sorted(set(TOKENIZER_LOADING_STATE) & set(saved))
    assert {"is_local", "local_files_only", "max_length", "stride"}.isdisjoint(saved)
    # The tokenizer's own description is kept: a transformers class (no code to trust), its casing, its tokens.
    assert saved["tokenizer_class"] == "BertTokenizer" and "auto_map" not in saved
    assert saved["do_lower_case"] is True and saved["cls_token"] == "[CLS]" and saved["model_max_length"] == 512
    config = json.loads((trained / "config.json").read_text())
    assert "AutoTokenizer" not in config.get("auto_map", {}) and "tokenizer_class" not in config


def _load_in_clean_process(folder: Path, call: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """`AutoTokenizer.from_pretrained` in a fresh interpreter outside the checkout, stdin closed (a prompt cannot be
    answered: `input()` sees end of file), offline, with its own HF_HOME, printing the tokenizer's class and ids."""
    code = (
        "from transformers import AutoTokenizer\n"
        f"tokenizer = {call}\n"
        f"print('CLASS', type(tokenizer).__name__, tokenizer({TEXT!r})['input_ids'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "PYTHONPATH", "TRANSFORMERS_"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"), TOKENIZERS_PARALLELISM="false")
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_the_tokenizer_loads_in_a_clean_process_with_transformers_classes_and_no_prompt(trained, tmp_path):
    from transformers import AutoTokenizer

    expected = AutoTokenizer.from_pretrained(trained, trust_remote_code=False)(TEXT)["input_ids"]
    proc = _load_in_clean_process(trained, f"AutoTokenizer.from_pretrained({str(trained)!r}, trust_remote_code=False)",
                                  tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert PROMPT not in proc.stdout + proc.stderr
    assert f"CLASS BertTokenizer {expected}" in proc.stdout
    assert not list((tmp_path / "hf_home").rglob("*.py"))  # no remote-code module was copied anywhere


@pytest.mark.xfail(
    strict=True,
    reason="transformers 5 AutoTokenizer.from_pretrained always resolves config.json through AutoConfig first "
    "(models/auto/tokenization_auto.py, before tokenizer_config.json is read); the model's config.json must keep "
    "its auto_map AutoConfig entry for AutoModel(trust_remote_code=True), so with trust_remote_code unset AutoConfig "
    "asks 'Do you wish to run the custom code?' although the tokenizer itself is a plain BertTokenizer. Strict: "
    "this fails (XPASS) once transformers reads tokenizer_config.json first again, as 4.x did.",
)
def test_the_tokenizer_loads_without_any_remote_code_argument_and_no_prompt(trained, tmp_path):
    proc = _load_in_clean_process(trained, f"AutoTokenizer.from_pretrained({str(trained)!r})", tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "CLASS BertTokenizer" in proc.stdout
    assert PROMPT not in proc.stdout + proc.stderr


def test_the_published_tokenizer_loads_from_a_hub_id_with_transformers_classes_and_no_prompt(trained, tmp_path):
    """Against the local Hub-protocol server: the folder as uploaded, then a clean process with stdin closed."""
    from transformers import AutoTokenizer

    from tests.hub_server import hub_client_env, run_hub_client, running_hub_server

    expected = AutoTokenizer.from_pretrained(trained, trust_remote_code=False)(TEXT)["input_ids"]
    names = ["config.json", "tokenizer.json", "tokenizer_config.json"]
    upload = (
        "from huggingface_hub import HfApi\napi = HfApi()\napi.create_repo('org/helpline-fusion')\n"
        f"api.upload_folder(repo_id='org/helpline-fusion', folder_path={str(trained)!r}, allow_patterns={names!r})\n"
    )
    load = (
        "from transformers import AutoTokenizer\n"
        "tokenizer = AutoTokenizer.from_pretrained('org/helpline-fusion', trust_remote_code=False)\n"
        f"print('CLASS', type(tokenizer).__name__, tokenizer({TEXT!r})['input_ids'])\n"
    )
    with running_hub_server() as hub:
        run_hub_client(upload, hub.endpoint, tmp_path / "publisher")
        assert json.loads(hub.repo_files("org/helpline-fusion")["tokenizer_config.json"]).keys().isdisjoint(
            TOKENIZER_LOADING_STATE
        )
        proc = subprocess.run(
            [sys.executable, "-c", load], env=hub_client_env(hub.endpoint, tmp_path / "consumer"), cwd=tmp_path,
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert PROMPT not in proc.stdout + proc.stderr
    assert f"CLASS BertTokenizer {expected}" in proc.stdout
    assert not list((tmp_path / "consumer").rglob("*.py"))  # no remote-code module was fetched
