#!/usr/bin/env bash
# bench/gpu-host.sh: the engine, kernels and capture bench suites on an NVIDIA GPU host that has no npm and
# no network, with PyTorch on CUDA as the peer, timed in the same run.
#
# On the build machine:  npx tsc -p tsconfig.build.json && bash scripts/gpu-payload.sh
# Copy the project tree with dist/ and .gpu-payload/ to the GPU host; there, from the project root:
#   . .gpu-payload/setup.sh && bash bench/gpu-host.sh
#
# Writes JSON (engine-*.json, kernels-*.json, gpu-host-info.json) and logs under ${OUT:-bench/results/gpu-host}
# (where `npm run bench:report` reads them for BENCHMARKS.md's gpu-host sections)
# and prints a short table last. Settings, all optional:
#   BENCH_SECONDS=1                 timed seconds per contender and case
#   BENCH_SUITES="engine kernels capture"
#   BENCH_MODELS=mlp,wide,resnet
#   BENCH_BACKENDS=cpu,wasm,webgpu,webgpu:captured,webgpu:kernels,torch
#                                   webgpu is plain onnxruntime-web; webgpu:captured its captured
#                                   sessions per batch bucket; webgpu:kernels lastmile's own kernels
#   PYTHON=python3                  the interpreter with torch (CUDA) and onnx
#   REQUIRE_HARDWARE_GPU=1          stop unless Dawn finds a hardware adapter (0 for a dry run
#                                   on a machine with a software GPU or none)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${OUT:-bench/results/gpu-host}
seconds=${BENCH_SECONDS:-1}
suites=${BENCH_SUITES:-engine kernels capture}
models=${BENCH_MODELS:-mlp,wide,resnet}
backends=${BENCH_BACKENDS:-cpu,wasm,webgpu,webgpu:captured,webgpu:kernels,torch}
python=${PYTHON:-python3}
require_hw=${REQUIRE_HARDWARE_GPU:-1}

command -v node >/dev/null || { echo "gpu-host: no node on PATH; source .gpu-payload/setup.sh first" >&2; exit 1; }
[ -f dist/bench/run.js ] && [ -f dist/src/engine/engine.js ] || {
  echo "gpu-host: dist/ is missing; build on the build machine (npx tsc -p tsconfig.build.json) and copy it" >&2
  exit 1
}
mkdir -p "$out"

# What the numbers are measured on: the card, the driver, Dawn's adapter, torch.
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/nvidia-smi.log"
fi
# The engine's own view (what `lastmile info` prints), with the bench's config: Dawn's adapter.
node --liftoff-only --input-type=module -e "
  import { loadConfig } from './dist/src/config.js'
  import { Engine } from './dist/src/engine/engine.js'
  const engine = new Engine(loadConfig({}, { logLevel: 'warn' }))
  const status = await engine.status()
  await engine.close()
  console.log(JSON.stringify({ node: process.version, ...status }, null, 2))
" > "$out/gpu-host-info.json"
adapter=$(node -e '
  const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
  const a = s.gpu && s.gpu.adapter
  console.log(a ? `${a.description} (${a.software ? "software" : "hardware"})` : `none: ${s.gpu && s.gpu.reason}`)
' "$out/gpu-host-info.json")
echo "WebGPU adapter: $adapter"
if [ "$require_hw" = 1 ] && [[ "$adapter" != *"(hardware)" ]]; then
  echo "gpu-host: no hardware WebGPU adapter (is VK_DRIVER_FILES set by .gpu-payload/setup.sh?); REQUIRE_HARDWARE_GPU=0 runs anyway" >&2
  exit 1
fi
if [[ ",$backends," == *",torch,"* ]]; then
  "$python" -c 'import torch, onnx; print("torch", torch.__version__, "cuda:", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' \
    || echo "gpu-host: $python cannot import torch and onnx; the engine suite will skip the PyTorch peer" >&2
fi

for suite in $suites; do
  node --liftoff-only dist/bench/run.js "$suite" --seconds "$seconds" --models "$models" --backends "$backends" \
    --python "$python" --out "$out" 2>&1 | tee "$out/$suite-gpu-host.log"
done

# The short table: lastmile's GPU paths against PyTorch on the same card and onnxruntime on the host CPU;
# the ratios are the fastest GPU path's at each model and batch, named in the last column.
node - "$out" <<'EOF'
const fs = require('fs')
const path = require('path')
const dir = process.argv[2]
const read = (f) => (fs.existsSync(path.join(dir, f)) ? JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) : undefined)
const rate = (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0))
const engine = read('engine-latest.json')
const kernels = read('kernels-latest.json')
const lines = []
const table = (rows) => {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)))
  const left = (i) => i < 2 || i === rows[0].length - 1
  return rows.map((r) => r.map((c, i) => (left(i) ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ').trimEnd())
}
if (engine) {
  const torch = engine.cells.find((c) => c.backend.startsWith('PyTorch'))?.backend ?? 'PyTorch'
  const isGpu = (b) => b === 'webgpu' || b.startsWith('webgpu:')
  const paths = [...new Set(engine.cells.map((c) => c.backend).filter(isGpu))]
  const rows = [['model', 'batch', 'ORT cpu (raw)', ...paths, torch, 'best÷torch', 'best÷ORT', 'best path']]
  for (const key of [...new Set(engine.cells.map((c) => `${c.model} ${c.batch}`))]) {
    const here = engine.cells.filter((c) => `${c.model} ${c.batch}` === key)
    const at = (b) => here.find((c) => c.backend === b)
    const [raw, pt] = [at('onnxruntime-node (raw)'), here.find((c) => c.backend.startsWith('PyTorch'))]
    const best = here.filter((c) => isGpu(c.backend)).sort((a, b) => b.rowsPerSecond - a.rowsPerSecond)[0]
    const ratio = (a, b) => (a && b ? `${(a.rowsPerSecond / b.rowsPerSecond).toFixed(2)}×` : '–')
    const r = (c) => (c ? rate(c.rowsPerSecond) : '–')
    rows.push([...key.split(' '), r(raw), ...paths.map((p) => r(at(p))), r(pt), ratio(best, pt), ratio(best, raw), best?.backend ?? '–'])
  }
  lines.push(`\nsummary: rows/s (images/s for resnet); adapter ${engine.adapter}; ${engine.machine.cores} CPU cores`)
  lines.push(...table(rows))
  for (const s of engine.skipped.filter((s) => isGpu(s.backend))) {
    lines.push(`skipped: ${s.model} ${s.backend}${s.batch ? ` batch ${s.batch}` : ''}: ${s.reason}`)
  }
}
if (kernels) {
  const copy = kernels.kernels[0]
  const worst = Math.min(...kernels.kernels.map((k) => k.gbps / copy.gbps))
  lines.push(`\nkernels on ${kernels.adapter}: vec4 copy ${copy.gbps.toFixed(1)} GB/s; slowest kernel ${worst.toFixed(2)}× of it`)
}
console.log(lines.join('\n'))
console.log(`\nresults: ${dir}`)
EOF
