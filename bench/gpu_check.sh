#!/usr/bin/env bash
# GPU against CPU on one machine, with prebuilt trainers (nothing is built here).
#
#   bench/gpu_check.sh [ROWS] [FRAUD_GPU_PEX] [MLP_PEX]
#
# Defaults: 2,000,000 rows, bazel-bin/workflows/fraud_train_gpu.pex (//workflows:fraud_train_gpu) and
# bazel-bin/workflows/mlp_train.pex (a torch with CUDA is needed for its GPU run). Generates charges with
# `python -m workflows.data.charges`, trains the fraud spec and the MLP spec with compute_resource GPU and
# CPU, and prints training rows per second of each and the GPU/CPU ratio. Without a visible NVIDIA GPU it
# exits 1 at once. PYTHON (default .venv/bin/python) generates the data and reads the results.
set -euo pipefail

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check: no NVIDIA GPU visible (nvidia-smi is missing or fails); run it on a machine with one" >&2
  exit 1
fi

cd "$(dirname "$0")/.."
rows=${1:-2000000}
fraud=${2:-bazel-bin/workflows/fraud_train_gpu.pex}
mlp=${3:-bazel-bin/workflows/mlp_train.pex}
python=${PYTHON:-.venv/bin/python}
for pex in "$fraud" "$mlp"; do
  [[ -f $pex ]] || { echo "gpu_check: $pex not found; build it first or pass its path" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
nvidia-smi -L
"$python" -m workflows.data.charges --rows "$rows" --out "$work/charges.parquet"

# rows_per_second NAME PEX SPEC RESOURCE: train once, print the training rows per second of its train step.
rows_per_second() {
  "$python" -c 'import json, sys
spec = json.load(open(sys.argv[1])); spec["data"]["features"][0]["path"] = sys.argv[2]; spec["compute_resource"] = sys.argv[3]
json.dump(spec, open(sys.argv[4], "w"))' "$3" "$work/charges.parquet" "$4" "$work/$1.json"
  "$2" --spec "$work/$1.json" --output "$work/$1" --job-id "gpu-check-$1" >"$work/$1.log" 2>&1 ||
    { echo "gpu_check: $1 failed; its log:" >&2; tail -20 "$work/$1.log" >&2; exit 1; }
  "$python" -c 'import json, sys
result = json.load(open(sys.argv[1]))["result"]
train = next(step for step in result["steps"] if step["name"] == "train")
print(round(result["training_rows"] / train["wall_seconds"]))' "$work/$1/result.json"
}

printf '%-6s %16s %16s %10s\n' trainer "GPU rows/s" "CPU rows/s" GPU/CPU
for trainer in fraud mlp; do
  pex=$fraud; [[ $trainer == mlp ]] && pex=$mlp
  gpu=$(rows_per_second "$trainer-gpu" "$pex" "workflows/$trainer/spec.json" GPU)
  cpu=$(rows_per_second "$trainer-cpu" "$pex" "workflows/$trainer/spec.json" CPU)
  awk -v t="$trainer" -v g="$gpu" -v c="$cpu" 'BEGIN { printf "%-6s %16d %16d %9.1fx\n", t, g, c, g / c }'
done
