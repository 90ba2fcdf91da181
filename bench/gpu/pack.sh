#!/usr/bin/env bash
# Builds what bench/gpu/run.sh needs on a lent GPU machine: self-contained linux-x64 builds of the CLI and the model
# generator (the device has no .NET), packed small, plus a copy of the golden fixtures (never committed: .tools/ is ignored).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dest="$repo/.tools/gpu"
rm -rf "$dest" && mkdir -p "$dest/stage" "$dest/fixtures"
# Both programs in one folder share one copy of the runtime (the carry limit is 64 MiB).
dotnet publish "$repo/src/NativeLayers.Cli" -c Release -r linux-x64 --self-contained -o "$dest/stage/nl" -p:DebugType=none >/dev/null
dotnet publish "$repo/tools/NativeLayers.ModelGen" -c Release -r linux-x64 --self-contained -o "$dest/stage/nl" -p:DebugType=none >/dev/null
tar -C "$dest/stage" -cf - nl | xz -9e -T0 > "$dest/nl-gpu.tar.xz"
rm -rf "$dest/stage"
for f in llama llama-bf16 qwen2 mistral-swa gemma gpt2 gpt_neox bert; do
  cp -r "$repo/../shared/fixtures/golden/$f" "$dest/fixtures/$f"
done
cp -r "$repo/../shared/models/stories260k" "$dest/fixtures/stories260k"
du -sh "$dest"
