/**
 * Dawn's two limit notices are kept off the `lastmile` command's stderr, and nothing else is:
 * the line filter drops exactly those lines (and the flush marker) however the bytes are chunked;
 * a process that routes its fd 2 through the filter loses only them, JavaScript's and fd-2 writes
 * alike, in order; a server shut down with Ctrl-C (SIGINT to the whole process group) still prints
 * its shutdown; `lastmile info` on this adapter prints no notice.
 */
import { spawn, spawnSync } from 'node:child_process'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DAWN_LIMIT_NOTICE, flushMarker, NoticeLines } from '../../src/gpu/dawn-notices.js'
import { fuzzParams } from '../fuzz/budget.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { binPath, cliBuilt, tempDir } from '../helpers/server.js'

const gpu = await probeGpu()
const UNIFORM =
  'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.'
const STORAGE =
  'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 500000 to 16 to fit dynamic offset allocation limit.'
/** Lines that look like a notice but are not one: they must pass. */
const NEAR_MISSES = [
  `${UNIFORM} `,
  ` ${UNIFORM}`,
  UNIFORM.replace('Warning', 'Error'),
  UNIFORM.replace('1000000', 'many'),
  UNIFORM.replace('limit.', 'limit!'),
  'Warning: maxDynamicUniformBuffersPerPipelineLayout',
  'Warning: maxDynamic',
  'Warn',
  `${UNIFORM}${UNIFORM}`,
]
const MARKER = flushMarker('0123456789abcdef')

/** Feed `chunks` to a fresh filter; the bytes it passes on and the markers it saw. */
function filter(chunks: string[], marker = MARKER): { out: string; markers: number } {
  const lines = new NoticeLines(marker)
  let out = ''
  let markers = 0
  for (const c of chunks) {
    const r = lines.feed(Buffer.from(c, 'latin1'))
    out += r.out.toString('latin1')
    markers += r.markers
  }
  return { out: out + lines.end().toString('latin1'), markers }
}

describe('the Dawn notice filter', () => {
  it('drops both notices, whatever numbers they carry, and passes near misses unchanged', () => {
    expect(DAWN_LIMIT_NOTICE.test(UNIFORM) && DAWN_LIMIT_NOTICE.test(STORAGE)).toBe(true)
    const text = ['before', UNIFORM, ...NEAR_MISSES, STORAGE, '', 'after'].join('\n')
    expect(filter([text]).out).toBe(['before', ...NEAR_MISSES, '', 'after'].join('\n'))
  })

  it('gives the same bytes however the stream is cut, one byte at a time included', () => {
    const text = `a\n${UNIFORM}\nWarn\n${STORAGE}\nWarning: maxDynamic but not\nhalf a line${MARKER}, the rest\nz`
    const expected = 'a\nWarn\nWarning: maxDynamic but not\nhalf a line, the rest\nz'
    expect(filter([...text])).toEqual({ out: expected, markers: 1 })
    for (let cut = 0; cut <= text.length; cut++) {
      expect(filter([text.slice(0, cut), text.slice(cut)]), `cut at ${cut}`).toEqual({ out: expected, markers: 1 })
    }
  })

  it('passes other output at once, holding only the start of a line that may be a notice', () => {
    const lines = new NoticeLines(MARKER)
    expect(lines.feed(Buffer.from('progress 10%')).out.toString()).toBe('progress 10%')
    expect(lines.feed(Buffer.from('\rprogress 20%\nWarning: maxDyn')).out.toString()).toBe('\rprogress 20%\n')
    // A line longer than any notice goes on without waiting for its newline.
    const long = `Warning: maxDynamic${'x'.repeat(300)}`
    expect(lines.feed(Buffer.from(long.slice('Warning: maxDyn'.length))).out.toString()).toBe(long)
    // A stream that ends in the middle of a notice-like line, or of a marker, keeps those bytes.
    expect(lines.feed(Buffer.from('\nWarning: maxDynamicUniform')).out.toString()).toBe('\n')
    expect(lines.end().toString()).toBe('Warning: maxDynamicUniform')
    expect(lines.feed(Buffer.from(`x${MARKER.slice(0, 9)}`)).out.toString()).toBe('x')
    expect(lines.end().toString()).toBe(MARKER.slice(0, 9))
  })

  it('counts and drops each whole marker, on a line of its own or inside one; without a marker nothing is one', () => {
    expect(filter([`${MARKER}${MARKER}\nok${MARKER}\n${MARKER.slice(1)}\n`])).toEqual({
      out: `\nok\n${MARKER.slice(1)}\n`,
      markers: 3,
    })
    expect(filter([`${MARKER}\n`], '')).toEqual({ out: `${MARKER}\n`, markers: 0 })
  })

  it('on any lines cut into any chunks, passes exactly the lines that are not notices', () => {
    const line = fc.oneof(
      fc.constantFrom(UNIFORM, STORAGE, ...NEAR_MISSES, ''),
      fc.string({ unit: 'binary-ascii', maxLength: 300 }).map((s) => s.replaceAll('\n', ' ')),
    )
    fc.assert(
      fc.property(fc.array(line, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 8 }), (lines, cuts) => {
        const text = lines.map((l) => `${l}\n`).join('')
        const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)
        const chunks = [0, ...at].map((start, i) => text.slice(start, at[i] ?? text.length))
        const kept = lines.filter((l) => l !== UNIFORM && l !== STORAGE).map((l) => `${l}\n`)
        expect(filter(chunks).out).toBe(kept.join(''))
      }),
      fuzzParams(300),
    )
  })
})

/** Run `node -e <script>` with the built filter module as `m`; resolves with its exit and output. */
function runNode(script: string): { status: number | null; stdout: string; stderr: string } {
  const module = new URL('../../dist/src/gpu/dawn-notices.js', import.meta.url).href
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `const m = await import('${module}');\n${script}`],
    {
      encoding: 'utf8',
    },
  )
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe.runIf(cliBuilt)(`the command's stderr${cliBuilt ? '' : ' (skipped: run `npm run build` first)'}`, () => {
  it('loses only the notices and its flush marker, from fd 2 and from JavaScript alike, in order', () => {
    const r = runNode(`
      import('node:fs').then(async ({ writeSync }) => {
        const flush = m.filterDawnNotices()
        process.stdout.write(flush ? 'filtered' : 'not filtered')
        writeSync(2, 'native line 1\\n${UNIFORM}\\n')
        process.stderr.write('js line\\n')
        writeSync(2, '${STORAGE}\\nnative line 2 without a newline')
        await flush?.()
      })`)
    expect(r).toEqual({
      status: 0,
      stdout: 'filtered',
      stderr: 'native line 1\njs line\nnative line 2 without a newline',
    })
  })

  it('a server stopped by Ctrl-C (SIGINT to its process group) still prints its shutdown, and exits 0', async () => {
    const child = spawn(
      process.execPath,
      [binPath, 'serve', '--port', '0', '--backend', 'cpu', '--no-demo', '--data', tempDir()],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // a process group of its own, as a terminal's foreground job
      },
    )
    let out = ''
    let err = ''
    child.stdout?.on('data', (b) => {
      out += b
    })
    child.stderr?.on('data', (b) => {
      err += b
    })
    const closed = new Promise<number | null>((r) => child.once('close', r))
    await expect.poll(() => out, { timeout: 30_000 }).toMatch(/serving on/)
    process.kill(-(child.pid as number), 'SIGINT')
    expect(await closed).toBe(0)
    expect(err).toMatch(/shutting down \{"signal":"SIGINT"\}/)
  })
})

describe.runIf(gpu.ok && cliBuilt)(gpuTitle('lastmile info on this adapter', gpu), () => {
  it('prints the adapter as JSON and no Dawn notice, where Dawn alone prints them', () => {
    const r = spawnSync(process.execPath, [binPath, 'info'], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).gpu.adapter.description).toBe(gpu.info?.description)
    expect(r.stderr).not.toMatch(/artificially reduced/)
    // The same discovery without the filter: on drivers that report large limits (lavapipe,
    // RADV) Dawn prints the notices, which shows the filter is what removed them above.
    const bare = runNode(`const { create } = await import('webgpu'); await create([]).requestAdapter()`)
    if (gpu.info?.software) expect(bare.stderr).toMatch(/artificially reduced/)
  })
})
