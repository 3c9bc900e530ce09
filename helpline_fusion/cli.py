"""The `helpline-fusion` command: one subcommand per job, each implemented beside the code it drives."""

from __future__ import annotations

import importlib
import logging
import sys

# subcommand -> (module, function, one-line help). Modules are imported only when their command runs.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "validate": ("helpline_fusion.data.validate_cli", "main", "check data files and print the repair report"),
    "generate": ("helpline_fusion.data.synthetic", "main", "write the bundled synthetic data set"),
    "train": ("helpline_fusion.train.run", "main", "train from a YAML config (same as train/run.py)"),
    "evaluate": ("helpline_fusion.train.evaluate_cli", "main", "evaluate a saved model on data files"),
    "predict": ("helpline_fusion.train.predict_cli", "main", "analyse transcripts with a saved model"),
    "publish": ("helpline_fusion.train.publish", "main", "publish a trained model folder on the Hub"),
    "export": ("helpline_fusion.train.export", "main", "export a model folder to ONNX / OpenVINO (extra: onnx)"),
    "serve": ("helpline_fusion.train.serve", "main", "serve a saved model over HTTP, with a page (extra: serve)"),
}


def _usage() -> str:
    lines = ["usage: helpline-fusion COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    lines += ["", "Run `helpline-fusion COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"helpline-fusion: unknown command {name!r}; valid: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    module_name, function, _ = COMMANDS[name]
    command = getattr(importlib.import_module(module_name), function)
    return int(command(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
