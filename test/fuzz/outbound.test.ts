/**
 * Fuzzing the outbound policy's address decoding: any IPv4 address, however it is spelt in a URL
 * (dotted, one decimal or hex number, IPv4-mapped, -translated or NAT64 IPv6), is refused exactly
 * when an independent reading of the special-purpose ranges says so, and every spelling gets the
 * same verdict; random IPv6 addresses get the same verdict compressed and expanded; arbitrary
 * strings as URLs only ever end in a refusal or an invalid-setting error, never a crash, and no
 * literal address is looked up in DNS.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InvalidConfigError, OutboundRefusedError } from '../../src/errors.js'
import { OutboundPolicy, type Resolver } from '../../src/outbound/policy.js'
import { CASE_TIMEOUT_MS, fuzzParams } from './budget.js'

const asked: string[] = []
const publicDns: Resolver = async (host) => {
  asked.push(host)
  return [{ address: '93.184.215.14', family: 4 }]
}
const policy = new OutboundPolicy(
  { allowLocal: false, allowlist: [], connectTimeoutMs: 1000, responseTimeoutMs: 1000, maxResponseBytes: 1024 },
  publicDns,
)

/** Refused IPv4, read straight from RFC 6890 / IANA's registry (not from the code under test). */
function refusedV4(a: number, b: number, c: number, d: number): boolean {
  if (a === 0 || a === 10 || a === 127 || a >= 224) return true // this network, private, loopback, multicast, 240/4, broadcast
  if (a === 100 && b >= 64 && b <= 127) return true // CGNAT
  if (a === 169 && b === 254) return true // link-local (metadata inside)
  if (a === 172 && b >= 16 && b <= 31) return true
  if (a === 192 && b === 168) return true
  if (a === 192 && b === 0 && (c === 0 || c === 2)) return true // IETF protocol assignments, TEST-NET-1
  if (a === 192 && b === 88 && c === 99) return true // 6to4 relay
  if (a === 198 && (b === 18 || b === 19)) return true // benchmarking
  if (a === 198 && b === 51 && c === 100) return true // TEST-NET-2
  if (a === 203 && b === 0 && c === 113) return true // TEST-NET-3
  if (a === 100 && b === 100 && c === 100 && d === 200) return true // Alibaba metadata
  if (a === 168 && b === 63 && c === 129 && d === 16) return true // Azure WireServer
  return false
}

async function verdict(url: string): Promise<'allowed' | 'refused'> {
  try {
    await policy.check(url)
    return 'allowed'
  } catch (e) {
    if (e instanceof OutboundRefusedError) return 'refused'
    throw e
  }
}

const hex = (n: number, w: number) => n.toString(16).padStart(w, '0')

/** IPv4 addresses, often from the special ranges' first octets. */
const ipv4 = fc.tuple(
  fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 10, 100, 127, 168, 169, 172, 192, 198, 203, 224, 255)),
  fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 16, 31, 32, 51, 63, 64, 88, 100, 127, 168, 254)),
  fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 2, 99, 100, 113, 129, 169)),
  fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 1, 16, 200, 254, 255)),
)

describe('fuzz: outbound policy', () => {
  it(
    'refuses an IPv4 address exactly in the special ranges, whatever its spelling',
    async () => {
      await fc.assert(
        fc.asyncProperty(ipv4, async ([a, b, c, d]) => {
          const n = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0
          const dotted = `${a}.${b}.${c}.${d}`
          const hi = hex((n >>> 16) & 0xffff, 4)
          const lo = hex(n & 0xffff, 4)
          const want = refusedV4(a, b, c, d) ? 'refused' : 'allowed'
          for (const url of [
            `http://${dotted}/`,
            `http://${n}/`,
            `http://0x${hex(n, 8)}:8080/x`,
            `http://[::ffff:${dotted}]/`,
            `http://[::ffff:${hi}:${lo}]/`,
            `http://[::ffff:0:${dotted}]/`,
            `http://[64:ff9b::${hi}:${lo}]/`,
            `https://[2002:${hi}:${lo}::1]/`,
          ]) {
            expect(await verdict(url), url).toBe(want)
          }
        }),
        fuzzParams(300),
      )
      expect(asked).toEqual([]) // literals are never looked up
    },
    CASE_TIMEOUT_MS * 4,
  )

  it(
    'gives an IPv6 address the same verdict compressed and fully written out',
    async () => {
      const word = fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(0, 1, 0xffff, 0xfe80, 0xfc00, 0x2001))
      await fc.assert(
        fc.asyncProperty(fc.array(word, { minLength: 8, maxLength: 8 }), async (words) => {
          const full = words.map((w) => hex(w, 4)).join(':')
          const short = new URL(`http://[${full}]/`).hostname // the URL parser's compressed form
          expect(await verdict(`http://[${full}]/`)).toBe(await verdict(`http://${short}/`))
          // Outside global unicast (2000::/3) nothing is public.
          if ((words[0] as number) >> 13 !== 1 && !(words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff)) {
            expect(await verdict(`http://${short}/`), short).toBe('refused')
          }
        }),
        fuzzParams(300),
      )
    },
    CASE_TIMEOUT_MS * 4,
  )

  it(
    'ends arbitrary URL strings in a refusal or an invalid-setting error, never a crash',
    async () => {
      const urlish = fc.oneof(
        fc.webUrl({ withQueryParameters: true, withFragments: true }),
        fc.string({ maxLength: 80 }),
        fc
          .tuple(
            fc.constantFrom('http://', 'https://', 'ftp://', 'file://', 'gopher://', 'HTTP://', 'http:/', ''),
            fc.string({ maxLength: 40 }),
          )
          .map(([scheme, rest]) => scheme + rest),
      )
      await fc.assert(
        fc.asyncProperty(urlish, async (url) => {
          try {
            const t = await policy.check(url)
            expect(['http:', 'https:']).toContain(t.url.protocol)
            expect(t.addresses.length).toBeGreaterThan(0)
          } catch (e) {
            expect(e, String(e)).toBeInstanceOf(InvalidConfigError) // OutboundRefusedError is one too
          }
        }),
        fuzzParams(500),
      )
    },
    CASE_TIMEOUT_MS * 4,
  )
})
