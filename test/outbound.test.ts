/**
 * The outbound policy on its own: which URLs it refuses and why (odd IP spellings, IPv4 inside
 * IPv6, names of this machine and of metadata services, names that resolve to refused
 * addresses), what the allow-local setting and the allowlist open, that the connection goes to
 * the address that was checked (DNS asked once), that redirects come back unfollowed, and that
 * answers are bounded in time and size. Against real local HTTP servers.
 */
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidConfigError, OutboundRefusedError } from '../src/errors.js'
import { OutboundPolicy, type OutboundSettings, type Resolver } from '../src/outbound/policy.js'

const settings = (over: Partial<OutboundSettings> = {}): OutboundSettings => ({
  allowLocal: false,
  allowlist: [],
  connectTimeoutMs: 5000,
  responseTimeoutMs: 10_000,
  maxResponseBytes: 64 * 1024,
  ...over,
})

/** A DNS stand-in: each name answers its list of addresses in turn (the last one repeats), and counts questions. */
function fakeDns(answers: Record<string, string[][]>) {
  const asked: string[] = []
  const resolve: Resolver = async (host) => {
    asked.push(host)
    const turns = answers[host]
    if (!turns) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
    const i = asked.filter((h) => h === host).length - 1
    const list = turns[Math.min(i, turns.length - 1)] as string[]
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  }
  return { resolve, asked }
}

async function refusal(p: OutboundPolicy, url: string): Promise<OutboundRefusedError> {
  const e = await p.check(url).then(
    () => undefined,
    (x: unknown) => x,
  )
  expect(e, url).toBeInstanceOf(OutboundRefusedError)
  return e as OutboundRefusedError
}

describe('outbound policy: what it refuses', () => {
  const dns = fakeDns({
    'public.example.test': [['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c']],
    'intranet.example.test': [['10.0.0.7']],
    'mixed.example.test': [['93.184.215.14', '192.168.7.7']],
    'v6private.example.test': [['fd12:3456::9']],
  })
  const p = new OutboundPolicy(settings(), dns.resolve)

  // [url, kind of address the reason must name]
  const refused: Array<[string, RegExp]> = [
    ['ftp://public.example.test/x', /scheme 'ftp' is not allowed/],
    ['file:///etc/passwd', /scheme 'file' is not allowed/],
    ['gopher://public.example.test:70/_x', /scheme 'gopher'/],
    ['http://127.0.0.1/', /127\.0\.0\.1 is loopback \(127\.0\.0\.0\/8\)/],
    ['http://2130706433/', /127\.0\.0\.1 is loopback/],
    ['http://0x7f.1/', /127\.0\.0\.1 is loopback/],
    ['http://127.1/', /127\.0\.0\.1 is loopback/],
    ['http://0177.0.0.1:8080/', /127\.0\.0\.1 is loopback/],
    ['http://127.254.3.9/', /loopback/],
    ['http://[::1]/', /::1 is loopback \(::1\)/],
    ['http://[::ffff:7f00:1]/', /loopback \(127\.0\.0\.0\/8\), as IPv4-mapped IPv6/],
    ['http://[::ffff:127.0.0.1]/', /loopback \(127\.0\.0\.0\/8\), as IPv4-mapped IPv6/],
    ['http://[::127.0.0.1]/', /loopback \(127\.0\.0\.0\/8\), as IPv4-compatible IPv6/],
    ['http://[::ffff:0:7f00:1]/', /loopback \(127\.0\.0\.0\/8\), as IPv4-translated IPv6/],
    ['http://[64:ff9b::a00:1]/', /private \(10\.0\.0\.0\/8\), as NAT64/],
    ['http://localhost:8080/', /'localhost' names this machine/],
    ['http://LOCALHOST./', /'localhost' names this machine/],
    ['http://api.localhost/', /'api\.localhost' names this machine/],
    ['http://10.1.2.3/', /private \(10\.0\.0\.0\/8\)/],
    ['http://172.31.255.1/', /private \(172\.16\.0\.0\/12\)/],
    ['http://192.168.1.1/', /private \(192\.168\.0\.0\/16\)/],
    ['http://100.64.0.1/', /carrier-grade NAT/],
    ['http://[fc00::1]/', /unique local/],
    ['http://[fd12:3456::1]/', /unique local/],
    ['http://169.254.1.1/', /link-local \(169\.254\.0\.0\/16\)/],
    ['http://[fe80::1]/', /link-local \(fe80::\/10\)/],
    ['http://169.254.169.254/latest/meta-data/', /cloud metadata service/],
    ['http://[fd00:ec2::254]/', /AWS metadata service \(IPv6\)/],
    ['http://[::ffff:a9fe:a9fe]/', /cloud metadata service.*IPv4-mapped/],
    ['http://[2002:a9fe:a9fe::1]/', /cloud metadata service.*6to4/],
    ['http://metadata.google.internal/computeMetadata/v1/', /names a cloud metadata service/],
    ['http://metadata/', /names a cloud metadata service/],
    ['http://0.0.0.0:8080/', /"this network"/],
    ['http://0/', /"this network"/],
    ['http://[::]/', /unspecified \(::\)/],
    ['http://224.0.0.1/', /multicast \(224\.0\.0\.0\/4\)/],
    ['http://[ff02::1]/', /multicast \(ff00::\/8\)/],
    ['http://255.255.255.255/', /broadcast/],
    ['http://240.0.0.1/', /reserved \(240\.0\.0\.0\/4\)/],
    ['http://192.0.2.10/', /documentation/],
    ['http://198.18.0.1/', /benchmarking/],
    ['http://[2001:db8::1]/', /documentation \(2001:db8::\/32\)/],
    ['http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', /Teredo/],
    ['http://intranet.example.test/', /'intranet\.example\.test' resolves to 10\.0\.0\.7, which is private/],
    ['http://mixed.example.test/', /resolves to 192\.168\.7\.7, which is private/],
    ['http://v6private.example.test/', /resolves to fd12:3456::9, which is unique local/],
  ]
  for (const [url, reason] of refused) {
    it(`refuses ${url}`, async () => {
      const e = await refusal(p, url)
      expect(e.reason).toMatch(reason)
      expect(e.url).toBe(url)
      expect(e.message).toContain(url)
    })
  }

  it('says which setting opens what it refused', async () => {
    expect((await refusal(p, 'http://10.1.2.3/')).reason).toMatch(/LASTMILE_OUTBOUND_ALLOW_LOCAL=true/)
    expect((await refusal(p, 'http://169.254.169.254/')).reason).toMatch(/only an entry in LASTMILE_OUTBOUND_ALLOWLIST/)
  })

  it('allows public addresses and names, by literal or by resolving', async () => {
    for (const url of ['http://8.8.8.8/', 'https://[2606:4700:4700::1111]/x', 'http://[::ffff:808:808]/']) {
      await expect(p.check(url), url).resolves.toMatchObject({ addresses: [expect.any(Object)] })
    }
    const t = await p.check('https://public.example.test/hook')
    expect(t.addresses.map((a) => a.address)).toEqual(['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'])
  })

  it('refuses a name that does not resolve as an invalid setting, not as a policy refusal', async () => {
    const e = await p.check('http://nowhere.example.test/').catch((x: unknown) => x)
    expect(e).toBeInstanceOf(InvalidConfigError)
    expect(e).not.toBeInstanceOf(OutboundRefusedError)
    expect((e as Error).message).toMatch(/'nowhere\.example\.test' does not resolve \(getaddrinfo ENOTFOUND/)
  })

  it('gives up on a resolver that does not answer within the connect deadline', async () => {
    const slow = new OutboundPolicy(settings({ connectTimeoutMs: 200 }), () => new Promise(() => undefined))
    await expect(slow.check('http://slow.example.test/')).rejects.toThrow(
      /does not resolve \(no answer within 200 ms\)/,
    )
  })
})

describe('outbound policy: what the settings open', () => {
  const dns = fakeDns({
    'hooks.corp.test': [['10.20.0.5']],
    'a.hooks.corp.test': [['10.20.0.6']],
    'metadata.google.internal': [['169.254.169.254']],
    'rebind.example.test': [['10.9.9.9']],
    localhost: [['127.0.0.1', '::1']],
  })

  it('allow-local opens loopback, private and link-local but not metadata, multicast or reserved', async () => {
    const p = new OutboundPolicy(settings({ allowLocal: true }), dns.resolve)
    for (const url of [
      'http://127.0.0.1:9/',
      'http://[::1]/',
      'http://localhost/',
      'http://10.1.2.3/',
      'http://hooks.corp.test/',
      'http://169.254.1.1/',
      'http://[fd12::1]/',
    ]) {
      await expect(p.check(url), url).resolves.toBeDefined()
    }
    for (const url of [
      'http://169.254.169.254/',
      'http://[fd00:ec2::254]/',
      'http://metadata.google.internal/',
      'http://224.0.0.1/',
      'http://0.0.0.0/',
      'http://240.0.0.1/',
    ]) {
      await refusal(p, url)
    }
  })

  it('allowlist entries open a CIDR range, one address, a name and names under a suffix', async () => {
    const p = new OutboundPolicy(
      settings({ allowlist: ['127.0.0.0/8', '169.254.169.254', 'hooks.corp.test', '*.hooks.corp.test', 'fd00::/8'] }),
      dns.resolve,
    )
    await expect(p.check('http://127.0.0.1:9/')).resolves.toBeDefined()
    await expect(p.check('http://[::ffff:127.0.0.2]/')).resolves.toBeDefined() // IPv4 inside IPv6 counts as IPv4
    await expect(p.check('http://169.254.169.254/')).resolves.toBeDefined()
    await expect(p.check('http://hooks.corp.test/')).resolves.toBeDefined()
    await expect(p.check('http://a.hooks.corp.test/')).resolves.toBeDefined()
    await expect(p.check('http://[fd00:ec2::254]/')).resolves.toBeDefined()
    // Only what was listed: the neighbours stay refused.
    await refusal(p, 'http://169.254.169.253/')
    await refusal(p, 'http://10.1.2.3/')
    await refusal(p, 'http://rebind.example.test/')
    await refusal(p, 'http://[fc00::1]/')
  })

  it('refuses an allowlist entry that is not a host, address or range', () => {
    for (const bad of ['10.0.0.0/33', 'http://x/', '10.0.0.0/x', 'a b']) {
      expect(() => new OutboundPolicy(settings({ allowlist: [bad] })), bad).toThrow(InvalidConfigError)
    }
  })
})

describe('outbound policy: sending', () => {
  let hits: string[] = []
  let port = 0
  let other = 0
  let otherHits = 0
  const servers: Server[] = []
  const listen = (s: Server) =>
    new Promise<number>((r) => {
      servers.push(s)
      s.listen(0, '127.0.0.1', () => r((s.address() as { port: number }).port))
    })

  beforeAll(async () => {
    port = await listen(
      createServer((req, res) => {
        hits.push(req.url ?? '')
        if (req.url === '/redirect') res.writeHead(302, { location: `http://127.0.0.1:${other}/inside` }).end()
        else if (req.url === '/big') res.end(Buffer.alloc(1 << 20, 7))
        else if (req.url === '/hang')
          res.writeHead(200) // headers, then nothing: the body never ends
        else res.writeHead(204).end()
      }),
    )
    other = await listen(
      createServer((_req, res) => {
        otherHits++
        res.writeHead(204).end()
      }),
    )
  })
  afterAll(() => {
    for (const s of servers) s.closeAllConnections()
    return Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  })

  it('connects to the address it checked: DNS is asked once, a second answer is never used', async () => {
    hits = []
    // A rebinding name: 127.0.0.1 first (allowed here), then an address that would fail if used.
    const dns = fakeDns({ 'hooks.example.test': [['127.0.0.1'], ['192.0.2.1']] })
    const p = new OutboundPolicy(settings({ allowLocal: true }), dns.resolve)
    const res = await p.send(`http://hooks.example.test:${port}/ping`, { method: 'POST', body: '{}' })
    expect(res.status).toBe(204)
    expect(hits).toEqual(['/ping'])
    expect(dns.asked).toEqual(['hooks.example.test'])
  })

  it('refuses at send time what resolves to a refused address now, without connecting', async () => {
    hits = []
    const dns = fakeDns({ 'hooks.example.test': [['93.184.215.14'], ['127.0.0.1']] })
    const p = new OutboundPolicy(settings(), dns.resolve)
    await p.check(`http://hooks.example.test:${port}/`) // public when checked
    await expect(p.send(`http://hooks.example.test:${port}/`, { method: 'POST' })).rejects.toThrow(
      /resolves to 127\.0\.0\.1, which is loopback/,
    )
    expect(hits).toEqual([])
  })

  it('never follows a redirect: the 3xx comes back with its Location', async () => {
    hits = []
    otherHits = 0
    const p = new OutboundPolicy(settings({ allowlist: [`127.0.0.1`] }))
    const res = await p.send(`http://127.0.0.1:${port}/redirect`, { method: 'POST', body: 'x' })
    expect(res).toMatchObject({ status: 302, location: `http://127.0.0.1:${other}/inside` })
    expect(hits).toEqual(['/redirect'])
    expect(otherHits).toBe(0)
  })

  it('reads at most maxResponseBytes of a body', async () => {
    const p = new OutboundPolicy(settings({ allowLocal: true, maxResponseBytes: 1000 }))
    const res = await p.send(`http://127.0.0.1:${port}/big`, { method: 'GET' })
    expect(res.status).toBe(200)
    expect(res.body.length).toBe(1000)
    expect(res.truncated).toBe(true)
    const whole = await new OutboundPolicy(settings({ allowLocal: true, maxResponseBytes: 2 << 20 })).send(
      `http://127.0.0.1:${port}/big`,
      { method: 'GET' },
    )
    expect(whole.body.length).toBe(1 << 20)
    expect(whole.truncated).toBe(false)
  })

  it('gives up on an answer that does not complete within the response deadline', async () => {
    const p = new OutboundPolicy(settings({ allowLocal: true, responseTimeoutMs: 300 }))
    await expect(p.send(`http://127.0.0.1:${port}/hang`, { method: 'GET' })).rejects.toThrow(
      /no complete answer from 127\.0\.0\.1:\d+ within 300 ms/,
    )
  })
})
