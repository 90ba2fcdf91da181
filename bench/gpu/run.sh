#!/usr/bin/env bash
# One script for a lent NVIDIA machine (no .NET needed there): unpack the self-contained build carried with the call,
# check the GPU path against the CPU backend, then time NativeLayers on CUDA against PyTorch + transformers on the same
# GPU. Prints one table (Markdown) and writes everything under $OUT (or ./gpu-results).
#
# Here (the build machine):   bash bench/gpu/pack.sh        -> .tools/gpu/nl-gpu.tar.xz (+ fixtures copy)
# On the device (run tool):   bash bench/gpu/run.sh          with carry: [".tools/gpu"]
set -uo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="${OUT:-$repo/gpu-results}"
mkdir -p "$out"
work="$(mktemp -d)"
tar -xJf "$repo/.tools/gpu/nl-gpu.tar.xz" -C "$work"
nl="$work/nl/nl"
gen="$work/nl/nl-modelgen"
models="$work/models"
log="$out/run.log"
exec > >(tee "$log") 2>&1

echo "## device"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$out/device.csv"

echo "## 1. correctness: CUDA vs the CPU backend on the golden fixtures and stories260k"
status=0
for f in "$repo"/.tools/gpu/fixtures/*/; do
  "$nl" verify --model "$f" --device cuda --tolerance 2e-2 || status=1
done

echo "## 2. random-weight models of real shapes"
"$gen" --out "$models/gpt2-small" --preset gpt2-small --dtype f32 >/dev/null
"$gen" --out "$models/llama-1b-bf16" --preset llama-1b --dtype bf16 >/dev/null
"$nl" verify --model "$models/gpt2-small" --device cuda --tolerance 2e-2 || status=1

echo "## 3. NativeLayers on CUDA (median of repetitions; --overheads adds steering at every layer and full capture to host)"
for m in gpt2-small llama-1b-bf16; do
  for b in 1 8; do
    "$nl" bench --model "$models/$m" --device cuda --prompt-tokens 512 --gen-tokens 64 --batch "$b" --repetitions 5 --overheads | tee -a "$out/nativelayers.md"
  done
done

echo "## 4. PyTorch + transformers on the same GPU (eager), the device's copy bandwidth, and the peer's hook costs"
python3 "$repo/bench/gpu/peer.py" --models "$models/gpt2-small" "$models/llama-1b-bf16" --prompt-tokens 512 --gen-tokens 64 --batches 1 8 \
  | tee "$out/peer.md"

echo "## done (correctness status $status); results in $out"
exit $status
