/**
 * The Dockerfile, read (Docker is not run here): a build stage and a runtime stage on the same
 * Node 20 image, the runtime holding what the published package holds and running it as
 * package.json's start script does, as a numeric non-root user, listening where the settings say.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ENV_VARS, loadConfig } from '../../src/config.js'

const ROOT = new URL('../..', import.meta.url).pathname
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  files: string[]
  scripts: Record<string, string>
}

interface Instruction {
  op: string
  args: string
}

/** The Dockerfile's instructions: continuation lines joined, comments and the parser directive dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = []
  let current = ''
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue // comments, inside a continued instruction too
    current += line.replace(/\\\s*$/, ' ')
    if (/\\\s*$/.test(line)) continue
    const trimmed = current.trim()
    current = ''
    if (!trimmed) continue
    const [op = '', ...rest] = trimmed.split(/\s+/)
    out.push({ op: op.toUpperCase(), args: rest.join(' ') })
  }
  expect(current.trim(), 'a continued last line').toBe('')
  return out
}

/** `KEY=value` pairs of an ENV or ARG instruction (unquoted values; the Dockerfile uses no quotes there). */
function pairs(args: string): Map<string, string> {
  return new Map(
    args.split(/\s+/).map((p) => {
      const [k = '', ...v] = p.split('=')
      return [k, v.join('=')]
    }),
  )
}

const ALL = instructions(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))
const GLOBAL_ARGS = pairs(
  ALL.slice(
    0,
    ALL.findIndex((i) => i.op === 'FROM'),
  )
    .filter((i) => i.op === 'ARG')
    .map((i) => i.args)
    .join(' '),
)
/** Each stage: its image, name and instructions. */
const STAGES = ALL.flatMap((inst, at) => {
  if (inst.op !== 'FROM') return []
  const [image = '', as, name] = inst.args.split(/\s+/)
  const end = ALL.findIndex((i, j) => j > at && i.op === 'FROM')
  return [
    {
      image: image.replace(/^\$\{(\w+)\}$/, (_, v: string) => GLOBAL_ARGS.get(v) ?? ''),
      name: as?.toUpperCase() === 'AS' ? name : undefined,
      body: ALL.slice(at + 1, end < 0 ? undefined : end),
    },
  ]
})
const RUNTIME = STAGES.at(-1)?.body ?? []
const last = (op: string) => RUNTIME.filter((i) => i.op === op).at(-1)?.args
const runtimeEnv = new Map(RUNTIME.filter((i) => i.op === 'ENV').flatMap((i) => [...pairs(i.args)]))

describe('Dockerfile', () => {
  it('builds in one stage and runs from another, both on node:20-bookworm-slim', () => {
    expect(STAGES.map((s) => s.image)).toEqual(['node:20-bookworm-slim', 'node:20-bookworm-slim'])
    const build = STAGES[0]
    const runs = (build?.body ?? []).filter((i) => i.op === 'RUN').map((i) => i.args)
    const commands = runs.join(' && ')
    for (const step of ['npm ci', 'npm run build', 'npm prune --omit=dev']) expect(commands).toContain(step)
    expect(commands.indexOf('npm ci')).toBeLessThan(commands.indexOf('npm run build'))
    expect(commands.indexOf('npm run build')).toBeLessThan(commands.indexOf('npm prune --omit=dev'))
    // What the build copies in from this folder leaves out what the build makes itself.
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n')
    for (const path of ['node_modules', 'dist', '.lastmile-data', '.git']) expect(ignored).toContain(path)
  })

  it('copies into the runtime what the package publishes, from the repository or the build', () => {
    const build = STAGES[0]?.name
    const copies = RUNTIME.filter((i) => i.op === 'COPY').map((i) => i.args.split(/\s+/))
    const fromBuild = copies.filter((c) => c[0] === `--from=${build}`).map((c) => c[1] as string)
    // The build's outputs (tsc's dist/src, Vite's dist/console, the pruned node_modules) or repository paths.
    const outputs = ['/app/dist/src', '/app/dist/console', '/app/node_modules']
    for (const src of fromBuild) {
      expect(src.startsWith('/app/'), src).toBe(true)
      expect(outputs.includes(src) || existsSync(join(ROOT, src.slice('/app/'.length))), src).toBe(true)
    }
    const published = PKG.files.filter((f) => !f.startsWith('!') && f !== 'README.md')
    expect(fromBuild.map((s) => s.slice('/app/'.length)).sort()).toEqual(
      [...published, 'node_modules', 'package.json'].sort(),
    )
    for (const c of copies.filter((c) => !c[0]?.startsWith('--from='))) {
      for (const src of c.slice(0, -1)) expect(existsSync(join(ROOT, src)), src).toBe(true)
    }
  })

  it('runs as a numeric non-root user what package.json start runs, stopping on SIGTERM', () => {
    const user = last('USER') ?? ''
    expect(user).toMatch(/^\d+(:\d+)?$/)
    expect(Number(user.split(':')[0])).toBeGreaterThan(0)
    const at = (op: string) => RUNTIME.findIndex((i) => i.op === op)
    expect(at('USER')).toBeLessThan(at('ENTRYPOINT'))
    const entrypoint = JSON.parse(last('ENTRYPOINT') ?? 'null') as string[]
    expect(entrypoint).toEqual(['node', '--liftoff-only', 'bin/lastmile.js', 'serve'])
    expect(PKG.scripts.start).toContain(entrypoint.join(' '))
    expect(last('STOPSIGNAL')).toBe('SIGTERM')
    expect(last('HEALTHCHECK')).toContain('/v2/health/live')
  })

  it('listens on every address at the default port, with its data folder on a volume', () => {
    const port = loadConfig({}).server.port
    expect(Number(last('EXPOSE'))).toBe(port)
    expect(runtimeEnv.get('LASTMILE_HOST')).toBe('0.0.0.0')
    expect(Number(runtimeEnv.get('LASTMILE_PORT'))).toBe(port)
    expect(JSON.parse(last('VOLUME') ?? '[]')).toEqual([runtimeEnv.get('LASTMILE_DATA_DIR')])
    const settings = [...runtimeEnv.keys()].filter((k) => k.startsWith('LASTMILE_'))
    expect(settings.filter((k) => !(k in ENV_VARS))).toEqual([])
    expect(() => loadConfig(Object.fromEntries(settings.map((k) => [k, runtimeEnv.get(k)])))).not.toThrow()
    expect(runtimeEnv.get('NVIDIA_DRIVER_CAPABILITIES')?.split(',')).toContain('graphics')
  })

  it('adds the software GPU only when asked, with the script the README names', () => {
    expect(
      pairs(
        RUNTIME.filter((i) => i.op === 'ARG')
          .map((i) => i.args)
          .join(' '),
      ).get('SOFTWARE_GPU'),
    ).toBe('0')
    const run = RUNTIME.filter((i) => i.op === 'RUN')
      .map((i) => i.args)
      .join(' ')
    expect(run).toContain('if [ "$SOFTWARE_GPU" = "1" ]; then bash /tmp/install-software-gpu.sh; fi')
    expect(run).toContain('libvulkan1') // the loader Dawn opens, for an NVIDIA ICD or lavapipe
    expect(existsSync(join(ROOT, 'scripts', 'install-software-gpu.sh'))).toBe(true)
  })
})
