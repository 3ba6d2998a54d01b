/**
 * The PyTorch peer of the engine bench: finds a Python with torch, onnx and numpy, and runs
 * bench/torch/baseline.py on a model file the bench wrote, in a child process (so it is timed
 * after the Node contenders of that model, not interleaved with them). Optional: without such a
 * Python the bench says so and goes on; CI never needs torch.
 */
import { execFile, spawn } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'

export interface TorchPython {
  python: string
  torch: string
  cuda: boolean
}

interface TorchTiming {
  batch: number
  device: string
  iterations: number
  medianMs: number
  p10Ms: number
  p90Ms: number
  rowsPerSecond: number
}

export interface TorchRun {
  info: Record<string, unknown>
  check: Record<string, unknown>
  timings: TorchTiming[]
}

const run = promisify(execFile)

/** Debian's system Python (apt's python3-torch) may sit behind a pyenv or venv `python3` on PATH. */
const CANDIDATES = ['python3', '/usr/bin/python3']

/**
 * The first of `candidates` (default: `python3`, then `/usr/bin/python3`) that imports torch, onnx
 * and numpy, or the reason none does.
 */
export async function findTorchPython(candidates: readonly string[] = CANDIDATES): Promise<TorchPython | string> {
  const reasons: string[] = []
  const probe = 'import json, numpy, onnx, torch; print(json.dumps([torch.__version__, torch.cuda.is_available()]))'
  for (const python of candidates) {
    try {
      const { stdout } = await run(python, ['-c', probe], { timeout: 120_000 })
      const [torch, cuda] = JSON.parse(stdout.trim().split('\n').pop() ?? '') as [string, boolean]
      return { python, torch, cuda }
    } catch (e) {
      const err = e as { stderr?: string; message: string }
      reasons.push(`${python}: ${(err.stderr?.trim().split('\n').pop() ?? err.message).slice(0, 120)}`)
    }
  }
  return `no Python with torch, onnx and numpy (${reasons.join('; ')})`
}

/** Run the baseline on `modelPath` at `batches`; rejects when the script fails or its check does. */
export function runTorchPeer(
  py: TorchPython,
  modelPath: string,
  opts: { batches: number[]; seconds: number; minIters: number; device: 'auto' | 'cpu' | 'cuda' },
): Promise<TorchRun> {
  const script = join(process.cwd(), 'bench', 'torch', 'baseline.py')
  const args = [script, modelPath, '--batches', opts.batches.join(','), '--seconds', String(opts.seconds)]
  args.push('--min-iters', String(opts.minIters), '--device', opts.device)
  return new Promise((resolve, reject) => {
    const child = spawn(py.python, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', (code) => {
      const lines = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
      const check = lines.find((l) => l.kind === 'check')
      if (code !== 0) {
        const why = check?.ok === false ? `output check failed: ${JSON.stringify(check)}` : stderr.trim().slice(-600)
        reject(new Error(`bench/torch/baseline.py exited ${code}: ${why}`))
        return
      }
      resolve({
        info: lines.find((l) => l.kind === 'info') ?? {},
        check: check ?? {},
        timings: lines.filter((l) => l.kind === 'timing') as unknown as TorchTiming[],
      })
    })
  })
}
