#!/usr/bin/env node
/**
 * A long fuzzing soak: runs every fuzzer (`npx vitest run test/fuzz`) again and again, each time
 * with a fresh FUZZ_SEED and a larger FUZZ_SCALE, until the given minutes have passed. Prints each
 * seed as it starts; on a failure prints the seed and the exact command that replays it, and exits
 * non-zero. Node built-ins only.
 *
 *   npm run fuzz -- --minutes 30            # scale 20 (20× the cases of `npm test`)
 *   npm run fuzz -- --minutes 5 --scale 50
 */
import { spawn } from 'node:child_process'
import { randomInt } from 'node:crypto'

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return fallback
  const value = Number(process.argv[i + 1])
  if (!(value > 0)) {
    console.error(`--${name} needs a positive number, got '${process.argv[i + 1] ?? ''}'`)
    process.exit(2)
  }
  return value
}

const minutes = option('minutes', 10)
const scale = option('scale', 20)
const deadline = Date.now() + minutes * 60_000
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx'

/** One pass of the fuzz suite with `seed`; resolves with its exit code. */
function pass(seed) {
  return new Promise((resolve) => {
    const child = spawn(npx, ['vitest', 'run', 'test/fuzz'], {
      stdio: 'inherit',
      env: { ...process.env, FUZZ_SEED: String(seed), FUZZ_SCALE: String(scale) },
    })
    const stop = () => child.kill('SIGINT')
    process.once('SIGINT', stop)
    child.on('exit', (code, signal) => {
      process.off('SIGINT', stop)
      resolve(signal ? 130 : (code ?? 1))
    })
  })
}

let runs = 0
while (Date.now() < deadline) {
  // Seeds stay below 2^31: fast-check takes a 32-bit integer.
  const seed = randomInt(1, 2 ** 31 - 1)
  runs += 1
  console.log(`\n[fuzz] pass ${runs}: FUZZ_SEED=${seed} FUZZ_SCALE=${scale}`)
  const code = await pass(seed)
  if (code !== 0) {
    console.error(`\n[fuzz] pass ${runs} failed with FUZZ_SEED=${seed}. Replay it with:`)
    console.error(`  FUZZ_SEED=${seed} FUZZ_SCALE=${scale} npx vitest run test/fuzz`)
    process.exit(code === 130 ? 130 : 1)
  }
}
console.log(`\n[fuzz] ${runs} passes in ${minutes} minutes, scale ${scale}: no failure`)
