/**
 * The stderr filter process of the `lastmile` command (see dawn-notices.ts): reads the FIFO named
 * by its first argument and writes it to its own stdout, the command's original stderr, without
 * Dawn's two limit notices; for each flush marker made from its second argument (dropped too) it
 * answers over IPC once everything before it is written. It ignores the signals meant
 * for the command (Ctrl-C reaches the whole process group), so the command's last lines still come
 * through, and ends when the command closes its stderr, at exit or death.
 */
import { createReadStream } from 'node:fs'
import { flushMarker, NoticeLines } from './dawn-notices.js'

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {})
process.channel?.unref()

const [fifo, token] = process.argv.slice(2)
const write = (b: Buffer) =>
  new Promise<void>((resolve, reject) => {
    if (b.length === 0) return resolve()
    process.stdout.write(b, (e) => (e ? reject(e) : resolve()))
  })

try {
  const lines = new NoticeLines(token ? flushMarker(token) : '')
  for await (const chunk of createReadStream(fifo as string)) {
    const { out, markers } = lines.feed(chunk as Buffer)
    await write(out)
    if (markers > 0 && process.connected) process.send?.('flushed', undefined, undefined, () => {})
  }
  await write(lines.end())
} catch {
  // The reader of the command's stderr went away: nothing is left to pass on to.
}
