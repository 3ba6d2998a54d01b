/**
 * A worker module in TypeScript for test/workers/start.test.ts: it imports another TypeScript
 * module by its `.js` name, as src/ does, and answers with its workerData, its heap limit and a
 * value computed by that module.
 */
import { parentPort, resourceLimits, workerData } from 'node:worker_threads'
import { elementCount } from '../../src/engine/tensor.js'

const typed: number = elementCount([2, 3, 4])
parentPort?.postMessage({ workerData, heapMb: resourceLimits.maxOldGenerationSizeMb, typed })
