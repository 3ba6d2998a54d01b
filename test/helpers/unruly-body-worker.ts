/**
 * The real body worker, misbehaving on cue for the pool tests (decode-pool-unit.test.ts). Parsing
 * JSON text that starts with
 * - `crash:<message>` throws an uncaught Error(<message>) once the task's value is parsed, before
 *   the answer is posted: the worker's thread fails with an 'error' event, then exits;
 * - `oom` does the same with an error coded ERR_WORKER_OUT_OF_MEMORY, as Node reports a worker past
 *   its heap limit;
 * - `leave:<json>` answers the task with <json>, then posts one more message nobody asked for
 *   and ends its thread while idle.
 */
import { parentPort } from 'node:worker_threads'
import '../../src/formats/decode-worker.js'

const parse = JSON.parse
JSON.parse = (text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
  const port = parentPort
  if (port && text.startsWith('crash:')) {
    // Thrown outside the task's try/catch: ticks run before the task's answer (a promise continuation).
    process.nextTick(() => {
      throw new Error(text.slice('crash:'.length).trim())
    })
    return null
  }
  if (port && text.startsWith('oom')) {
    process.nextTick(() => {
      throw Object.assign(new Error('heap limit reached'), { code: 'ERR_WORKER_OUT_OF_MEMORY' })
    })
    return null
  }
  if (port && text.startsWith('leave:')) {
    setImmediate(() => {
      port.postMessage({ ok: true, value: 'nobody asked' })
      process.exit(0)
    })
    return parse(text.slice('leave:'.length), reviver)
  }
  return parse(text, reviver)
}
