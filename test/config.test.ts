import { rmSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { describe, expect, it, vi } from 'vitest'
import { main } from '../src/cli/main.js'
import { deprecatedVariables, ENV_VARS, loadConfig } from '../src/config.js'
import { cpuSessionOptions } from '../src/engine/backends.js'
import { InvalidConfigError } from '../src/errors.js'
import { tempDir } from './helpers/server.js'

describe('config', () => {
  it('has a default for every setting', () => {
    expect(loadConfig({})).toEqual({
      dataDir: '.lastmile-data',
      storeUrl: '',
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
        path: 'auto',
        measureMs: 2000,
      },
      inferenceLog: {
        sampleRate: 1,
        retentionHours: 720,
        rollBytes: 64 * 1024 * 1024,
        rollSeconds: 3600,
        flushMs: 500,
        maxBufferedRows: 1_000_000,
        maxBufferedBytes: 256 * 1024 * 1024,
        queryMaxRows: 100_000,
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
      exports: { dir: '', maxRows: 10_000_000, tickMs: 30_000 },
      audit: { maxRows: 100_000 },
      live: { maxStreams: 64 },
      optimize: { maxSeconds: 60 },
      slo: { flushMs: 5000, tickMs: 30_000 },
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
        chunkCells: 2 ** 20,
        batchRows: 16_384,
        concurrency: 1,
        maxErrorShare: 0.01,
        uploadLimitBytes: 16 * 2 ** 30,
        viewerUploadLimitBytes: 2 ** 30,
        maxRows: 1_000_000_000,
        maxRecordBytes: 16 * 2 ** 20,
        maxColumns: 4096,
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
        jsonMaxValues: 2_000_000,
        demo: true,
        workers: 1,
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
        minBytesPerSecond: 256 * 1024,
        graceMs: 5000,
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
  it('documents every variable in the README, and each old name on its row', async () => {
    const { readFile } = await import('node:fs/promises')
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
    for (const name of Object.keys(ENV_VARS)) expect(readme, `${name} in README`).toContain(name)
    for (const [old, name] of Object.entries(RENAMED)) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${name}\``))
      expect(row, `${name}'s row names ${old}`).toContain(old)
    }
  })
})

/** The inference log's variables before they were renamed, with the setting each sets. */
const RENAMED: Record<string, string> = {
  LASTMILE_LOG_SAMPLE_RATE: 'LASTMILE_INFERENCE_LOG_SAMPLE_RATE',
  LASTMILE_LOG_RETENTION_HOURS: 'LASTMILE_INFERENCE_LOG_RETENTION_HOURS',
  LASTMILE_LOG_ROLL_BYTES: 'LASTMILE_INFERENCE_LOG_ROLL_BYTES',
  LASTMILE_LOG_ROLL_SECONDS: 'LASTMILE_INFERENCE_LOG_ROLL_SECONDS',
  LASTMILE_LOG_FLUSH_MS: 'LASTMILE_INFERENCE_LOG_FLUSH_MS',
  LASTMILE_LOG_MAX_BUFFERED_BYTES: 'LASTMILE_INFERENCE_LOG_MAX_BUFFERED_BYTES',
}

describe('inference log variables, renamed from LASTMILE_LOG_*', () => {
  // Setting, variable suffix, and a distinct value that is no default, so a value read into the
  // wrong setting shows.
  const cases: Array<[string, string, number]> = [
    ['sampleRate', 'SAMPLE_RATE', 0.25],
    ['retentionHours', 'RETENTION_HOURS', 48],
    ['rollBytes', 'ROLL_BYTES', 2048],
    ['rollSeconds', 'ROLL_SECONDS', 90],
    ['flushMs', 'FLUSH_MS', 750],
    ['maxBufferedBytes', 'MAX_BUFFERED_BYTES', 4096],
  ]
  const env = (prefix: string) => Object.fromEntries(cases.map(([, suffix, v]) => [`${prefix}${suffix}`, String(v)]))
  const expected = Object.fromEntries(cases.map(([setting, , v]) => [setting, v]))

  it('reads the new names into inferenceLog, and LASTMILE_LOG_LEVEL stays the process logger', () => {
    const c = loadConfig({ ...env('LASTMILE_INFERENCE_LOG_'), LASTMILE_LOG_LEVEL: 'warn' })
    expect(c.inferenceLog).toEqual({ ...expected, maxBufferedRows: 1_000_000, queryMaxRows: 100_000 })
    expect(c.logLevel).toBe('warn')
    expect(deprecatedVariables({ ...env('LASTMILE_INFERENCE_LOG_'), LASTMILE_LOG_LEVEL: 'warn' })).toEqual([])
  })

  it('still reads each old name when the new one is unset (or empty), with a warning naming the new one', () => {
    const old = env('LASTMILE_LOG_')
    expect(loadConfig(old).inferenceLog).toEqual({ ...expected, maxBufferedRows: 1_000_000, queryMaxRows: 100_000 })
    expect(loadConfig({ ...old, LASTMILE_INFERENCE_LOG_FLUSH_MS: '' }).inferenceLog.flushMs).toBe(750)
    const warnings = deprecatedVariables(old)
    expect(warnings).toHaveLength(6)
    for (const [oldName, name] of Object.entries(RENAMED)) {
      expect(warnings).toContain(
        `${oldName} is read for now but will be dropped in the next release: rename it ${name}`,
      )
    }
  })

  it('takes the new name over the old one when both are set, and says the old one is ignored', () => {
    const c = loadConfig({ LASTMILE_LOG_SAMPLE_RATE: '0.5', LASTMILE_INFERENCE_LOG_SAMPLE_RATE: '0.125' })
    expect(c.inferenceLog.sampleRate).toBe(0.125)
    expect(
      deprecatedVariables({ LASTMILE_LOG_SAMPLE_RATE: '0.5', LASTMILE_INFERENCE_LOG_SAMPLE_RATE: '0.125' }),
    ).toEqual([
      'LASTMILE_LOG_SAMPLE_RATE is ignored: LASTMILE_INFERENCE_LOG_SAMPLE_RATE is set too and wins; remove LASTMILE_LOG_SAMPLE_RATE',
    ])
  })

  it('names the variable the bad value came from', () => {
    expect(() => loadConfig({ LASTMILE_LOG_SAMPLE_RATE: '2' })).toThrow(
      /inferenceLog\.sampleRate \(LASTMILE_LOG_SAMPLE_RATE\)/,
    )
    expect(() => loadConfig({ LASTMILE_INFERENCE_LOG_SAMPLE_RATE: '2' })).toThrow(
      /inferenceLog\.sampleRate \(LASTMILE_INFERENCE_LOG_SAMPLE_RATE\)/,
    )
  })

  it('warns at start: a command run with an old name prints the new name on stderr', async () => {
    const data = tempDir()
    const stderr: string[] = []
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr.push(String(chunk))
      return true
    })
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    try {
      const args = ['keys', 'create', '--offline', '--workspace', 'default', '--role', 'viewer', '--data', data]
      const code = await main(args, { LASTMILE_LOG_ROLL_SECONDS: '90' })
      expect(code).toBe(0)
    } finally {
      err.mockRestore()
      out.mockRestore()
      rmSync(data, { recursive: true, force: true })
    }
    expect(stderr.join('')).toContain(
      '[lastmile] warn LASTMILE_LOG_ROLL_SECONDS is read for now but will be dropped in the next release: rename it LASTMILE_INFERENCE_LOG_ROLL_SECONDS',
    )
  })
})
