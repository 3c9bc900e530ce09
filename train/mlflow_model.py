"""The trained model in MLflow, as teams run it: a `pyfunc` model in the run, registered by name when asked, and
tags that link the run, the registered version, the Hub repository and tag, and the package's and the code's
version to each other.

- `log_trained_model(folder, run_id=...)` logs the model folder's published files (the ones
  `helpline-fusion publish` uploads: `publish.hub_files`, never checkpoints, the MLflow store or the data report)
  as the artifact of an MLflow `pyfunc` model whose `predict` is the package's `model.predict`
  (`HelplineFusionPyfunc`), with a signature and an input example that is a synthetic sentence, not a call;
  with `registered_model` it becomes the next version of that registered model.
- `log_run_model(...)` is what training calls once the folder is complete (and published, when it pushes): the
  same, when the run reports to MLflow and `mlflow_log_model` is on; an MLflow failure there is one warning (the
  model is saved in the folder either way).

Loading it back (the model loads with the installed `helpline_fusion` classes, as `predict` does: no code from
the artifact runs but the pickled wrapper):

    >>> import mlflow  # doctest: +SKIP
    >>> model = mlflow.pyfunc.load_model("models:/helpline-fusion/1")  # doctest: +SKIP
    >>> model.predict(pd.DataFrame({"transcript": ["Hello, I am calling about a child ..."]}))[0]["case"]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import mlflow.pyfunc

from .report import software_versions

logger = logging.getLogger(__name__)

MODEL_NAME = "model"  # the logged model's name in the run (`runs:/<run id>/model`)
ARTIFACT = "helpline_fusion_model"  # the model folder, inside the logged model's artifacts
INPUT_COLUMN = "transcript"
# Written for this purpose; no call, record or person behind it.
INPUT_EXAMPLE = (
    "Hello, I am calling from a small town about my neighbour's child, she is nine years old and has not been "
    "to school for two weeks, and I am worried about her."
)
TAG = "helpline_fusion."  # prefix of the tags this module sets on runs and model versions


class HelplineFusionPyfunc(mlflow.pyfunc.PythonModel):
    """An MLflow `pyfunc` over a helpline-fusion model folder: `predict` is the package's `model.predict`.

    Input: a `pandas.DataFrame` with a `transcript` column (or a list of strings, or one string). Output: one
    result per transcript, as `model.predict` returns it (`entities`, `case`, `quality`, `needs_review`, ...).
    """

    def load_context(self, context) -> None:
        from .predict_cli import load_model  # the installed classes: no code from the artifact folder runs

        self.model, self.tokenizer = load_model(context.artifacts[ARTIFACT], device="cpu", setting="MLflow model")



def _predict(self, context, model_input, params=None):
    """`model.predict` over the input's transcripts (`transcripts`)."""
    texts = transcripts(model_input)
    if not texts:
        return []
    return self.model.predict(texts, self.tokenizer)


# Set after the class is made: MLflow wraps a `predict` defined in the class body, validating the input against its
# type hints (and warning when there are none); this model's input is checked against its logged signature instead.
HelplineFusionPyfunc.predict = _predict


def transcripts(model_input: Any) -> list[str]:
    """The transcripts of a pyfunc input: a DataFrame's `transcript` column (or its only column), a list of
    strings, one string, or `{"transcript": [...]}`; anything else is a `ValueError` saying what was expected."""
    if isinstance(model_input, str):
        return [model_input]
    if isinstance(model_input, dict):
        model_input = model_input.get(INPUT_COLUMN, model_input)
    columns = getattr(model_input, "columns", None)
    if columns is not None:
        if INPUT_COLUMN in columns:
            model_input = model_input[INPUT_COLUMN]
        elif len(columns) == 1:
            model_input = model_input[columns[0]]
        else:
            raise ValueError(
                f"helpline-fusion MLflow model: expected a '{INPUT_COLUMN}' column, found columns {list(columns)}"
            )
    values = list(model_input.tolist() if hasattr(model_input, "tolist") else model_input)
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise ValueError(
                f"helpline-fusion MLflow model: input row {index}: expected a transcript string, got "
                f"{type(value).__name__}"
            )
    return values


def pip_requirements(versions: dict[str, str]) -> list[str]:
    """What the logged model needs installed, pinned to the versions it was trained with (given, not inferred:
    MLflow's inference loads the model in a subprocess)."""
    torch_version = versions["torch"].split("+", 1)[0]  # 2.13.0+cpu -> 2.13.0 (the local build tag is no pin)
    return [
        f"helpline-fusion=={versions['helpline-fusion']}", f"torch=={torch_version}",
        f"transformers=={versions['transformers']}", f"mlflow=={versions['mlflow']}",
    ]  # fmt: skip


def _staged_model(folder: Path, into: Path) -> Path:
    """A copy of the folder's published files (`publish.hub_files`) in `into/model`: what the MLflow model holds."""
    from .publish import hub_files

    target = into / "model"
    target.mkdir(parents=True)
    for name in hub_files(folder):
        shutil.copy2(folder / name, target / name)
    return target


def link_tags(
    versions: dict[str, str], hub_repo: str | None = None, hub_tag: str | None = None
) -> dict[str, str]:
    """The tags both the run and the model version carry: package, code, torch and transformers versions, and the
    Hub repository and tag the folder was published as (when it was)."""
    tags = {
        f"{TAG}package_version": versions["helpline-fusion"],
        f"{TAG}torch_version": versions["torch"],
        f"{TAG}transformers_version": versions["transformers"],
    }
    if versions.get("code"):
        tags[f"{TAG}code_version"] = versions["code"]
    if hub_repo:
        tags[f"{TAG}hub_repo"] = hub_repo
    if hub_tag:
        tags[f"{TAG}hub_tag"] = hub_tag
    return tags


def log_trained_model(
    folder: str | Path,
    *,
    run_id: str,
    registered_model: str | None = None,
    hub_repo: str | None = None,
    hub_tag: str | None = None,
) -> Any:
    """Log the model of a trained `folder` into the MLflow run `run_id` as a `pyfunc` model named `model`, and with
    `registered_model` register it as that model's next version. The run and the version are tagged with each
    other (`helpline_fusion.registered_model` / `registered_version` / `model_uri` on the run,
    `helpline_fusion.run_id` on the version) and both with `link_tags`. Returns MLflow's `ModelInfo`.

    Example:
        >>> info = log_trained_model("outputs/quickstart", run_id=run.info.run_id, registered_model="helpline")  # doctest: +SKIP
        >>> info.registered_model_version  # doctest: +SKIP
        1
    """
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    folder = Path(folder)
    versions = software_versions()
    tags = link_tags(versions, hub_repo, hub_tag)
    active = mlflow.active_run()
    opened = active is None or active.info.run_id != run_id
    if opened:
        mlflow.start_run(run_id=run_id)
    try:
        with tempfile.TemporaryDirectory(prefix="helpline-fusion-mlflow-") as staging:
            model_folder = _staged_model(folder, Path(staging))
            wrapper = HelplineFusionPyfunc()
            wrapper.load_context(type("Context", (), {"artifacts": {ARTIFACT: str(model_folder)}})())
            example = pd.DataFrame({INPUT_COLUMN: [INPUT_EXAMPLE]})  # signature: one string column
            signature = infer_signature(example, wrapper.predict(None, example))
            del wrapper
            info = mlflow.pyfunc.log_model(
                name=MODEL_NAME, python_model=HelplineFusionPyfunc(), artifacts={ARTIFACT: str(model_folder)},
                signature=signature, input_example=example, pip_requirements=pip_requirements(versions),
                registered_model_name=registered_model, tags=tags,
            )  # fmt: skip
        run_tags = {**tags, f"{TAG}model_uri": info.model_uri}
        version = getattr(info, "registered_model_version", None)
        if registered_model and version is not None:
            run_tags.update({f"{TAG}registered_model": registered_model, f"{TAG}registered_version": str(version)})
            client = mlflow.MlflowClient()
            for key, value in {**tags, f"{TAG}run_id": run_id}.items():
                client.set_model_version_tag(registered_model, str(version), key, value)
        mlflow.set_tags(run_tags)
    finally:
        if opened:
            mlflow.end_run()
    logger.info(
        "MLflow model logged in run %s as %s%s", run_id, info.model_uri,
        f", registered as {registered_model} version {version}" if registered_model else "",
    )  # fmt: skip
    return info


def log_run_model(
    folder: str | Path, project: Any, training_args: Any, run_id: str | None, hub_repo: str | None = None,
    hub_tag: str | None = None,
) -> Any:
    """Training's call, once the folder is complete (and pushed, when the run pushes: `hub_repo` and `hub_tag` are
    where and as what): `log_trained_model` when the run reports to MLflow (`report_to mlflow`, on the main process)
    and `mlflow_log_model` is on, registered as `mlflow_registered_model` when that is set. An MLflow failure is one
    warning: the trained model is in the folder either way. Returns the `ModelInfo`, or None."""
    registered = getattr(project, "mlflow_registered_model", None)
    if "mlflow" not in (training_args.report_to or []) or not run_id or training_args.process_index != 0:
        if registered and training_args.process_index == 0:
            logger.warning("mlflow_registered_model %s: the run does not report to MLflow (report_to: %s); nothing "
                           "registered", registered, training_args.report_to)  # fmt: skip
        return None
    if not getattr(project, "mlflow_log_model", True):
        return None
    try:
        return log_trained_model(
            folder, run_id=run_id, registered_model=registered, hub_repo=hub_repo if hub_tag else None, hub_tag=hub_tag
        )
    except Exception as error:  # MLflow raises its own errors and the HTTP client's
        logger.warning(
            "MLflow: logging the trained model failed (%s: %s); the model is saved in %s (log it later with "
            "helpline_fusion.train.mlflow_model.log_trained_model)", type(error).__name__,
            str(error).splitlines()[0] if str(error) else "", folder,
        )  # fmt: skip
        return None


__all__ = ["HelplineFusionPyfunc", "link_tags", "log_run_model", "log_trained_model", "transcripts"]
