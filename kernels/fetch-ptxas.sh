#!/usr/bin/env bash
# Fetches NVIDIA's standalone ptxas (CUDA 11.8, from Debian bookworm non-free's nvidia-cuda-toolkit .deb) into a
# cache folder so the PTX check in tests/NativeLayers.Gpu.Tests can assemble every kernel for sm_90 without a GPU.
# The system apt configuration is never touched: a private sources list, lists and archive folders are used, and
# the .deb is only downloaded and unpacked (not installed). Idempotent: does nothing when ptxas is already there.
#
#   kernels/fetch-ptxas.sh            -> <repo>/.tools/ptxas/ptxas   (override with NL_PTXAS_DIR=/some/dir)
#
# The tests look for ptxas in $NL_PTXAS (a file), then <repo>/.tools/ptxas/ptxas, then
# $HOME/.cache/nativelayers/ptxas/ptxas.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${NL_PTXAS_DIR:-$repo/.tools/ptxas}"

if [[ -x "$dest/ptxas" ]] && "$dest/ptxas" --version >/dev/null 2>&1; then
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/archives/partial" "$dest"

# The machine's own Debian mirror, suite bookworm, with non-free enabled.
mirror=""
if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
  mirror="$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"
echo "deb $mirror bookworm main contrib non-free" > "$work/sources.list"

apt_opts=(-q -o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=/dev/null"
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives")

apt-get "${apt_opts[@]}" update >"$work/update.log" 2>&1 || { cat "$work/update.log" >&2; echo "fetch-ptxas: apt-get update failed" >&2; exit 1; }
(cd "$work" && apt-get "${apt_opts[@]}" download nvidia-cuda-toolkit >"$work/download.log" 2>&1) \
  || { cat "$work/download.log" >&2; echo "fetch-ptxas: downloading nvidia-cuda-toolkit failed" >&2; exit 1; }

deb="$(ls "$work"/nvidia-cuda-toolkit_*.deb | head -n 1)"
mkdir -p "$work/x"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/x" ./usr/bin/ptxas
install -m 0755 "$work/x/usr/bin/ptxas" "$dest/ptxas.tmp"
mv -f "$dest/ptxas.tmp" "$dest/ptxas"
"$dest/ptxas" --version >/dev/null
