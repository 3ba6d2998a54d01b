/**
 * The one policy every outbound call goes through (webhooks today). http and https only; a name
 * is resolved once and every address it resolves to is checked, then the connection is made to
 * a checked address (the lookup handed to the socket answers from that check, so DNS cannot
 * change between check and connect); loopback, private, link-local, metadata, unspecified,
 * multicast, broadcast and reserved addresses are refused unless the operator opened them (the
 * allow-local setting opens loopback, private and link-local, as GitLab's "allow requests to the
 * local network"; allowlist entries open hosts and ranges of any kind). Redirects are never
 * followed; connect and response have deadlines and the response body read is bounded.
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import { errorMessage, InvalidConfigError, OutboundRefusedError } from '../errors.js'
import { type AddressKind, Allowlist, classifyAddress, classifyName, LOCAL_KINDS, normalizeHost } from './addresses.js'

export interface OutboundSettings {
  /** Allow loopback, private and link-local addresses (off: refused). */
  allowLocal: boolean
  /** Host names (`*.suffix` too), addresses and CIDR ranges allowed whatever their kind. */
  allowlist: readonly string[]
  /** Deadline for resolving the name and opening the TCP connection, in ms. */
  connectTimeoutMs: number
  /** Deadline for the whole answer (status, headers and body), in ms. */
  responseTimeoutMs: number
  /** Response body bytes read at most; the rest is not read. */
  maxResponseBytes: number
}

export interface ResolvedAddress {
  address: string
  family: 4 | 6
}

/** Every address a name resolves to (tests inject one to play DNS). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>

/** The system resolver (getaddrinfo: /etc/hosts and DNS, what a plain connect would use). */
const systemResolver: Resolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }))

/** A URL the policy allows now, with the addresses a connection to it may use. */
export interface CheckedTarget {
  url: URL
  addresses: ResolvedAddress[]
}

export interface OutboundRequest {
  method: string
  headers?: Record<string, string>
  body?: string | Uint8Array
}

export interface OutboundResponse {
  status: number
  /** The `Location` of a 3xx (never followed). */
  location?: string
  /** At most `maxResponseBytes` of the body. */
  body: Uint8Array
  /** Whether the body was longer than what was read. */
  truncated: boolean
}

export class OutboundPolicy {
  private readonly allowlist: Allowlist

  /** Throws InvalidConfigError for an allowlist entry that is not a host, address or range. */
  constructor(
    private readonly settings: OutboundSettings,
    private readonly resolve: Resolver = systemResolver,
  ) {
    this.allowlist = new Allowlist(settings.allowlist)
  }

  /**
   * Parse, resolve and check `url`. Throws {@link OutboundRefusedError} (naming the URL and the
   * reason) when the policy refuses it, and InvalidConfigError when the name does not resolve.
   */
  async check(url: string): Promise<CheckedTarget> {
    let u: URL
    try {
      u = new URL(url)
    } catch {
      throw new OutboundRefusedError(url, 'it is not a URL')
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new OutboundRefusedError(url, `scheme '${u.protocol.replace(/:$/, '')}' is not allowed: use http or https`)
    }
    const host = normalizeHost(u.hostname)
    const named = this.allowlist.allowsName(host)
    const byName = named ? undefined : classifyName(host)
    if (byName) this.judge(url, byName.kind, byName.label)
    let addresses: ResolvedAddress[]
    const literal = literalAddress(host)
    if (literal) addresses = [literal]
    else {
      addresses = await this.lookup(url, host)
      if (addresses.length === 0) throw new InvalidConfigError(`'${url}': host '${host}' resolves to no address`)
    }
    if (!named) {
      for (const a of addresses) {
        if (this.allowlist.allowsAddress(a.address)) continue
        const c = classifyAddress(a.address)
        if (!c) continue
        const subject = literal ? a.address : `'${host}' resolves to ${a.address}, which`
        this.judge(url, c.kind, `${subject} is ${c.label}`)
      }
    }
    return { url: u, addresses }
  }

  /**
   * Check `url` and send one request to a checked address. Never follows a redirect: a 3xx comes
   * back with its `location`. Rejects with OutboundRefusedError (not worth retrying), or with
   * another error for a connection or timeout failure (worth retrying).
   */
  async send(url: string, req: OutboundRequest): Promise<OutboundResponse> {
    const target = await this.check(url)
    const { connectTimeoutMs, responseTimeoutMs, maxResponseBytes } = this.settings
    const body = typeof req.body === 'string' ? Buffer.from(req.body) : req.body
    return new Promise<OutboundResponse>((resolve, reject) => {
      const client = target.url.protocol === 'https:' ? https : http
      const r = client.request(target.url, {
        method: req.method,
        headers: { ...req.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        agent: false, // a fresh socket to the address just checked, never a pooled one
        lookup: pinnedLookup(target.addresses),
      })
      const fail = (e: Error) => {
        clearTimeout(connectTimer)
        clearTimeout(responseTimer)
        reject(e)
      }
      const connectTimer = setTimeout(
        () => r.destroy(new Error(`no connection to ${target.url.host} within ${connectTimeoutMs} ms`)),
        connectTimeoutMs,
      )
      const responseTimer = setTimeout(
        () => r.destroy(new Error(`no complete answer from ${target.url.host} within ${responseTimeoutMs} ms`)),
        responseTimeoutMs,
      )
      r.on('socket', (s) => s.once('connect', () => clearTimeout(connectTimer)))
      r.on('error', fail)
      r.on('response', (res) => {
        const chunks: Buffer[] = []
        let read = 0
        let truncated = false
        const done = () => {
          clearTimeout(connectTimer)
          clearTimeout(responseTimer)
          const location = res.headers.location
          resolve({
            status: res.statusCode ?? 0,
            ...(location !== undefined ? { location } : {}),
            body: new Uint8Array(Buffer.concat(chunks)),
            truncated,
          })
        }
        res.on('data', (chunk: Buffer) => {
          if (truncated) return
          const room = maxResponseBytes - read
          if (chunk.length > room) {
            chunks.push(chunk.subarray(0, room))
            read = maxResponseBytes
            truncated = true
            res.destroy() // the rest is not read
            done()
            return
          }
          chunks.push(chunk)
          read += chunk.length
        })
        res.on('end', () => {
          if (!truncated) done()
        })
        res.on('error', (e) => {
          if (!truncated) fail(e)
        })
      })
      r.end(body)
    })
  }

  /** Refuse unless a setting opens this kind of address. */
  private judge(url: string, kind: AddressKind, reason: string): void {
    if (LOCAL_KINDS.has(kind) && this.settings.allowLocal) return
    const how = LOCAL_KINDS.has(kind)
      ? 'set LASTMILE_OUTBOUND_ALLOW_LOCAL=true or add it to LASTMILE_OUTBOUND_ALLOWLIST to allow it'
      : 'only an entry in LASTMILE_OUTBOUND_ALLOWLIST allows it'
    throw new OutboundRefusedError(url, `${reason}; ${how}`)
  }

  private async lookup(url: string, host: string): Promise<ResolvedAddress[]> {
    const ms = this.settings.connectTimeoutMs
    let timer: NodeJS.Timeout | undefined
    try {
      return await Promise.race([
        this.resolve(host),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
        }),
      ])
    } catch (e) {
      throw new InvalidConfigError(`'${url}': host '${host}' does not resolve (${errorMessage(e)})`)
    } finally {
      clearTimeout(timer)
    }
  }
}

/** An IP-literal host is its own single address (the socket connects to it without a lookup). */
function literalAddress(host: string): ResolvedAddress | undefined {
  if (/^[\d.]+$/.test(host)) return { address: host, family: 4 }
  if (host.includes(':')) return { address: host, family: 6 }
  return undefined
}

/** A `lookup` for the socket that answers with the checked addresses instead of asking DNS again. */
function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const first = addresses[0] as ResolvedAddress
    if ((options as { all?: boolean }).all) (callback as (e: null, a: ResolvedAddress[]) => void)(null, addresses)
    else callback(null, first.address, first.family)
  }
}
