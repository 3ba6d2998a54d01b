/**
 * The web console, served by the server itself on its own port: `/` is the page, `/assets/<file>`
 * its scripts and styles, as `npm run build` wrote them (Vite, into `dist/console/`). Every file is
 * read once, at start, into a table keyed by its URL path (with its gzip, sent to clients that
 * accept it): a request names an entry of that table or nothing, so no client-chosen path ever
 * reaches the file system. The page is revalidated on
 * every load (`no-cache` with an ETag); assets have content hashes in their names and are cached
 * for a year. A strict Content-Security-Policy allows only this origin's scripts and connections.
 */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import type { Context, Hono } from 'hono'

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
}

const PAGE_HEADERS = {
  'Cache-Control': 'no-cache',
  // uPlot and Preact set element styles from scripts: inline styles are allowed, inline scripts not.
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
}

interface Asset {
  body: Uint8Array
  /** The body gzipped, when that is smaller. */
  gzip?: Uint8Array
  type: string
  etag: string
}

/** The console's files by URL path. */
export type ConsoleAssets = ReadonlyMap<string, Asset>

/** The built console's folder: `dist/console` of the package this module belongs to. */
export function consoleDir(): string | undefined {
  let d = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'package.json'))) return join(d, 'dist', 'console')
    d = dirname(d)
  }
  return undefined
}

/** Every file of the built console by URL path (`/` for index.html); empty when it is not built. */
export function loadConsole(dir: string | undefined): ConsoleAssets {
  const assets = new Map<string, Asset>()
  if (!dir || !existsSync(join(dir, 'index.html'))) return assets
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const file = join(entry.parentPath, entry.name)
    const type = TYPES[extname(file)]
    if (!type) continue
    const url = `/${file
      .slice(dir.length + 1)
      .split('\\')
      .join('/')}`
    const body = readFileSync(file)
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
    const gzip = gzipSync(body, { level: 9 })
    assets.set(url === '/index.html' ? '/' : url, { body, type, etag, ...(gzip.length < body.length ? { gzip } : {}) })
  }
  return assets
}

/** The paths the console answers GET on: not API routes, so not in the route table nor `/openapi.json`. */
export const CONSOLE_PATHS = { page: '/', assets: '/assets/*' } as const

/** Register the console's page and assets on `app`, answering from `assets`. */
export function consoleRoutes(app: Hono, assets: ConsoleAssets): void {
  const page = assets.get('/')
  app.get(CONSOLE_PATHS.page, (c) => {
    if (!page) {
      return c.text(
        'The console is not built: run `npm run build` (npm start does), then restart the server. The API is served as usual.\n',
        503,
        { 'Cache-Control': 'no-store' },
      )
    }
    if (c.req.header('if-none-match') === page.etag) return c.body(null, 304, { ETag: page.etag, ...PAGE_HEADERS })
    return send(c, page, PAGE_HEADERS)
  })
  app.get(CONSOLE_PATHS.assets, (c) => {
    const asset = assets.get(c.req.path)
    if (!asset) return c.notFound()
    return send(c, asset, {
      'Cache-Control': 'public, max-age=31536000, immutable',
      'X-Content-Type-Options': 'nosniff',
    })
  })
}

/** `asset` with `headers`, gzipped when the client accepts it and that is smaller. */
function send(c: Context, asset: Asset, headers: Record<string, string>): Response {
  const gzip = asset.gzip && /\bgzip\b/.test(c.req.header('accept-encoding') ?? '') ? asset.gzip : undefined
  return c.body((gzip ?? asset.body) as Uint8Array<ArrayBuffer>, 200, {
    'Content-Type': asset.type,
    ETag: asset.etag,
    Vary: 'Accept-Encoding',
    ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
    ...headers,
  })
}
