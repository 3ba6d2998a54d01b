/**
 * Which addresses an outbound call may reach. Special-purpose IPv4 and IPv6 ranges (IANA's
 * special-purpose registries) are classified by kind; IPv4 carried inside IPv6 (mapped,
 * compatible, translated, NAT64, 6to4) is judged as the IPv4 address it carries; names that mean
 * this machine or a cloud metadata service are known before any lookup. An {@link Allowlist} of
 * hosts, addresses and CIDRs opens what the policy would refuse.
 */
import { isIP } from 'node:net'
import { InvalidConfigError } from '../errors.js'

/** Why an address is not an ordinary public unicast one. */
export type AddressKind =
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'metadata'
  | 'unspecified'
  | 'multicast'
  | 'broadcast'
  | 'reserved'

/** Kinds that the allow-local setting opens; the others open only through an allowlist entry. */
export const LOCAL_KINDS: ReadonlySet<AddressKind> = new Set(['loopback', 'private', 'link-local'])

/** An address in bits: 32 for IPv4, 128 for IPv6. */
interface Ip {
  v: 4 | 6
  n: bigint
}

interface Cidr extends Ip {
  prefix: number
}

/** First match wins: single addresses before the ranges that hold them. */
const V4_RANGES: Array<[string, AddressKind, string]> = [
  ['169.254.169.254/32', 'metadata', 'the cloud metadata service (AWS, GCP, Azure, OpenStack)'],
  ['169.254.170.2/32', 'metadata', 'the AWS ECS task metadata service'],
  ['100.100.100.200/32', 'metadata', 'the Alibaba Cloud metadata service'],
  ['168.63.129.16/32', 'metadata', 'the Azure WireServer'],
  ['0.0.0.0/8', 'unspecified', '"this network" (0.0.0.0/8)'],
  ['10.0.0.0/8', 'private', 'private (10.0.0.0/8)'],
  ['100.64.0.0/10', 'private', 'carrier-grade NAT (100.64.0.0/10)'],
  ['127.0.0.0/8', 'loopback', 'loopback (127.0.0.0/8)'],
  ['169.254.0.0/16', 'link-local', 'link-local (169.254.0.0/16)'],
  ['172.16.0.0/12', 'private', 'private (172.16.0.0/12)'],
  ['192.0.0.0/24', 'reserved', 'IETF protocol assignments (192.0.0.0/24)'],
  ['192.0.2.0/24', 'reserved', 'documentation (192.0.2.0/24)'],
  ['192.88.99.0/24', 'reserved', '6to4 relay anycast (192.88.99.0/24)'],
  ['192.168.0.0/16', 'private', 'private (192.168.0.0/16)'],
  ['198.18.0.0/15', 'reserved', 'benchmarking (198.18.0.0/15)'],
  ['198.51.100.0/24', 'reserved', 'documentation (198.51.100.0/24)'],
  ['203.0.113.0/24', 'reserved', 'documentation (203.0.113.0/24)'],
  ['224.0.0.0/4', 'multicast', 'multicast (224.0.0.0/4)'],
  ['255.255.255.255/32', 'broadcast', 'broadcast (255.255.255.255)'],
  ['240.0.0.0/4', 'reserved', 'reserved (240.0.0.0/4)'],
]

const V6_RANGES: Array<[string, AddressKind, string]> = [
  ['::/128', 'unspecified', 'unspecified (::)'],
  ['::1/128', 'loopback', 'loopback (::1)'],
  ['fd00:ec2::254/128', 'metadata', 'the AWS metadata service (IPv6)'],
  ['fc00::/7', 'private', 'unique local (fc00::/7)'],
  ['fe80::/10', 'link-local', 'link-local (fe80::/10)'],
  ['fec0::/10', 'private', 'site-local (fec0::/10)'],
  ['ff00::/8', 'multicast', 'multicast (ff00::/8)'],
  ['100::/64', 'reserved', 'discard-only (100::/64)'],
  ['2001::/23', 'reserved', 'IETF protocol assignments, Teredo included (2001::/23)'],
  ['2001:db8::/32', 'reserved', 'documentation (2001:db8::/32)'],
  ['3fff::/20', 'reserved', 'documentation (3fff::/20)'],
  ['5f00::/16', 'reserved', 'segment routing (5f00::/16)'],
]

/** Only global unicast IPv6 (2000::/3) is public; anything else not named above is reserved. */
const V6_GLOBAL = cidr('2000::/3')

const V4 = V4_RANGES.map(([c, kind, label]) => ({ cidr: cidr(c), kind, label }))
const V6 = V6_RANGES.map(([c, kind, label]) => ({ cidr: cidr(c), kind, label }))

/** Names of this machine or of metadata services, refused before any lookup. */
const METADATA_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
])

/** A refused address or name: its kind and a phrase for messages. */
export interface Classification {
  kind: AddressKind
  label: string
}

/** Lower case, no trailing dot, no IPv6 brackets: the form names and addresses are compared in. */
export function normalizeHost(host: string): string {
  const h = host.toLowerCase().replace(/\.$/, '')
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h
}

/** A host name that means this machine or a metadata service, whatever it resolves to. */
export function classifyName(host: string): Classification | undefined {
  const h = normalizeHost(host)
  if (h === 'localhost' || h.endsWith('.localhost')) return { kind: 'loopback', label: `'${h}' names this machine` }
  if (METADATA_NAMES.has(h)) return { kind: 'metadata', label: `'${h}' names a cloud metadata service` }
  return undefined
}

/** Why an IP address is not public unicast, or undefined when it is. */
export function classifyAddress(address: string): Classification | undefined {
  const ip = parseIp(address)
  if (!ip) return { kind: 'reserved', label: `'${address}' is not an IP address` }
  if (ip.v === 4) return classifyV4(ip.n)
  const carried = embeddedV4(ip.n)
  if (carried) {
    const c = classifyV4(carried.n)
    return c && { kind: c.kind, label: `${c.label}, as ${carried.form}` }
  }
  const hit = V6.find((r) => contains(r.cidr, ip))
  if (hit) return { kind: hit.kind, label: hit.label }
  return contains(V6_GLOBAL, ip) ? undefined : { kind: 'reserved', label: 'reserved (outside global unicast 2000::/3)' }
}

function classifyV4(n: bigint): Classification | undefined {
  const hit = V4.find((r) => contains(r.cidr, { v: 4, n }))
  return hit && { kind: hit.kind, label: hit.label }
}

/** The IPv4 address an IPv6 address carries, in the forms that route to it. */
function embeddedV4(n: bigint): { n: bigint; form: string } | undefined {
  const low32 = n & 0xffff_ffffn
  const high96 = n >> 32n
  if (high96 === 0xffffn) return { n: low32, form: 'IPv4-mapped IPv6' }
  if (high96 === 0xffff_0000n) return { n: low32, form: 'IPv4-translated IPv6' }
  // ::/96 minus :: and ::1 (classified as themselves): the deprecated IPv4-compatible form.
  if (high96 === 0n && low32 > 1n) return { n: low32, form: 'IPv4-compatible IPv6' }
  if (high96 === 0x0064_ff9b_0000_0000_0000_0000n) return { n: low32, form: 'NAT64 (64:ff9b::/96)' }
  if (n >> 112n === 0x2002n) return { n: (n >> 80n) & 0xffff_ffffn, form: '6to4 (2002::/16)' }
  return undefined
}

function contains(c: Cidr, ip: Ip): boolean {
  if (c.v !== ip.v) return false
  const shift = BigInt((c.v === 4 ? 32 : 128) - c.prefix)
  return ip.n >> shift === c.n >> shift
}

/** A dotted-quad IPv4 or an IPv6 address (zone index dropped), or undefined. */
function parseIp(address: string): Ip | undefined {
  const a = normalizeHost(address).replace(/%.*$/, '')
  const v = isIP(a)
  if (v === 4) return { v: 4, n: v4Bits(a) }
  if (v === 6) return { v: 6, n: v6Bits(a) }
  return undefined
}

function v4Bits(a: string): bigint {
  return a.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n)
}

/** Bits of an IPv6 address that `isIP` accepted (`::` runs, a dotted-quad tail). */
function v6Bits(a: string): bigint {
  let s = a
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s)
  if (dotted) {
    const v4 = v4Bits(dotted[1] as string)
    s = `${s.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`
  }
  const [head = '', tail] = s.split('::')
  const words = (part: string) => (part === '' ? [] : part.split(':'))
  const h = words(head)
  const t = tail === undefined ? [] : words(tail)
  const all = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t]
  return all.reduce((acc, w) => (acc << 16n) | BigInt(Number.parseInt(w, 16)), 0n)
}

function cidr(text: string): Cidr {
  const [addr = '', bits] = text.split('/')
  const ip = parseIp(addr)
  const max = ip?.v === 4 ? 32 : 128
  const prefix = bits === undefined ? max : Number(bits)
  if (!ip || !/^\d+$/.test(bits ?? String(max)) || prefix > max) {
    throw new InvalidConfigError(
      `'${text}' is not an address or CIDR range: use e.g. 10.0.0.0/8, 192.168.1.20 or fd00::/8`,
    )
  }
  return { ...ip, prefix }
}

/**
 * Hosts and ranges the operator opened: `hooks.internal` (that name, whatever it resolves to),
 * `*.corp.example` (names under it), `192.168.1.20`, `10.0.0.0/8`, `fd00::/8`.
 */
export class Allowlist {
  private readonly names = new Set<string>()
  private readonly suffixes: string[] = []
  private readonly ranges: Cidr[] = []

  /** Throws InvalidConfigError naming an entry that is neither a host name nor an address or range. */
  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const e = normalizeHost(raw.trim())
      if (e === '') continue
      if (e.startsWith('*.')) this.suffixes.push(e.slice(1))
      else if (e.includes('/') || isIP(e) !== 0) this.ranges.push(cidr(e))
      else if (/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(e)) this.names.add(e)
      else throw new InvalidConfigError(`outbound allowlist entry '${raw}' is not a host name, address or CIDR range`)
    }
  }

  /** Whether the host name was opened (then every address it resolves to is allowed). */
  allowsName(host: string): boolean {
    const h = normalizeHost(host)
    return this.names.has(h) || this.suffixes.some((s) => h.endsWith(s))
  }

  /** Whether the address falls in an opened range (IPv4 carried in IPv6 counts as that IPv4). */
  allowsAddress(address: string): boolean {
    const ip = parseIp(address)
    if (!ip) return false
    const carried = ip.v === 6 ? embeddedV4(ip.n) : undefined
    return this.ranges.some((r) => contains(r, ip) || (carried !== undefined && contains(r, { v: 4, n: carried.n })))
  }
}
