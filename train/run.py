"""Train helpline-fusion: `accelerate launch train/run.py CONFIG.yaml [--key value ...]`.

Also `helpline-fusion train CONFIG.yaml ...` and, for several CPU processes, `torchrun --nproc_per_node 2
train/run.py ...`. Any `TrainingArguments` field or project setting (see `settings.ProjectArguments`) can be
given in the YAML and overridden on the command line.

The output folder is Hub-ready: weights and remote code (`save_pretrained`), the tokenizer, `label_maps.json`,
`eval_results.json`, the data validation report and a model card `README.md`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

# Absolute imports: `accelerate launch` and `torchrun` run this file as a script (`__main__`, no package), and the
# installed `helpline_fusion` (`pip install -e .`) is what it imports.
from helpline_fusion.train.settings import parse_settings
from helpline_fusion.train.training import train

logger = logging.getLogger("helpline_fusion.train")


def configure_mlflow(project, training_args) -> None:
    """Point the Trainer's MLflow callback at an embedded SQLite store unless told otherwise."""
    if "mlflow" not in (training_args.report_to or []):
        return
    uri = project.mlflow_tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    embedded = not uri
    if embedded:
        store = Path(training_args.output_dir).resolve() / "mlflow.db"
        store.parent.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{store}"
    elif training_args.process_index == 0:
        check_tracking_server(uri)
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.environ.setdefault("MLFLOW_EXPERIMENT_NAME", project.mlflow_experiment)
    import mlflow

    # Set, not only exported: the Trainer's callback keeps a URI set earlier in this process (a previous run's
    # store) over the environment.
    mlflow.set_tracking_uri(uri)
    if embedded and training_args.process_index == 0:
        # A new experiment in an SQLite store keeps its artifacts in ./mlruns of the working directory; the embedded
        # store keeps them beside itself, in the output folder.
        name = os.environ["MLFLOW_EXPERIMENT_NAME"]
        if mlflow.get_experiment_by_name(name) is None:
            mlflow.create_experiment(name, artifact_location=(store.parent / "mlruns").as_uri())
    # Unflattened: the label lists and the sub->main table are not hyperparameters (and their keys are not
    # valid MLflow names); the schema sizes are logged by `RunInfoCallback` (`train/training.py`) instead.
    os.environ.setdefault("MLFLOW_FLATTEN_PARAMS", "FALSE")


def check_tracking_server(uri: str, timeout: float = 10.0) -> None:
    """Fail before training, naming the URI, when no MLflow server answers at an http(s) tracking URI; otherwise the
    Trainer's callback would retry with backoff for minutes at the first log call (and a late failure loses the run's
    record). Any HTTP answer counts as reachable: authentication and paths are the MLflow client's to check."""
    from urllib.error import HTTPError, URLError
    from urllib.parse import urlsplit
    from urllib.request import urlopen

    if urlsplit(uri).scheme not in {"http", "https"}:
        return
    try:
        with urlopen(f"{uri.rstrip('/')}/health", timeout=timeout):
            pass
    except HTTPError:
        return
    except (URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ValueError(
            f"mlflow_tracking_uri: no MLflow server answers at {uri} ({reason}); start it, fix the URI, or leave "
            "--mlflow_tracking_uri unset for the embedded store in the output folder"
        ) from None


def use_all_cores_when_alone() -> None:
    """`accelerate launch` without `--cpu` exports OMP_NUM_THREADS=1 (its default for unknown setups), which leaves
    a single CPU training process on one core: 3x slower here. When this is the only process on the machine and
    the 1 came from accelerate's default, use every core this process may run on."""
    import torch

    launched_by_accelerate = "ACCELERATE_MIXED_PRECISION" in os.environ
    alone = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("ACCELERATE_NUM_PROCESSES", "1")) or 1) == 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if launched_by_accelerate and alone and os.environ.get("OMP_NUM_THREADS") == "1" and cores > 1:
        torch.set_num_threads(cores)
        logger.info(
            "accelerate launch set OMP_NUM_THREADS=1; this single process uses %d threads "
            "(pass --num_cpu_threads_per_process to choose)", cores
        )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        project, training_args = parse_settings(argv)
    except ValueError as error:
        print(f"helpline-fusion train: {error}", file=sys.stderr)
        return 2
    try:
        configure_mlflow(project, training_args)
    except ValueError as error:  # an unreachable tracking server: before any data or model work
        print(f"helpline-fusion train: {error}", file=sys.stderr)
        return 2
    if training_args.world_size == 1:
        use_all_cores_when_alone()
    try:
        result: dict[str, Any] = train(project, training_args)
    except (ValueError, FileNotFoundError) as error:  # bad settings or data: say what and where, no traceback
        logger.error("%s", error)
        print(f"helpline-fusion train: {error}", file=sys.stderr)
        return 2
    if training_args.process_index == 0:
        logger.info("final metrics: %s", json.dumps(result["metrics"], sort_keys=True))
        logger.info("model saved to %s", result["output_dir"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
