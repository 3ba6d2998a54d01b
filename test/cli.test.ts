/**
 * The `lastmile` command as users run it (built bin, a fresh data folder). The wasm run starts
 * Node *without* --liftoff-only on purpose: the bin must set the flag itself, or the first run of
 * onnxruntime-web's wasm takes ~30 s of TurboFan compilation instead of well under a second.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const bin = new URL('../bin/lastmile.js', import.meta.url).pathname
const built = existsSync(new URL('../dist/src/cli/main.js', import.meta.url))

function lastmile(args: string[], env: Record<string, string> = {}) {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  })
  return { ...r, seconds: (performance.now() - t0) / 1000 }
}

describe.runIf(built)(`lastmile CLI${built ? '' : ' (skipped: run `npm run build` first; `npm test` does)'}`, () => {
  it('demo writes the demo model on first start and answers example rows', () => {
    const data = mkdtempSync(join(tmpdir(), 'lastmile-cli-'))
    const first = lastmile(['demo', '--backend', 'cpu', '--data', data, '--rows', '3'])
    expect(first.status, first.stderr).toBe(0)
    expect(first.stdout).toContain('(created now)')
    expect(first.stdout).toMatch(/backend {2}cpu \(configured\)/)
    const rows = first.stdout.split('\n').filter((l) => /^\s+\d+\s+class_[abc]\s+\d\.\d{4}/.test(l))
    expect(rows).toHaveLength(3)
    for (const row of rows) {
      const [, label, ...probs] = row.trim().split(/\s+/)
      const p = probs.map(Number)
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3)
      expect(label).toBe(`class_${'abc'[p.indexOf(Math.max(...p))]}`)
    }
    expect(existsSync(join(data, 'models', 'demo-classifier.onnx'))).toBe(true)
    const second = lastmile(['demo', '--backend', 'cpu', '--data', data, '--rows', '3'])
    expect(second.stdout).not.toContain('(created now)')
    expect(second.stdout.split('\n').slice(-4)).toEqual(first.stdout.split('\n').slice(-4))
  })

  it('sets --liftoff-only itself: a first wasm run in a plain `node` finishes in seconds', () => {
    const data = mkdtempSync(join(tmpdir(), 'lastmile-cli-'))
    const r = lastmile(['demo', '--backend', 'wasm', '--data', data, '--rows', '1'])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/backend {2}wasm/)
    // Without the flag this takes ~45 s on a 2-core machine; with it, ~1.5 s.
    expect(r.seconds).toBeLessThan(20)
  })

  it('rejects a bad setting with exit code 2 and names the variable', () => {
    const r = lastmile(['info'], { LASTMILE_BACKEND: 'tpu' })
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/invalid_config: .*LASTMILE_BACKEND/)
  })

  it('info prints the backends and adapter as JSON', () => {
    const r = lastmile(['info', '--gpu-adapter', 'no-such-adapter'])
    expect(r.status, r.stderr).toBe(0)
    const info = JSON.parse(r.stdout)
    expect(info).toMatchObject({ autoBackend: 'cpu', configured: 'auto', gpu: { state: 'unavailable' } })
  })
})

describe('test workers', () => {
  it('run with --liftoff-only (vitest.config.ts execArgv)', () => {
    expect(process.execArgv).toContain('--liftoff-only')
  })
})
