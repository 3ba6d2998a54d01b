#!/usr/bin/env node
// The `lastmile` command. V8 must compile onnxruntime-web's 26 MB wasm with Liftoff only, or the
// first WebGPU/wasm inference spends ~30 s in the optimizing compiler (see README, "Platform
// notes"): set the flag before anything compiles wasm.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import v8 from 'node:v8'

v8.setFlagsFromString('--liftoff-only')
const entry = new URL('../dist/src/cli/main.js', import.meta.url)
if (!existsSync(fileURLToPath(entry))) {
  console.error('lastmile is not built yet: run `npm run build` (`npm start` builds it for you).')
  process.exit(1)
}
const { main, opensEngine } = await import(entry.href)
const args = process.argv.slice(2)
// Dawn writes two harmless limit notices to fd 2 from native code whenever it looks for an
// adapter; only a filter on this process's stderr can drop them (src/gpu/dawn-notices.ts). It is
// set up here, before the command starts any work, for the commands that may open the GPU.
const { filterDawnNotices } = await import(new URL('../dist/src/gpu/dawn-notices.js', import.meta.url).href)
const flush = opensEngine(args) ? filterDawnNotices() : undefined
process.exitCode = await main(args)
await flush?.()
