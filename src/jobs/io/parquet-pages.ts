/**
 * A row group's page headers, checked before parquet-wasm decodes it: the decoder allocates (and
 * zero-fills) each page's claimed uncompressed size, up to 2 GiB from a few bytes of file, and
 * trusts each page's compressed size to find the next. Here every page of every column chunk must
 * lie inside its chunk and claim at most MAX_PAGE_BYTES. Headers are read through a window of the
 * file, so a chunk of many tiny pages costs reads of the window, not one read per page.
 */
import type { FileHandle } from 'node:fs/promises'
import { InvalidRequestError } from '../../errors.js'
import type { ChunkRange } from './parquet-footer.js'
import { CompactReader, EndOfBytes, T } from './thrift-compact.js'

/** Largest page, uncompressed (writers default to 1 MiB pages; dictionaries stay far below this). */
const MAX_PAGE_BYTES = 256 * 2 ** 20
/** Largest page header (statistics included). */
const MAX_HEADER_BYTES = 16 * 2 ** 20
/** Pages per column chunk: more is a file built to be slow, not data. */
const MAX_PAGES = 1_000_000
/** Bytes read at a time while walking headers. */
const WINDOW = 64 * 1024

/** Checks every page header of `chunks` (row group `group` of the file `name`). */
export async function checkPages(handle: FileHandle, chunks: ChunkRange[], group: number, name: string): Promise<void> {
  for (const chunk of chunks) {
    const where = `row group ${group}, column '${chunk.column}'`
    const bad = (what: string) => new InvalidRequestError(`'${name}' is not a valid Parquet file: ${where}: ${what}`)
    const end = chunk.start + chunk.bytes
    let window = Buffer.alloc(0)
    let windowAt = 0
    let pages = 0
    for (let at = chunk.start; at < end; ) {
      if (++pages > MAX_PAGES) throw bad(`more than ${MAX_PAGES} pages`)
      let header: { bytes: number; uncompressed: number; compressed: number } | undefined
      for (let want = WINDOW; !header; ) {
        // A first try needs only the header's first byte in the window; a header cut short there is read again.
        // Stryker disable next-line MethodExpression: on a retry the window falls short of both at + want and the chunk's end (else the error was final): min or max, it is read again
        const need = want === WINDOW ? at + 1 : Math.min(at + want, end)
        if (at < windowAt || windowAt + window.length < need) {
          windowAt = at
          window = Buffer.alloc(Math.min(want, end - at))
          await handle.read(window, 0, window.length, at)
        }
        try {
          header = pageHeader(window.subarray(at - windowAt))
        } catch (e) {
          if (!(e instanceof RangeError)) throw e
          const whole = windowAt + window.length >= end || want >= MAX_HEADER_BYTES
          if (!(e instanceof EndOfBytes) || whole) throw bad(`the page header at byte ${at} is damaged: ${e.message}`)
          want = Math.min(MAX_HEADER_BYTES, 16 * Math.max(want, windowAt + window.length - at))
        }
      }
      const { bytes, uncompressed, compressed } = header
      if (compressed < 0 || at + bytes + compressed > end)
        throw bad(`the page at byte ${at} claims ${compressed} bytes; its column chunk ends at byte ${end}`)
      if (uncompressed < 0 || uncompressed > MAX_PAGE_BYTES)
        throw bad(
          `the page at byte ${at} claims ${uncompressed} bytes uncompressed; lastmile reads pages of up to ${MAX_PAGE_BYTES}`,
        )
      at += bytes + compressed
    }
  }
}

/** PageHeader: 2 uncompressed_page_size, 3 compressed_page_size (parquet.thrift); its own length. */
function pageHeader(bytes: Uint8Array): { bytes: number; uncompressed: number; compressed: number } {
  const r = new CompactReader(bytes)
  let uncompressed: number | undefined
  let compressed: number | undefined
  r.struct((id, type) => {
    if (id === 2 && type === T.I32) uncompressed = r.int(type)
    else if (id === 3 && type === T.I32) compressed = r.int(type)
    else return false
    return true
  })
  if (uncompressed === undefined || compressed === undefined) throw new RangeError('it has no page sizes')
  return { bytes: r.position, uncompressed, compressed }
}
