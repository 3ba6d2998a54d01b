/**
 * Why the check exists, shown safely: onnxruntime-node, given a model as bytes, resolves an
 * initializer's external data against the process's working directory and returns the file's
 * bytes as the tensor. The demonstration runs onnxruntime alone in a child process whose working
 * directory is a fresh temp folder holding only a file the test wrote; the same bytes are then
 * refused by lastmile's check.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { InvalidModelError } from '../../src/errors.js'
import { checkModel } from '../../src/onnx/model-check.js'
import { externalTensor, identityModel } from './crafted.js'

const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node')
const dir = mkdtempSync(join(tmpdir(), 'lastmile-extdata-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Load `model.onnx` from `dir` as bytes (as the server does) with `dir` as the working directory. */
const script = `
const ort = require(${JSON.stringify(ortPath)})
const bytes = new Uint8Array(require('node:fs').readFileSync('model.onnx'))
ort.InferenceSession.create(bytes).then((s) => s.run({})).then(
  (r) => process.stdout.write(Buffer.from(r.out.data).toString('latin1')),
  (e) => process.stdout.write('refused: ' + e.message),
)`

describe('external data, without the check', () => {
  it('onnxruntime reads a file named by the model relative to its working directory', () => {
    const secret = 'tenant B: card 4111-1111'
    writeFileSync(join(dir, 'secret.txt'), secret)
    const bytes = identityModel(externalTensor('secret.txt', secret.length))
    writeFileSync(join(dir, 'model.onnx'), bytes)
    const out = execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'latin1', timeout: 60_000 })
    expect(out).toBe(secret)
    // lastmile refuses the same bytes before onnxruntime sees them.
    expect(() => checkModel(bytes)).toThrow(InvalidModelError)
    expect(() => checkModel(bytes)).toThrow("('secret.txt')")
  })
})
