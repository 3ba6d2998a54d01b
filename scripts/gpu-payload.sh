#!/bin/bash
# Packs what a run on an NVIDIA GPU host with no Node.js, no npm and no network needs into
# .gpu-payload/ at the project root (about 50 MiB; git ignores it): this machine's node binary, a
# production-only and slimmed node_modules, and the Vulkan loader and glvnd packages the NVIDIA
# driver there needs. Build first (npm run build), copy the tree with dist/ and .gpu-payload/ to
# the host, and there, from the project root: . .gpu-payload/setup.sh && bash bench/gpu-host.sh
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
out=.gpu-payload
rm -rf "$out"
mkdir -p "$out/debs"
cp scripts/gpu-payload-setup.sh "$out/setup.sh"

# node binary, compressed (about 24 MB)
xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > "$out/node.xz"

# production dependencies only, installed from the lock into a scratch folder
scratch=$(mktemp -d)
cp package.json "$scratch/"
[ -f package-lock.json ] && cp package-lock.json "$scratch/"
[ -f .npmrc ] && cp .npmrc "$scratch/"
(cd "$scratch" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
tar -C "$scratch" \
  --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' \
  --exclude='node_modules/webgpu/dist/linux-arm64' \
  --exclude='*.map' --exclude='node_modules/onnxruntime-web/dist/*jspi*' --exclude='node_modules/onnxruntime-web/dist/*jsep*' \
  --exclude='node_modules/onnxruntime-web/dist/ort.webgl*' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v*/darwin' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v*/win32' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v*/linux/arm64' \
  -cf - node_modules | xz -T2 -6 > "$out/node_modules.tar.xz"
rm -rf "$scratch"

# Vulkan loader and glvnd (the NVIDIA ICD is libGLX_nvidia.so.0, which needs glvnd)
lists=$(mktemp -d); mkdir -p "$lists/partial"
o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
apt-get $o update >/dev/null 2>&1 || true
(cd "$out/debs" && apt-get $o download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2 >/dev/null 2>&1)
rm -rf "$lists"

echo "packed $out: $(du -sm "$out" | cut -f1) MiB"
