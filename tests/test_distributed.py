"""Two CPU processes (`torchrun --nproc_per_node 2 train/run.py ...`, gloo): the run completes and both ranks
trained the same task at every step, each on its own shard."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import torch
from transformers import AutoModel

from helpline_fusion.data.synthetic import generate

from .conftest import REPO_ROOT, build_tiny_tokenizer, tiny_bert_config


def test_two_process_cpu_run_trains_the_same_task_on_every_rank(tmp_path):
    torchrun = shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not on PATH")
    torch.manual_seed(0)
    AutoModel.from_config(tiny_bert_config()).save_pretrained(tmp_path / "encoder")
    build_tiny_tokenizer(tmp_path / "encoder")
    files = generate(tmp_path / "data", seed=5, n_ner=48, n_cases=48, n_qa=48, n_qa_heldout=16)
    output = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node", "2", str(REPO_ROOT / "train" / "run.py"),
         "--encoder", str(tmp_path / "encoder"), "--ner_file", str(files["ner_file"]),
         "--cases_file", str(files["cases_file"]), "--qa_file", str(files["qa_file"]),
         "--output_dir", str(output), "--max_steps", "12", "--per_device_train_batch_size", "4",
         "--window_length", "64", "--window_stride", "16", "--use_cpu", "true", "--ddp_backend", "gloo",
         "--report_to", "none", "--eval_strategy", "no", "--save_strategy", "no",
         "--sampling_strategy", "proportional", "--disable_tqdm", "true"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    sequences = [json.loads((output / f"task_sequence_rank{rank}.json").read_text()) for rank in (0, 1)]
    assert len(sequences[0]) == 12 and sequences[0] == sequences[1]
    assert len(set(sequences[0])) > 1  # the run really interleaved tasks
    assert (output / "model.safetensors").is_file()
