/**
 * Running a Python script of test/python/ against a server in this process, with Debian's
 * python3 (the one that has pandas), asynchronously so the server can answer it.
 */
import { spawn, spawnSync } from 'node:child_process'

/** Debian's interpreter: the `python3` first on PATH may be one without pandas. */
const PYTHON = '/usr/bin/python3'

/** Run `script` with `args`; resolves with its exit code and its stdout and stderr together. */
export function runPython(script: string, ...args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
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

const pandas = spawnSync(PYTHON, ['-c', 'import pandas'], { encoding: 'utf8' })

/** Whether Debian's python3 imports pandas here. */
export const hasPandas = pandas.status === 0

/**
 * Skip the test (`ctx`) where python3 lacks pandas, saying how to install it; fail instead under
 * LASTMILE_REQUIRE_TOOLS=1, which CI sets, so a missing package never passes as a skip there.
 */
export function needPandas(ctx: { skip(note?: string): void }): void {
  if (hasPandas) return
  const reason = `${PYTHON} cannot import pandas (${(pandas.stderr || pandas.error?.message || '').trim().split('\n').at(-1)})`
  if (process.env.LASTMILE_REQUIRE_TOOLS === '1')
    throw new Error(`LASTMILE_REQUIRE_TOOLS=1 but ${reason}; Debian: apt-get install python3-pandas`)
  ctx.skip(`${reason}: apt-get install --no-install-recommends python3-pandas`)
}
