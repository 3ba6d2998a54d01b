/**
 * Dawn's two limit notices, and the stderr filter that keeps them off the `lastmile` command's
 * output.
 *
 * When Dawn gathers an adapter's limits it clamps `maxDynamicUniformBuffersPerPipelineLayout` and
 * `maxDynamicStorageBuffersPerPipelineLayout` to the 16 its fixed-size tables hold and says so:
 *
 *     Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
 *
 * (Mesa's lavapipe reports 1000000, RADV 500000.) They are not a problem: lastmile's kernels and
 * onnxruntime-web use no dynamic offsets. But they come from Dawn's `NormalizeLimits` through
 * `dawn::WarningLog()`, which `fprintf`s to the process's fd 2 during `requestAdapter()`, once per
 * `create()`: no Dawn toggle, `create()` option or requested limit turns them off, and native code
 * writing to fd 2 is out of reach of anything in the process (Node cannot `dup2`). So the command
 * (bin/lastmile.js) points its own fd 2, before any Dawn code runs, at a FIFO read by a small
 * filter process (dawn-notice-filter.ts) whose output is the original stderr: it drops exactly
 * these two lines and passes every other byte through unchanged. The server keeps its process id,
 * signals and exit status; only its stderr takes one more hop. Embedders who call the library
 * directly see the two lines; they can ignore them.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** One of Dawn's limit notices, as a whole line (without its newline). */
export const DAWN_LIMIT_NOTICE =
  /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/

const PREFIX = 'Warning: maxDynamic'
/** Longer than any notice (~130 bytes): a line this long is passed on without waiting for its end. */
const MAX_LINE = 256
const NL = 0x0a

/**
 * A stream of stderr bytes without Dawn's notices: whole lines matching {@link DAWN_LIMIT_NOTICE}
 * are dropped, and so is each occurrence of `marker` (a byte sequence the command writes to learn
 * when everything before it has passed; counted), wherever it falls; every other byte passes, in
 * order. Only the start of a line that could still be a notice, or bytes that could still be the
 * start of the marker, are held; any other output goes on at once.
 */
export class NoticeLines {
  private readonly marker: Buffer
  /** Bytes at the end of the input that may be the start of the marker. */
  private pending = Buffer.alloc(0)
  /** The start of the current line, held while it may still be a notice. */
  private held = Buffer.alloc(0)

  constructor(marker = '') {
    this.marker = Buffer.from(marker, 'latin1')
  }

  /** The bytes to pass on from `chunk`, and how many markers it completed. */
  feed(chunk: Buffer): { out: Buffer; markers: number } {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk
    this.pending = Buffer.alloc(0)
    const out: Buffer[] = []
    let markers = 0
    for (;;) {
      const at = this.marker.length > 0 ? data.indexOf(this.marker) : -1
      if (at < 0) break
      out.push(this.lines(data.subarray(0, at)))
      markers++
      data = data.subarray(at + this.marker.length)
    }
    const keep = this.markerStartAtEnd(data)
    out.push(this.lines(data.subarray(0, data.length - keep)))
    this.pending = Buffer.from(data.subarray(data.length - keep))
    return { out: Buffer.concat(out), markers }
  }

  /** What is held at the end of the stream (a last line without its newline is never a notice). */
  end(): Buffer {
    const rest = Buffer.concat([this.lines(this.pending), this.held])
    this.pending = Buffer.alloc(0)
    this.held = Buffer.alloc(0)
    return rest
  }

  /** Line filtering of `bytes` (no marker in them), after what is held. */
  private lines(bytes: Buffer): Buffer {
    let data = this.held.length > 0 ? Buffer.concat([this.held, bytes]) : bytes
    this.held = Buffer.alloc(0)
    const out: Buffer[] = []
    while (data.length > 0) {
      const nl = data.indexOf(NL)
      const line = nl < 0 ? data : data.subarray(0, nl)
      const text = line.length <= MAX_LINE ? line.toString('latin1') : ''
      const mayBeNotice = text.startsWith(PREFIX) || (nl < 0 && text !== '' && PREFIX.startsWith(text))
      if (!mayBeNotice) out.push(nl < 0 ? data : data.subarray(0, nl + 1))
      else if (nl < 0) this.held = Buffer.from(data)
      else if (!DAWN_LIMIT_NOTICE.test(text)) out.push(data.subarray(0, nl + 1))
      data = nl < 0 ? Buffer.alloc(0) : data.subarray(nl + 1)
    }
    return Buffer.concat(out)
  }

  /** How many bytes at the end of `data` are a proper start of the marker. */
  private markerStartAtEnd(data: Buffer): number {
    for (let n = Math.min(this.marker.length - 1, data.length); n > 0; n--) {
      if (data.subarray(data.length - n).equals(this.marker.subarray(0, n))) return n
    }
    return 0
  }
}

/**
 * The marker a command writes to stderr to learn when the filter has passed on everything before
 * it: a random token between NUL bytes, which no text a command prints holds by chance.
 */
export function flushMarker(token: string): string {
  return `\0lastmile stderr flush ${token}\0`
}

const FILTER_SCRIPT = fileURLToPath(new URL('./dawn-notice-filter.js', import.meta.url))
/** How long the command waits for the filter process to start before going on without it. */
const FILTER_START_MS = 5000
/** How long the command waits at its end for the filter to pass on its last lines. */
const FILTER_FLUSH_MS = 5000

/**
 * Route this process's fd 2 through the notice filter (see the module comment). Call it from a
 * command's entry point only, before anything has started work (no files opening on other
 * threads, no Dawn, nothing written to stderr yet): it closes fd 2 and reopens it on the
 * filter's FIFO. Returns a `flush` that
 * resolves once the filter has passed on everything written to stderr so far (call it before the
 * command returns, so its last lines come out before it exits), or undefined when stderr is left
 * as it was (Windows, no `mkfifo`, the filter did not start in time).
 */
export function filterDawnNotices(): (() => Promise<void>) | undefined {
  if (process.platform === 'win32') return undefined
  // Open Node's stderr stream first. On a terminal, libuv gives it a descriptor of its own (it
  // reopens the tty), so JavaScript's stderr stays a TTY (progress lines redraw) and only what
  // native code writes to fd 2 goes through the filter; on a pipe or file it writes to fd 2 and
  // so through the filter too.
  if (process.stderr.fd !== 2) return undefined
  let dir: string | undefined
  try {
    dir = mkdtempSync(join(tmpdir(), 'lastmile-stderr-'))
    const fifo = join(dir, 'stderr')
    execFileSync('mkfifo', ['-m', '600', fifo], { stdio: 'ignore' })
    const token = randomBytes(16).toString('hex')
    // The filter's output is this process's stderr as it is now; it acknowledges markers over IPC.
    const filter = spawn(process.execPath, [FILTER_SCRIPT, fifo, token], { stdio: ['ignore', 2, 2, 'ipc'] })
    filter.unref()
    filter.channel?.unref()
    const probe = waitForReader(fifo)
    if (probe === undefined) {
      filter.kill()
      return undefined
    }
    // Both calls are synchronous and nothing else runs yet, so the FIFO gets the lowest free
    // descriptor: the one just closed, 2.
    closeSync(2)
    openSync(fifo, 'w')
    closeSync(probe)
    // Should the filter ever die before the command (killed on its own, the OOM killer), writes to
    // stderr fail with EPIPE: lose those lines rather than let the unhandled stream error end the
    // server. (Native writes are safe already: Node ignores SIGPIPE.)
    process.stderr.on('error', () => {})
    return () => flush(filter, flushMarker(token))
  } catch {
    return undefined
  } finally {
    // The filter holds the FIFO open; its name is no longer needed.
    if (dir) rmSync(dir, { recursive: true, force: true })
  }
}

/** Write `marker` after everything already written to stderr and wait for the filter's word. */
function flush(filter: ChildProcess, marker: string): Promise<void> {
  if (!filter.connected) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      filter.off('message', done)
      filter.off('disconnect', done)
      filter.channel?.unref()
      resolve()
    }
    const timer = setTimeout(done, FILTER_FLUSH_MS)
    filter.channel?.ref()
    filter.once('message', done)
    filter.once('disconnect', done)
    // Through fd 2 itself: on a terminal, process.stderr has a descriptor of its own.
    writeSync(2, marker)
  })
}

/** A write end of `fifo` once a reader has it open (ENXIO until then), or undefined after the wait. */
function waitForReader(fifo: string): number | undefined {
  const sleep = new Int32Array(new SharedArrayBuffer(4))
  const until = Date.now() + FILTER_START_MS
  for (;;) {
    try {
      return openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > until) return undefined
      Atomics.wait(sleep, 0, 0, 5)
    }
  }
}
