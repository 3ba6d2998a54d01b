/**
 * A body worker (see decode-pool.ts): runs one decode or encode task at a time and posts back its
 * result, the result's large buffers moved rather than copied, or the error it threw.
 */
import { parentPort } from 'node:worker_threads'
import { type DecodeTask, decodeBody, type EncodeTask, encodeBody, toWire, transferList } from './body-codec.js'

/** A message to a body worker. */
export type WorkerTask = { op: 'decode'; task: DecodeTask } | { op: 'encode'; task: EncodeTask }

/** A body worker's answer: the task's result, or the error it threw. */
export type WorkerReply = { ok: true; value: unknown } | { ok: false; error: ReturnType<typeof toWire> }

const port = parentPort
if (!port) throw new Error('decode-worker.js runs as a worker thread (see decode-pool.ts)')

port.on('message', (message: WorkerTask) => {
  let reply: WorkerReply
  try {
    const value = message.op === 'decode' ? decodeBody(message.task) : encodeBody(message.task, true)
    reply = { ok: true, value }
  } catch (e) {
    reply = { ok: false, error: toWire(e) }
  }
  port.postMessage(reply, reply.ok ? transferList(reply.value) : [])
})
