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
const { main } = await import(entry.href)
process.exitCode = await main(process.argv.slice(2))
