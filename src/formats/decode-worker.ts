/**
 * A body worker (see decode-pool.ts): runs one task at a time (decode a body, encode an answer,
 * parse a JSON body, encode log frames, roll a log segment, read a page of the log) and posts back
 * its result, the result's large buffers moved rather than copied, or the error it threw.
 */
import { parentPort } from 'node:worker_threads'
import { type LogPageTask, logPage } from '../logs/log-query.js'
import { encodeFrameBytes, type OpenSegment, rollSegment } from '../logs/log-work.js'
import type { InferenceRecord } from '../logs/record.js'
import {
  type DecodeTask,
  decodeBody,
  type EncodeTask,
  encodeBody,
  parseJson,
  toWire,
  transferList,
} from './body-codec.js'

/** A message to a body worker. */
export type WorkerTask =
  | { op: 'decode'; task: DecodeTask }
  | { op: 'encode'; task: EncodeTask }
  | { op: 'json'; bytes: Uint8Array; maxValues: number; setting: string }
  | { op: 'frames'; records: InferenceRecord[] }
  | { op: 'roll'; segment: OpenSegment }
  | { op: 'page'; task: LogPageTask }

function run(message: WorkerTask): unknown {
  switch (message.op) {
    case 'decode':
      return decodeBody(message.task)
    case 'encode':
      return encodeBody(message.task, true)
    case 'json':
      return parseJson(message.bytes, message.maxValues, message.setting)
    case 'frames':
      return encodeFrameBytes(message.records)
    case 'roll':
      return rollSegment(message.segment)
    case 'page':
      return logPage(message.task)
  }
}

/** A body worker's answer: the task's result, or the error it threw. */
export type WorkerReply = { ok: true; value: unknown } | { ok: false; error: ReturnType<typeof toWire> }

const port = parentPort
if (!port) throw new Error('decode-worker.js runs as a worker thread (see decode-pool.ts)')

port.on('message', async (message: WorkerTask) => {
  let reply: WorkerReply
  try {
    reply = { ok: true, value: await run(message) }
  } catch (e) {
    reply = { ok: false, error: toWire(e) }
  }
  port.postMessage(reply, reply.ok ? transferList(reply.value) : [])
})
