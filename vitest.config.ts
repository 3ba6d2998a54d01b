import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['./test/helpers/run-tmpdir.ts'],
    // onnxruntime-web's 26 MB wasm must compile with Liftoff only (~30 s of TurboFan on its first
    // run otherwise); src/engine/backends.ts sets the flag too, this keeps every worker consistent.
    execArgv: ['--liftoff-only'],
    pool: 'forks',
    // Suites on the software GPU are CPU-heavy (llvmpipe compiles every shader): two workers fill
    // CI's two cores without starving each other.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
})
