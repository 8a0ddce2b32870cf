"""The ``train`` stage: ``bioinstruct train --config recipe.yaml [--flag value ...]``.

Why its own argv handling: TRL's ``TrlParser`` owns the flags (every ``SFTConfig``,
``ModelConfig`` and ``ScriptArguments`` field, YAML ``--config`` plus overrides), exactly as
in ``examples/sft.py``, which calls :func:`main` too, so both run the same code.
"""

from __future__ import annotations

import logging
import os
import sys

from bioinstruct.errors import BioInstructError, ConfigError


def main(argv: list[str] | None = None, prog: str = "bioinstruct train") -> int:
    """Parse, build, train. User mistakes print one line and return 2."""
    from bioinstruct.training.config import parse_training_args
    from bioinstruct.training.recipe import train

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--config" in argv:
        index = argv.index("--config")
        if index + 1 >= len(argv):
            return _fail(ConfigError("--config needs a YAML file"))
        try:
            open(argv[index + 1]).close()
        except OSError as err:
            return _fail(ConfigError(f"cannot read the recipe {argv[index + 1]!r}: {err.strerror}"))
    try:
        try:
            script_args, training_args, model_args = parse_training_args(argv, prog=prog)
        except ValueError as err:  # TrlParser/HfArgumentParser: unknown YAML keys, bad values
            raise ConfigError(f"invalid training configuration: {err}") from err
        if not logging.getLogger().handlers:  # examples/sft.py run directly: show our progress messages
            logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("bioinstruct").setLevel(logging.INFO)
        output_dir = train(script_args, training_args, model_args)
    except BioInstructError as err:
        return _fail(err)
    if os.environ.get("RANK", "0") == "0":
        print(f"bioinstruct: training finished; adapter and model card in {output_dir}")
    return 0


def _fail(err: BioInstructError) -> int:
    print(f"bioinstruct: error: {err}", file=sys.stderr)
    return 2
