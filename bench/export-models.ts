/**
 * `node dist/bench/export-models.js <dir> [--models mlp,wide,resnet]`: writes the engine bench's
 * models to `<dir>` as `<name>.onnx`, each with a check batch (`<name>.check-x.npy`, and
 * onnxruntime-node's output `<name>.check-y.npy`), for peers such as bench/torch/baseline.py.
 */
import { mkdir } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { rawSession, selectModels, writeModelFiles } from './models.js'

const { values, positionals } = parseArgs({ options: { models: { type: 'string' } }, allowPositionals: true })
const dir = positionals[0]
if (!dir || positionals.length > 1) {
  console.error('usage: node dist/bench/export-models.js <dir> [--models mlp,wide,resnet]')
  process.exit(2)
}
await mkdir(dir, { recursive: true })
for (const spec of selectModels(values.models?.split(',').filter(Boolean) ?? [])) {
  const fixture = spec.build()
  const raw = await rawSession(fixture.bytes)
  process.stdout.write(`${await writeModelFiles(dir, fixture, raw)}  (${fixture.description})\n`)
  await raw.release()
}
