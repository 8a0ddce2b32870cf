"""Supervised fine-tuning (LoRA / QLoRA) on biomedical instructions with TRL.

    accelerate launch --config_file accelerate_configs/single_gpu.yaml \
        examples/sft.py --config examples/recipes/llama2-7b-bioinstruct.yaml

Any field of the recipe can be overridden on the command line (``--learning_rate 1e-4``).
The same code runs as ``bioinstruct train --config ...``; see bioinstruct/training/recipe.py.
"""

import sys

from bioinstruct.commands.train import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], prog="sft.py"))
