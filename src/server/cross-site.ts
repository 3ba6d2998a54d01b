/**
 * Browsers and cross-site requests. A web page the user visits can make the browser send requests
 * to lastmile: simple ones (a form, or `fetch` in `no-cors` mode with a text or blob body) go out
 * without a CORS preflight, so without this check a page could deploy, upload or score on a
 * keyless server. Browsers say where a request comes from (`Sec-Fetch-Site`, and `Origin` on
 * every POST, PUT and DELETE); clients that are not browsers (curl, tritonclient, KServe's client,
 * lastmile's own client and CLI) send neither and are not affected.
 *
 * The rule for routes that change state is Go's `http.CrossOriginProtection`: allow an origin
 * listed in the settings; else trust `Sec-Fetch-Site` when present (`same-origin` and `none` pass,
 * `same-site` and `cross-site` do not); else, for browsers too old to send it, allow `Origin`
 * only when its host is the request's `Host`; a request with neither header is not a browser's.
 *
 * A keyless server on loopback also refuses a `Host` that is a DNS name other than localhost: a
 * page at `evil.example` whose name is re-pointed at 127.0.0.1 (DNS rebinding) is same-origin in
 * the browser's eyes, but its requests still carry `Host: evil.example`.
 */
import { isIP } from 'node:net'
import { ForbiddenError } from '../errors.js'

/** What the server accepts from web pages. */
export interface BrowserPolicy {
  /** Origins (`scheme://host[:port]`) besides the server's own whose pages may change state. */
  allowedOrigins: readonly string[]
  /** Answer only a `Host` that is localhost or an IP address (a keyless server on loopback). */
  loopbackHostOnly: boolean
}

/** The parts of a request the checks read. */
export interface BrowserRequest {
  method: string
  path: string
  header(name: string): string | undefined
}

const ALLOW_SETTING = 'LASTMILE_ALLOWED_ORIGINS'

/**
 * Throw 403 for a request a browser sent from another site to a route that changes state, and,
 * under `loopbackHostOnly`, for any request naming a foreign host.
 */
export function checkBrowserRequest(req: BrowserRequest, changesState: boolean, policy: BrowserPolicy): void {
  const host = req.header('host')
  if (policy.loopbackHostOnly && host !== undefined && !isRebindingSafe(host)) {
    throw new ForbiddenError(
      `refused Host '${host}': a server without API keys on a loopback address answers only to localhost or an IP address, so that a web page cannot reach it by re-pointing its own name at this machine (DNS rebinding). Use http://127.0.0.1:<port> or http://localhost:<port>, or turn keys on (LASTMILE_AUTH=on) to serve under another name`,
    )
  }
  if (!changesState) return
  const origin = req.header('origin')
  if (origin !== undefined && policy.allowedOrigins.includes(origin)) return
  const site = req.header('sec-fetch-site')
  if (site !== undefined) {
    if (site === 'same-origin' || site === 'none') return
    throw crossSite(req, origin, `Sec-Fetch-Site: ${site}`)
  }
  if (origin === undefined) return // not a browser
  if (host !== undefined && originHost(origin) === host.toLowerCase()) return
  throw crossSite(req, origin, `Origin: ${origin}, Host: ${host ?? '(none)'}`)
}

function crossSite(req: BrowserRequest, origin: string | undefined, evidence: string): ForbiddenError {
  return new ForbiddenError(
    `refused a cross-site request: ${req.method} ${req.path} came from a web page${origin ? ` at ${origin}` : ''} (${evidence}). Routes that change state take browser requests only from this server's own origin; clients that are not browsers are not affected. To let a page served elsewhere (e.g. a console) call this server, add its origin to ${ALLOW_SETTING}`,
  )
}

/** `host[:port]` of an origin, lower case; undefined for `null` or anything malformed. */
function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host
  } catch {
    return undefined
  }
}

/** Whether a `Host` header names this machine in a way DNS cannot re-point: localhost or an IP. */
function isRebindingSafe(host: string): boolean {
  const name = host
    .toLowerCase()
    .replace(/:\d*$/, '') // the port
    .replace(/^\[(.*)\]$/, '$1') // an IPv6 literal's brackets
  return name === 'localhost' || name.endsWith('.localhost') || isIP(name) !== 0
}
