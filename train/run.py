"""Train helpline-fusion: `helpline-fusion train CONFIG.yaml [--key value ...]`.

Also `accelerate launch train/run.py CONFIG.yaml ...` and, for several CPU processes, `torchrun --nproc_per_node 2
train/run.py ...`. A user error (settings, data, model source) is one line on stderr and exit code 2. Any `TrainingArguments` field or project setting (see `settings.ProjectArguments`) can be
given in the YAML and overridden on the command line.

The output folder is Hub-ready: weights and remote code (`save_pretrained`), the tokenizer, `label_maps.json`,
`eval_results.json`, the data validation report and a model card `README.md`. The model is saved as soon as
training ends; each later phase (refit, calibrate, evaluate, curves, card) then updates the folder, and its
`run_manifest.json`, written last, lists the files and the phases done. When a later phase fails, the command says
which, in one line, exits 2, and names the command that runs the remaining phases on the saved model without
training again: the same command plus `--resume_phases true`.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shlex
import sys
from pathlib import Path
from typing import Any

# Absolute imports, made where they are needed: `accelerate launch` and `torchrun` run this file as a script
# (`__main__`, no package) and the installed `helpline_fusion` (`pip install -e .`) is what it imports; torch and
# transformers load only once a run is really starting (`--help` answers at once).

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
    # "Creating initial MLflow database tables...": store housekeeping, nothing a user acts on.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
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


def quiet_progress_bars(training_args, explicit: bool) -> None:
    """Stderr is a file or a pipe, not a terminal: progress bars would write every refresh into it (most of a
    quickstart log). Turn them off (the Trainer then prints its log lines plainly) unless `disable_tqdm` was given."""
    import datasets
    from transformers.utils import logging as hf_logging

    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    if not explicit:
        training_args.disable_tqdm = True


def peek_settings(argv: list[str], names: tuple[str, ...]) -> dict[str, str]:
    """The values of a few settings from `CONFIG.yaml [--name value ...]` without the full parser (which imports
    transformers and torch), so a missing model is reported in a moment. Unreadable input gives {} (the full
    parser then says what is wrong)."""
    import yaml

    values: dict[str, str] = {}
    if argv and argv[0].endswith((".yaml", ".yml")):
        try:
            loaded = yaml.safe_load(Path(argv[0]).read_text()) or {}
        except (OSError, yaml.YAMLError):
            return {}
        if not isinstance(loaded, dict):
            return {}
        values.update({name: str(loaded[name]) for name in names if loaded.get(name) is not None})
    for index, arg in enumerate(argv):
        name, _, value = arg.removeprefix("--").partition("=")
        if arg.startswith("--") and name in names:
            values[name] = value or (argv[index + 1] if index + 1 < len(argv) else "")
    return values


def check_sources(project) -> None:
    """The encoder (or the model given by init_from) exists or can be had: fail in one line before anything is
    written or loaded."""
    from helpline_fusion.train.settings import resolve_encoder
    from helpline_fusion.train.sources import check_hub_model, check_model_folder

    if project.init_from:
        if not Path(check_model_folder(project.init_from)).expanduser().exists():
            check_hub_model(project.init_from, setting="init_from")
    else:
        resolve_encoder(project.encoder)


def resume_phases_command(argv: list[str]) -> str:
    """The command that finishes this run's remaining phases: these settings plus `--resume_phases true` (a
    `--hub_token` left out: the token is in HF_TOKEN, never in a printed command)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.removeprefix("--").split("=", 1)[0]
        if arg.startswith("--") and name in {"hub_token", "resume_phases"}:
            skip = "=" not in arg
            continue
        kept.append(arg)
    return shlex.join(["helpline-fusion", "train", *kept, "--resume_phases", "true"])


def _usage_or_help(argv: list[str]) -> int | None:
    """The exit status after printing the usage (no arguments) or the help (`-h`, `--help`, `--help-all`), else None."""
    from helpline_fusion.train.settings import USAGE, full_help, short_help

    if not argv:
        print(USAGE, file=sys.stderr)
        print("helpline-fusion train: give a run config, e.g. configuration/quickstart.yaml "
              "(`helpline-fusion train --help` lists the settings)", file=sys.stderr)
        return 2
    if "--help-all" in argv:
        print(full_help())
        return 0
    if "-h" in argv or "--help" in argv:
        print(short_help())
        return 0
    return None


def _checked_settings(argv: list[str]) -> tuple[Any, Any]:
    """`(project, training_args)` once the model sources they name are known to exist; ValueError otherwise."""
    from helpline_fusion.train.settings import ProjectArguments, parse_settings

    # A model named in the config or on the command line is checked before the settings parser imports torch
    # (a second, not ten); the default encoder once the settings are known to be valid.
    peeked = peek_settings(argv, ("encoder", "init_from"))
    if peeked:
        check_sources(ProjectArguments(**peeked))
    project, training_args = parse_settings(argv)
    check_sources(project)
    return project, training_args


def main(argv: list[str] | None = None) -> int:
    """`helpline-fusion train`: 0 trained, 2 a user error (bad settings, data or model source), said in one line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    code = _usage_or_help(argv)
    if code is not None:
        return code
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        project, training_args = _checked_settings(argv)
    except ValueError as error:  # bad settings or an encoder that cannot be had: before anything is written
        print(f"helpline-fusion train: {error}", file=sys.stderr)
        return 2
    from helpline_fusion.train.training import PhaseFailed, train

    if not sys.stderr.isatty():
        quiet_progress_bars(training_args, explicit="disable_tqdm" in peek_settings(argv, ("disable_tqdm",)))
    try:
        configure_mlflow(project, training_args)
    except ValueError as error:  # an unreachable tracking server: before any data or model work
        print(f"helpline-fusion train: {error}", file=sys.stderr)
        return 2
    if training_args.world_size == 1:
        use_all_cores_when_alone()
    try:
        result: dict[str, Any] = train(project, training_args)
    except PhaseFailed as error:  # the model is saved (or, if saving it failed, nothing half-written is kept)
        logger.debug("phase %s failed", error.phase, exc_info=error.error)
        if training_args.process_index == 0:
            print(f"helpline-fusion train: {error.message(resume_phases_command(argv))}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as error:  # bad settings or data: say what and where, once, no traceback
        if training_args.process_index == 0:
            print(f"helpline-fusion train: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a full disk or a file-size limit while training wrote a checkpoint; or the network
        if training_args.process_index == 0:
            writing = error.errno in WRITE_ERRNOS
            where = f"cannot write to {training_args.output_dir}: " if writing else f"{type(error).__name__}: "
            print(f"helpline-fusion train: {where}{error}", file=sys.stderr)
        return 2
    if training_args.process_index == 0:
        logger.info("final metrics: %s", json.dumps(result["metrics"], sort_keys=True))
        logger.info("model saved to %s", result["output_dir"])
    return 0


# OSErrors that mean the output could not be written (as opposed to, say, a connection error, also an OSError).
WRITE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


if __name__ == "__main__":
    sys.exit(main())
