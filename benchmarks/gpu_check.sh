#!/usr/bin/env bash
# The GPU check (issue 16), one call: training throughput (recipe vs TRL defaults, 7B-shaped model),
# a single-GPU DeepSpeed ZeRO-3 + LoRA run ending in a non-empty adapter, evaluator throughput, and one
# table (benchmarks/gpu_check.py). Under 8 minutes on one GPU; nothing is downloaded.
#
#   bash benchmarks/gpu_check.sh              # on the GPU machine (results in $OUT, else a temp folder)
#   bash benchmarks/gpu_check.sh --reduced    # CPU, tiny sizes: what CI runs so the script cannot rot
#
# The GPU machine has torch, transformers, peft and accelerate but not trl, datasets or deepspeed:
# `bash benchmarks/gpu_wheels.sh` (here, with network) puts the missing wheels into .whl/, which the
# device call carries; this script installs them first.
set -uo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import trl, datasets, openai" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 TOKENIZERS_PARALLELISM=false
out="${OUT:-$(mktemp -d)}/gpu_check"
exec python3 benchmarks/gpu_check.py --out "$out" "$@"
