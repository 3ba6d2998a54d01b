/**
 * Running a Python script of test/python/ against a server in this process, with Debian's
 * python3 (the one that has pandas), asynchronously so the server can answer it.
 */
import { spawn, spawnSync } from 'node:child_process'

/** Debian's interpreter: the `python3` first on PATH may be one without pandas. */
const PYTHON = '/usr/bin/python3'

/** Run `script` with `args`; resolves with its exit code and its stdout and stderr together. */
export function runPython(script: string, ...args: string[]): Promise<{ code: number | null; output: string }> {
  return python([script, ...args])
}

/** Run python3 with `args` (in `cwd`, with `env` added); resolves with its exit code and its output. */
export function python(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (b) => {
      output += b
    })
    child.stderr.on('data', (b) => {
      output += b
    })
    child.on('error', reject)
    child.on('exit', (code) => resolve({ code, output }))
  })
}

/** What python3 lacks of `modules` (the import error's last line), or '' when it has them all. */
function lacking(modules: readonly string[]): string {
  const r = spawnSync(PYTHON, ['-c', modules.map((m) => `import ${m}`).join('; ')], { encoding: 'utf8' })
  return r.status === 0 ? '' : ((r.stderr || r.error?.message || 'python3 failed').trim().split('\n').at(-1) ?? '')
}

/** Whether Debian's python3 imports pandas here. */
export const hasPandas = lacking(['pandas']) === ''

/**
 * Skip the test (`ctx`) where python3 lacks one of `modules`, saying which Debian packages
 * (`debian`) bring them; fail instead under LASTMILE_REQUIRE_TOOLS=1, which CI sets, so a missing
 * package never passes as a skip there.
 */
export function needPython(ctx: { skip(note?: string): void }, modules: readonly string[], debian: string): void {
  const lack = lacking(modules)
  if (!lack) return
  const reason = `${PYTHON} cannot import ${modules.join(', ')} (${lack})`
  if (process.env.LASTMILE_REQUIRE_TOOLS === '1')
    throw new Error(`LASTMILE_REQUIRE_TOOLS=1 but ${reason}; Debian: apt-get install ${debian}`)
  ctx.skip(`${reason}: apt-get install --no-install-recommends ${debian}`)
}

/** {@link needPython} for pandas. */
export function needPandas(ctx: { skip(note?: string): void }): void {
  needPython(ctx, ['pandas'], 'python3-pandas')
}
