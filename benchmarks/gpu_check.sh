#!/usr/bin/env bash
# GPU check for phasescope on a machine WITHOUT internet: phasescope's `rl` and `chord_phi` arms and
# plain TRL GRPOTrainer, on the same randomly initialised Qwen2 model of Qwen2.5-0.5B's size (494M
# parameters, built from config) and the same batch, N steps each. Prints step time, generate time,
# generated tokens/s and peak GPU memory per trainer, and writes gpu_check.json. About 3-5 minutes
# on one H100 with the defaults; everything in one run, well under 8 minutes.
#
#   benchmarks/gpu_check.sh [--wheels DIR] [--steps N] [--max-new T] [--prompts P] [--generations K]
#   benchmarks/gpu_check.sh --dry-run          # tiny model on the CPU: checks the script, no GPU needed
#
# --wheels DIR: install phasescope and its dependencies only from wheel files brought along in DIR
#   (pip install --no-index --find-links DIR). DIR must hold wheels for a CUDA torch, transformers,
#   trl, accelerate, datasets, math-verify[antlr4_13_2] and their dependencies, plus setuptools;
#   make it on a connected machine with, e.g.:
#     pip download -d wheels torch --index-url https://download.pytorch.org/whl/cu124
#     pip download -d wheels '.[math]' setuptools
# Without --wheels, the current Python environment is used as it is.
# Results go to $OUT (when set) or a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEELS=""
ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --wheels) WHEELS="$2"; shift 2 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done

if [[ -n "$WHEELS" ]]; then
  echo "installing from $WHEELS (no index) ..."
  python -m pip install --quiet --no-index --find-links "$WHEELS" --no-build-isolation -e ".[math]"
fi

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_MODE=disabled
export TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
python - <<'PY'
import importlib.metadata as md
print("versions:", {p: md.version(p) for p in ("torch", "transformers", "trl", "accelerate", "math-verify")})
import torch
print("cuda:", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
PY
exec timeout 470 python benchmarks/gpu_check.py "${ARGS[@]}"
