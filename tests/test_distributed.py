"""Two CPU processes (`torchrun --nproc_per_node 2`, gloo, the training job of `train/run.py`): the run completes
and both ranks trained the same task at every step, each on its own shard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoModel

from helpline_fusion.data.synthetic import generate

from .conftest import REPO_ROOT, build_tiny_tokenizer, tiny_bert_config


@pytest.mark.slow  # two processes training for 12 steps: over a minute on one core
def test_two_process_cpu_run_trains_the_same_task_on_every_rank(tmp_path):
    torch.manual_seed(0)
    AutoModel.from_config(tiny_bert_config()).save_pretrained(tmp_path / "encoder")
    build_tiny_tokenizer(tmp_path / "encoder")
    files = generate(tmp_path / "data", seed=5, n_ner=48, n_cases=48, n_qa=48, n_qa_heldout=16)
    output = tmp_path / "run"
    # `train/run.py`'s job with a trainer that records each rank's task order (the shipped one keeps none).
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    launcher = tmp_path / "launch.py"
    launcher.write_text(textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from tests.task_order import TaskOrderTrainer
        from helpline_fusion.train import training
        training.MultiTaskTrainer = TaskOrderTrainer
        from helpline_fusion.train.settings import parse_settings
        project, args = parse_settings(sys.argv[1:])
        trainer = training.train(project, args)["trainer"]
        path = f"{{args.output_dir}}/task_sequence_rank{{args.process_index}}.json"
        open(path, "w").write(json.dumps(trainer.task_history))
    """))
    result = subprocess.run(
        # torchrun of this interpreter (a `torchrun` on PATH may belong to another environment's install)
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(launcher),
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
