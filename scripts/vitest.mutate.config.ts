/**
 * The test configuration Stryker runs (scripts/mutate.mjs): only the test files of the module
 * being mutated (MUTATE_TESTS). Stryker's vitest runner uses worker threads, which take no
 * `execArgv`; the engine sets --liftoff-only itself before it loads onnxruntime-web.
 */
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  // The repository, not this folder: test paths and the global setup are relative to it.
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: (process.env.MUTATE_TESTS ?? '').split(',').filter(Boolean),
    globalSetup: ['./test/helpers/run-tmpdir.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
})
