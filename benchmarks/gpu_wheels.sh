#!/usr/bin/env bash
# Wheels for the GPU machine (Python 3.12, x86-64, no network): what bioinstruct's training and
# evaluation need beyond what that machine has (torch, transformers, peft, accelerate, numpy, pyarrow,
# ...; see the device tool's KINDS.md). Run here, where PyPI is reachable; the device call then carries
# .whl/ (`carry: [".whl"]`) and benchmarks/gpu_check.sh installs it. Pure-Python sdists are built here.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -rf .whl && mkdir -p .whl
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
binary=(trl datasets dill multiprocess openai jiter distro sniffio pydantic pydantic-core annotated-types
        typing-inspection aiolimiter rapidfuzz orjson phonenumberslite nicknames nltk gguf hjson)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platforms[@]}" -d .whl "${binary[@]}"
# sdists only on PyPI (pure Python): built into wheels here; DeepSpeed builds its CUDA ops at first use.
python3 -m pip wheel -q --no-deps --no-build-isolation -w .whl rouge-score seqeval deepspeed
du -sh .whl && ls .whl
