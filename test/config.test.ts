import { availableParallelism } from 'node:os'
import { describe, expect, it } from 'vitest'
import { ENV_VARS, loadConfig } from '../src/config.js'
import { cpuSessionOptions } from '../src/engine/backends.js'
import { InvalidConfigError } from '../src/errors.js'

describe('config', () => {
  it('has a default for every setting', () => {
    expect(loadConfig({})).toEqual({
      dataDir: '.lastmile-data',
      backend: 'auto',
      cpuThreads: 0,
      cpuSpin: false,
      logLevel: 'info',
      gpu: {
        backend: 'auto',
        adapter: '',
        featureLevel: 'auto',
        powerPreference: 'high-performance',
        recover: true,
        validate: false,
      },
      log: {
        sampleRate: 1,
        retentionHours: 720,
        rollBytes: 64 * 1024 * 1024,
        rollSeconds: 3600,
        flushMs: 500,
        maxBufferedRows: 1_000_000,
        maxBufferedBytes: 256 * 1024 * 1024,
      },
      assays: {
        tickMs: 30_000,
        webhookAttempts: 5,
        minWindowMs: 1000,
        maxRunWindows: 1000,
        maxTickWindows: 100,
        maxRequestValues: 1_000_000,
        maxWebhooks: 10,
      },
      outbound: {
        allowLocal: false,
        allowlist: [],
        connectTimeoutMs: 5000,
        responseTimeoutMs: 10_000,
        maxResponseBytes: 64 * 1024,
      },
      explain: {
        maxModelRows: 10_000_000,
        maxReferenceRows: 10_000,
        maxRows: 1000,
        maxBackground: 1000,
        maxNsamples: 100_000,
        maxPermutations: 1000,
        maxRepeats: 100,
        maxNumPoints: 500,
      },
      jobs: {
        chunkRows: 65_536,
        batchRows: 16_384,
        concurrency: 1,
        maxErrorShare: 0.01,
        uploadLimitBytes: 16 * 2 ** 30,
        viewerUploadLimitBytes: 2 ** 30,
        maxRows: 1_000_000_000,
        maxRecordBytes: 16 * 2 ** 20,
        maxAttempts: 3,
        stallSeconds: 3600,
      },
      client: { url: 'http://127.0.0.1:8080', apiKey: '' },
      server: {
        host: '127.0.0.1',
        port: 8080,
        bodyLimitBytes: 64 * 1024 * 1024,
        modelLimitBytes: 1024 * 1024 * 1024,
        modelLoadMemoryBytes: 4 * 1024 * 1024 * 1024,
        modelLoadTimeoutMs: 120_000,
        tensorLimitBytes: 256 * 1024 * 1024,
        demo: true,
        auth: 'auto',
        allowedOrigins: [],
        metricsPublic: false,
      },
      // Body workers: a quarter of the cores, at least 1 and at most 4.
      bodies: {
        largeBytes: 1024 * 1024,
        workers: Math.min(4, Math.max(1, availableParallelism() >> 2)),
        perWorker: 2,
        queue: 16,
      },
    })
  })
  it('reads environment variables, and flags override them', () => {
    const env = {
      LASTMILE_BACKEND: 'wasm',
      LASTMILE_CPU_THREADS: '3',
      LASTMILE_GPU_BACKEND: 'opengles',
      LASTMILE_GPU_RECOVER: 'off',
      LASTMILE_CPU_SPIN: 'on',
    }
    const c = loadConfig(env, { backend: 'cpu' })
    expect(c.backend).toBe('cpu')
    expect(c.cpuThreads).toBe(3)
    expect(c.cpuSpin).toBe(true)
    expect(c.gpu).toMatchObject({ backend: 'opengles', recover: false, featureLevel: 'auto' })
  })
  it('hands threads and spinning to onnxruntime as its session options', () => {
    expect(cpuSessionOptions(loadConfig({}))).toEqual({
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    })
    const spin = cpuSessionOptions(loadConfig({ LASTMILE_CPU_SPIN: '1', LASTMILE_CPU_THREADS: '2' }))
    expect(spin.intraOpNumThreads).toBe(2)
    expect(spin.extra.session.intra_op.allow_spinning).toBe('1')
  })
  it('names the setting, its variable and the accepted values when a value is wrong', () => {
    expect(() => loadConfig({ LASTMILE_BACKEND: 'cuda' })).toThrow(InvalidConfigError)
    expect(() => loadConfig({ LASTMILE_BACKEND: 'cuda' })).toThrow(
      /backend \(LASTMILE_BACKEND\): .*"auto"\|"webgpu"\|"cpu"\|"wasm"/,
    )
    expect(() => loadConfig({ LASTMILE_CPU_THREADS: 'many' })).toThrow(/cpuThreads \(LASTMILE_CPU_THREADS\)/)
  })
  it('ignores empty variables', () => {
    expect(loadConfig({ LASTMILE_BACKEND: '' }).backend).toBe('auto')
  })
  it('documents every variable in the README', async () => {
    const { readFile } = await import('node:fs/promises')
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
    for (const name of Object.keys(ENV_VARS)) expect(readme, `${name} in README`).toContain(name)
  })
})
