// A worker module in plain JavaScript for test/workers/start.test.ts: started as it is, no hooks.
import { parentPort, workerData } from 'node:worker_threads'

parentPort?.postMessage({ workerData, plain: true })
