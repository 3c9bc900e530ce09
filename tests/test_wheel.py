"""A non-editable install renders model cards: the wheel carries `model_card.md` as package data."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import zipfile

import pytest

from .conftest import REPO_ROOT

RENDER = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])  # the wheel's install folder first: it must be what is imported
    import helpline_fusion
    from transformers import BertConfig
    from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig
    from helpline_fusion.train import model_card
    config = AttentionFusionConfig(encoder_config=BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=1,
                                                             num_attention_heads=4, intermediate_size=37))
    card = model_card.render_model_card(config, {"eval_ner_f1": 0.5, "eval_composite": 0.4}, repo_id="org/wheel")
    print(json.dumps({"package": helpline_fusion.__file__, "model_card": model_card.__file__, "card": str(card)}))
    """
)


@pytest.mark.slow  # builds a wheel and imports the installed package in a fresh interpreter: ~30 s on one core
def test_a_wheel_install_renders_a_model_card(tmp_path):
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:  # the build requirement in pyproject.toml (PEP 639 license)
        pytest.skip(f"setuptools {setuptools.__version__} cannot build this project offline; pip install 'setuptools>=77'")
    wheels, target, source = tmp_path / "wheels", tmp_path / "site", tmp_path / "source"
    # A clean copy of the checkout: a build/ or *.egg-info left by an earlier build must not supply the files.
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(
        "build", "dist", "*.egg-info", "__pycache__", ".git", "outputs", "mlruns", "results"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
         str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("helpline_fusion-*.whl")
    assert "helpline_fusion/train/model_card.md" in zipfile.ZipFile(wheel).namelist()
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    # From an empty folder, so neither the checkout nor its editable install can stand in for the wheel.
    work = tmp_path / "elsewhere"
    work.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", RENDER, str(target)], cwd=work, capture_output=True, text=True, timeout=600,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "TOKENIZERS_PARALLELISM": "false"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["package"].startswith(str(target)) and out["model_card"].startswith(str(target))
    card = out["card"]
    assert "# org/wheel" in card and "## How to use" in card and "## Evaluation" in card
    assert 'from_pretrained("org/wheel"' in card
