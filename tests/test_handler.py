"""`handler.py` as a Hugging Face Inference Endpoint runs it: imported from the model's folder, `EndpointHandler(path=
folder)` built once, called with the request's JSON. With the package installed and, in a fresh process where it is
not, with the folder's own code files."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

from helpline_fusion.train.publish import endpoint_handler_source

TEXTS = ["my name is amina from kisumu town and the child is 12 years old", "routine call about the child"]


@pytest.fixture(scope="module")
def endpoint_folder(model_dir, tmp_path_factory):
    """The saved model as the endpoint downloads a published version: its files plus `handler.py`."""
    import shutil

    folder = tmp_path_factory.mktemp("endpoint") / "repository"
    shutil.copytree(model_dir, folder)
    (folder / "handler.py").write_bytes(endpoint_handler_source())
    return folder


def import_handler(folder):
    spec = importlib.util.spec_from_file_location("handler", folder / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_handler_answers_as_predict_does(endpoint_folder):
    from transformers import AutoTokenizer

    from helpline_fusion.modeling_attention_fusion import AttentionFusionModel

    handler = import_handler(endpoint_folder).EndpointHandler(path=str(endpoint_folder))
    assert handler.source == "installed helpline-fusion"
    model = AttentionFusionModel.from_pretrained(endpoint_folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(endpoint_folder)
    one = handler({"inputs": TEXTS[0]})
    assert one == [model.predict(TEXTS[0], tokenizer)]
    many = handler({"inputs": TEXTS, "parameters": {"evidence": True, "evidence_top_k": 1}})
    assert many == model.predict(TEXTS, tokenizer, evidence=True, evidence_top_k=1)
    assert json.loads(json.dumps(many)) == many  # the runtime answers it as JSON
    assert all(len(d["evidence"]) == 1 for d in many[0]["case"].values())


@pytest.mark.parametrize(
    "data, message",
    [
        ({"text": "a call"}, "expected a JSON object with 'inputs'"),
        ({"inputs": []}, "a non-empty list"),
        ({"inputs": ["a call", 3]}, "inputs[1]: expected a non-empty transcript string, found int"),
        ({"inputs": "a call", "parameters": {"evidnce": True}}, "unknown ['evidnce']"),
    ],
)
def test_bad_requests_are_named(endpoint_folder, data, message):
    handler = import_handler(endpoint_folder).EndpointHandler(path=str(endpoint_folder))
    with pytest.raises(ValueError) as error:
        handler(data)
    assert message in str(error.value)


def test_the_handler_runs_without_the_package(endpoint_folder):
    """An endpoint without helpline-fusion installed: the handler loads the folder's own code files."""
    script = textwrap.dedent(f"""
        import json, sys
        sys.modules["helpline_fusion"] = None  # as on an endpoint without the package
        sys.path.insert(0, {str(endpoint_folder)!r})
        from handler import EndpointHandler
        handler = EndpointHandler(path={str(endpoint_folder)!r})
        print(json.dumps({{"source": handler.source, "results": handler({{"inputs": {TEXTS!r}}})}}))
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300,
                         cwd=endpoint_folder)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["source"] == "repository code"
    from transformers import AutoTokenizer

    from helpline_fusion.modeling_attention_fusion import AttentionFusionModel

    model = AttentionFusionModel.from_pretrained(endpoint_folder).eval()
    expected = json.loads(json.dumps(model.predict(TEXTS, AutoTokenizer.from_pretrained(endpoint_folder))))
    assert out["results"] == expected
