/**
 * Vitest global setup: every test process gets one temporary folder for this run as its TMPDIR,
 * removed when the run ends. Tests still remove what they create; this also catches what they
 * cannot, such as the empty `mat-debug-<pid>.log` trace file onnxruntime-node's telemetry layer
 * writes to TMPDIR in every process that creates a session.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'lastmile-test-run-'))
  process.env.TMPDIR = dir
  return () => rmSync(dir, { recursive: true, force: true })
}
