/**
 * The real body worker, except that parsing JSON text that starts with `die` ends the worker's
 * thread mid-task: how the pool tests see a worker crash without crashing the test process.
 */
import { parentPort } from 'node:worker_threads'
import '../../src/formats/decode-worker.js'

const parse = JSON.parse
JSON.parse = (text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
  if (parentPort && text.startsWith('die')) process.exit(3)
  return parse(text, reviver)
}
