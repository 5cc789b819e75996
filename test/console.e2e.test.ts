/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdirSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import type { Page } from 'puppeteer-core'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect, type Ben } from '../client/index.js'
import { FactCodec, packageRoot } from '../schemas/index.js'
import { runSimulation, type Simulation } from '../simulate/index.js'
import { launchBrowser, type HeadlessBrowser } from './support/browser.js'
import { ben as ben_, benUp, type Background } from './support/cli.js'
import { tempDir, waitFor } from './support/servers.js'

const MIN = 60_000
/** Screenshots of every page, kept for people to look at (gitignored). */
const SHOTS = join(packageRoot(), 'test-artifacts', 'console')
const PHONE = { width: 390, height: 844 }
const RUNAWAY_INCIDENT = `SELECT incident_id FROM incidents FINAL WHERE source = 'web-3' AND position(title, 'throttle_job') > 0 ORDER BY updated_at DESC LIMIT 1`

/** Waits until every durable consumer has caught up and the streams stop growing (three calm looks in a row). */
async function settle(ben: Ben): Promise<void> {
  const jsm = await jetstreamManager(ben.nc)
  let calm = 0
  let last = ''
  await waitFor(
    'the pipeline to catch up',
    async () => {
      let pending = 0
      const seqs: number[] = []
      for (const stream of ['FACTS', 'DERIVED', 'COMMANDS']) {
        seqs.push((await jsm.streams.info(stream)).state.last_seq)
        for await (const ci of jsm.consumers.list(stream)) if (ci.config.durable_name) pending += ci.num_pending + ci.num_ack_pending
      }
      calm = pending === 0 && seqs.join() === last ? calm + 1 : 0
      last = seqs.join()
      return calm >= 3 ? true : undefined
    },
    10 * MIN,
    500,
  )
}

describe('the console in a real browser (Debian chromium, headless): live feed, incident, fleet, source, approvals', () => {
  const home = tempDir('ben-console-')
  let up: Background
  let ben: Ben
  let sim: Simulation | undefined
  let browser: HeadlessBrowser
  let page: Page
  let loginUrl: string
  let base: string
  const codec = new FactCodec()
  const rows = async (sql: string) => (await ben.query(sql, { maxRows: 100_000 })).objects()

  const shot = async (p: Page, name: string) => {
    await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false })
  }
  const text = (p: Page) => p.evaluate(() => document.body.innerText)
  const waitText = (p: Page, re: RegExp, what: string, ms = 3 * MIN) => waitFor(what, async () => (re.test(await text(p)) ? true : undefined), ms, 500)
  const go = async (p: Page, route: string) => {
    await p.goto(`${base}/#/${route}`, { waitUntil: 'domcontentloaded' })
    await p.waitForFunction(() => !document.body.innerText.includes('Loading…'), { timeout: 2 * MIN })
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true })
    up = await benUp({ BEN_HOME: home.path, BEN_NO_CONTAINERS: '1' }, ['--console', '127.0.0.1:0'])
    loginUrl = await waitFor('the console line in the banner', () => /console\s+(http:\/\/127\.0\.0\.1:\d+\/login\?token=\S+)/.exec(up.output())?.[1], MIN)
    base = new URL(loginUrl).origin
    // The console signs with the operator key `ben up` made and registered at its first start.
    expect(up.output()).toMatch(/operator\s+key \S+ made and registered/)
    ben = await connect({ home: home.path })
    browser = await launchBrowser()
    page = await browser.page()
    await page.goto(loginUrl, { waitUntil: 'domcontentloaded' })
  }, 3 * MIN)

  afterAll(async () => {
    await sim?.stop()
    await browser?.close()
    await ben?.close()
    await up?.stop('SIGINT')
    home.remove()
  })

  it(
    'shows the runaway live: the feed is open before the fleet starts, and its anomalies, throttle and ack arrive',
    async () => {
      expect(page.url()).toBe(`${base}/`)
      await page.goto(`${base}/#/live`, { waitUntil: 'domcontentloaded' })
      await waitText(page, /Feed live/, 'the feed to connect', MIN)
      await shot(page, 'live-empty-1280')
      expect(await page.$$('li.item')).toHaveLength(0)

      sim = await runSimulation(
        { nc: ben.nc, subjects: ben.subjects, codec, topo: {} },
        {
          hosts: 3,
          rate: 150,
          // 3.5 min of fleet: the runaway (150–190 s) and the leak (60 s) with a little after; the
          // rest of a 5 min fleet was healthy metrics no case looks at.
          durationMs: 3.5 * MIN,
          seed: 'console',
          mode: 'backfill',
          scenarios: [
            { kind: 'secret-leak', host: 'web-2', atMs: 60_000 },
            { kind: 'cpu-runaway', host: 'web-3', atMs: 150_000, durationMs: 40_000 },
          ],
        },
      )
      const runaway = sim.fleet.scenarios().find((s) => s.kind === 'cpu-runaway')!
      await waitFor(
        'the throttle command and its executed ack in the live feed',
        async () => {
          const items = await page.$$eval('li.item', (els) => els.map((e) => `${e.getAttribute('data-kind')} ${e.textContent}`))
          const cmd = items.some((t) => t.startsWith('command') && t.includes('throttle_job') && t.includes(runaway.source))
          const ack = items.some((t) => t.startsWith('ack') && /executed throttle_job on web-3/.test(t))
          const anomaly = items.some((t) => t.startsWith('anomaly') && t.includes('cpu.load') && t.includes(runaway.source))
          return cmd && ack && anomaly ? true : undefined
        },
        12 * MIN,
        1000,
      )
      await shot(page, 'live-1280')
      // Pause holds new items back; resume shows them.
      await page.click('button[aria-pressed]')
      expect(await page.$eval('button[aria-pressed]', (b) => b.getAttribute('aria-pressed'))).toBe('true')
      await page.click('button[aria-pressed]')
      expect(await page.$eval('button[aria-pressed]', (b) => b.getAttribute('aria-pressed'))).toBe('false')
      await sim.published
    },
    15 * MIN,
  )

  it(
    'filters the feed by source and severity on the server',
    async () => {
      await page.goto(`${base}/#/live`, { waitUntil: 'domcontentloaded' })
      await waitText(page, /Feed live/, 'the feed', MIN)
      await page.evaluate(() => {
        const i = document.querySelector('input[name=source]') as HTMLInputElement
        i.value = 'web-3'
        i.dispatchEvent(new Event('input', { bubbles: true }))
        const s = document.querySelector('select[name=severity]') as HTMLSelectElement
        s.value = 'critical'
        s.dispatchEvent(new Event('change', { bubbles: true }))
        const f = document.querySelector('select[name=since]') as HTMLSelectElement
        f.value = '60m'
        f.dispatchEvent(new Event('change', { bubbles: true }))
      })
      await page.click('form.filters button[type=submit]')
      // The list shown before the filter stays until the re-subscribed feed replaces it: wait for a
      // read (one read: a count and a later read could see two lists) where the filtered feed shows.
      // A filter that does not work never gets there, and the wait fails.
      const items = await waitFor(
        'only critical web-3 items, anomalies among them',
        async () => {
          const seen = await page.$$eval('li.item-anomaly, li.item-decision', (els) =>
            els.map((e) => ({ anomaly: e.classList.contains('item-anomaly'), text: e.textContent ?? '' })),
          )
          return seen.some((x) => x.anomaly) && seen.every((x) => x.text.includes('web-3') && x.text.toLowerCase().includes('critical')) ? seen.map((x) => x.text) : undefined
        },
        2 * MIN,
        500,
      )
      expect(items.length).toBeGreaterThan(0)
      for (const t of items) {
        expect(t).toContain('web-3')
        expect(t.toLowerCase()).toContain('critical')
      }
      await shot(page, 'live-filtered-1280')
    },
    4 * MIN,
  )

  it(
    "the runaway's incident page shows the timeline facts → anomalies → decisions → commands → acks and the narrative; Replay says identical; What-if shows the change",
    async () => {
      await go(page, 'incidents')
      await waitText(page, /web-3/, 'the runaway incident in the list')
      await shot(page, 'incidents-1280')
      const row = await waitFor('the runaway incident row', async () => (await rows(RUNAWAY_INCIDENT))[0])
      const id = String(row.incident_id)
      await page.click(`a[href="#/incident/${id}"]`)
      await page.waitForSelector('.timeline', { timeout: 2 * MIN })
      // The incident grows while the pipeline catches up: wait until the ack is in it.
      await waitFor(
        'the executed ack in the incident timeline',
        async () => {
          await go(page, `incident/${id}`)
          const lanes = await page.$$eval('.lane', (els) => els.map((e) => e.textContent ?? ''))
          return lanes.length === 5 && /executed throttle_job/.test(lanes[4]) ? lanes : undefined
        },
        10 * MIN,
        2000,
      )
      const lanes = await page.$$eval('.lane', (els) => els.map((e) => ({ id: e.id, items: e.querySelectorAll('li').length, text: e.textContent ?? '' })))
      expect(lanes.map((l) => l.id)).toEqual(['stage-alert', 'stage-anomaly', 'stage-decision', 'stage-command', 'stage-ack'])
      expect(lanes[1].items).toBeGreaterThan(0)
      expect(lanes[1].text).toContain('cpu.load')
      expect(lanes[2].text).toMatch(/act by critical-cpu-throttle/)
      expect(lanes[3].text).toMatch(/issued throttle_job → web-3/)
      const narrative = await page.$$eval('.narrative li', (els) =>
        els.map((e) => ({ text: e.textContent ?? '', links: [...e.querySelectorAll('a.fact')].map((a) => a.getAttribute('href')) })),
      )
      expect(narrative.length).toBeGreaterThan(2)
      expect(narrative.some((s) => s.links.length > 0)).toBe(true)
      await shot(page, 'incident-1280')

      await settle(ben)
      const replayButton = await page.waitForSelector('xpath/.//button[normalize-space()="Replay"]')
      await replayButton!.click()
      await waitText(page, /identical \(\d+ facts\)|different: \d+ changed/, 'the replay result', 5 * MIN)
      expect(await text(page)).toMatch(/identical \(\d+ facts\)/)
      await page.evaluate(() => document.querySelector('.result')?.scrollIntoView({ block: 'center' }))
      await shot(page, 'incident-replay-1280')

      const pack = readFileSync(join(packageRoot(), 'processors', 'policy', 'default-pack.yaml'), 'utf8').replace(/outcome: act\b/, 'outcome: propose')
      await page.evaluate((t) => {
        const a = document.querySelector('#pack') as HTMLTextAreaElement
        a.value = t
        a.dispatchEvent(new Event('input', { bubbles: true }))
      }, pack)
      const whatIf = await page.waitForSelector('xpath/.//button[normalize-space()="Run what-if"]')
      await whatIf!.click()
      await waitText(page, /What-if pasted\.yaml \(\w+\): \d+ decisions\/commands would differ/, 'the what-if result', 5 * MIN)
      const n = Number(/What-if pasted\.yaml \(\w+\): (\d+) decisions/.exec(await text(page))![1])
      expect(n).toBeGreaterThan(0)
      expect(await text(page)).toMatch(/act by critical-cpu-throttle throttle_job on web-3 → propose by critical-cpu-throttle/)
      await page.evaluate(() => [...document.querySelectorAll('.result')].pop()?.scrollIntoView({ block: 'start' }))
      await shot(page, 'incident-whatif-1280')

      // A cited fact opens its own page.
      const href = narrative.find((s) => s.links.length)!.links[0]!
      await go(page, href.slice(2))
      await waitText(page, /Payload/, 'the fact page')
      expect(await text(page)).toMatch(/Lineage/)
      await shot(page, 'fact-1280')
    },
    30 * MIN,
  )

  it(
    'the fleet map lists the sources with last seen and lag; a source page charts its series and marks anomalies',
    async () => {
      await go(page, 'fleet')
      await waitText(page, /web-3/, 'the fleet cards')
      const cards = await page.$$eval('li.card h3', (els) => els.map((e) => e.textContent?.trim()))
      expect(cards).toEqual(expect.arrayContaining(['web-1', 'web-2', 'web-3']))
      expect(await text(page)).toMatch(/last seen .* ago/)
      expect(await text(page)).toMatch(/Pipeline lag/)
      expect(await page.$$eval('table td', (els) => els.map((e) => e.textContent))).toEqual(expect.arrayContaining(['FACTS']))
      await shot(page, 'fleet-1280')

      await go(page, 'source/web-3')
      await page.waitForSelector('figure.chart canvas', { timeout: 2 * MIN })
      const titles = await page.$$eval('figure.chart .u-title', (els) => els.map((e) => e.textContent ?? ''))
      expect(titles[0]).toBe('anomaly scores and thresholds')
      expect(titles.some((t) => /^cpu\.load\{job=.*\} — \d+ anomalies$/.test(t))).toBe(true)
      await shot(page, 'source-1280')
    },
    6 * MIN,
  )

  it(
    'an approval in the browser (keyboard only) is signed server-side and the target executes it',
    async () => {
      await go(page, 'approvals')
      await waitText(page, /quarantine_artifact on/, 'the quarantine proposal')
      const [proposal] = await rows(`SELECT command_id FROM commands WHERE verb = 'quarantine_artifact' AND status = 'proposed' LIMIT 1`)
      const commandId = String(proposal.command_id)
      expect(await text(page)).toMatch(/Signing as operator key operator \([0-9a-f]{16}\)/)
      await shot(page, 'approvals-1280')
      // Keyboard: tab to the Approve button and press Enter.
      await page.focus('body')
      let focused = ''
      for (let i = 0; i < 40 && focused !== 'Approve'; i++) {
        await page.keyboard.press('Tab')
        focused = await page.evaluate(() => document.activeElement?.textContent?.trim() ?? '')
      }
      expect(focused).toBe('Approve')
      await page.keyboard.press('Enter')
      await waitText(page, /Approved quarantine_artifact on web-2/, 'the approval message', MIN)
      const acks = await waitFor(
        'the executed quarantine ack',
        async () => {
          const a = await rows(`SELECT status FROM acks WHERE command_id = '${commandId}'`)
          return a.length ? a : undefined
        },
        10 * MIN,
      )
      expect(acks).toEqual([expect.objectContaining({ status: 'executed' })])
      const approved = await rows(`SELECT signers FROM commands WHERE command_id = '${commandId}' AND status = 'approved'`)
      expect(approved).toHaveLength(1)
      expect((approved[0].signers as string[]).some((s) => s.startsWith('operator:'))).toBe(true)
      await shot(page, 'approvals-done-1280')
      // Approving again is refused with the reason (the same path as `ben approve`).
      const again = await page.evaluate(async (id) => {
        const s = await (await fetch('/api/session')).json()
        const r = await fetch(`/api/approvals/${id}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf },
          body: JSON.stringify({ verdict: 'approve' }),
        })
        return { status: r.status, body: await r.json() }
      }, commandId)
      expect(again.status).toBe(409)
      expect(again.body.error).toMatch(/already approved/)

      // Bad input shows up in the live feed as a dead letter with its reason. (Last: a lone
      // rejected message stays ack-pending in the scrub consumer until the next fact comes.)
      await go(page, 'live')
      await waitText(page, /Feed live/, 'the feed', MIN)
      ben.nc.publish(`${ben.subjects.prefix}.fact.metric.web-1`, new TextEncoder().encode('{"this is": not json'))
      const dead = await waitFor(
        'the dead letter in the feed',
        async () => {
          const t = await page.$$eval('li.item-dlq', (els) => els.map((e) => e.textContent ?? ''))
          return t.length ? t : undefined
        },
        3 * MIN,
        1000,
      )
      expect(
        dead.some((t) => /scrub: \w+: .*ben\.fact\.metric\.web-1/.test(t)),
        dead.join('\n'),
      ).toBe(true)
      await shot(page, 'live-dlq-1280')
    },
    20 * MIN,
  )

  it(
    'every page is readable at phone width (no sideways scrolling) and keyboard-navigable',
    async () => {
      const phone = await browser.page(PHONE)
      await phone.goto(loginUrl, { waitUntil: 'domcontentloaded' })
      const [inc] = await rows(RUNAWAY_INCIDENT)
      for (const [name, route] of [
        ['live', 'live'],
        ['incidents', 'incidents'],
        ['incident', `incident/${inc.incident_id}`],
        ['fleet', 'fleet'],
        ['source', 'source/web-3'],
        ['approvals', 'approvals'],
      ] as const) {
        await go(phone, route)
        if (name === 'live') await waitText(phone, /Feed live/, 'the feed', MIN)
        if (name === 'source') await phone.waitForSelector('figure.chart canvas', { timeout: 2 * MIN })
        const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
        expect(overflow, `${name} scrolls sideways at ${PHONE.width} px`).toBeLessThanOrEqual(1)
        await shot(phone, `${name}-phone`)
      }
      // The first Tab reaches the skip link, the next ones the navigation; Enter follows a link.
      // A fresh visit: the first Tab reaches the skip link.
      await phone.reload({ waitUntil: 'domcontentloaded' })
      await waitText(phone, /Approvals\s/, 'the page after reload', MIN)
      await phone.keyboard.press('Tab')
      expect(await phone.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content')
      let focused = ''
      for (let i = 0; i < 5 && focused !== 'Fleet'; i++) {
        await phone.keyboard.press('Tab')
        focused = await phone.evaluate(() => document.activeElement?.textContent ?? '')
      }
      expect(focused).toBe('Fleet')
      await phone.keyboard.press('Enter')
      await waitFor('the fleet page', async () => (phone.url().endsWith('#/fleet') ? true : undefined), MIN, 200)
      await phone.close()
    },
    8 * MIN,
  )

  it(
    'security: token login, HttpOnly SameSite=Strict cookie, CSRF on mutations, rate-limited logins, loopback unless TLS',
    async () => {
      expect((await fetch(`${base}/api/session`)).status).toBe(401)
      const ok = await fetch(loginUrl, { redirect: 'manual' })
      expect(ok.status).toBe(303)
      const cookie = ok.headers.get('set-cookie') ?? ''
      expect(cookie).toMatch(/^ben_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict/)
      const session = cookie.split(';')[0]
      const s = (await (await fetch(`${base}/api/session`, { headers: { cookie: session } })).json()) as { csrf: string; operator: { keyId: string } }
      expect(s.operator.keyId).toMatch(/^[0-9a-f]{16}$/)
      expect(JSON.stringify(s)).not.toMatch(/secret|seed|private/i)
      const post = (headers: Record<string, string>) =>
        fetch(`${base}/api/approvals/0123456789abcdef`, {
          method: 'POST',
          headers: { cookie: session, 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ verdict: 'approve' }),
        })
      expect((await post({})).status).toBe(403)
      expect((await post({ 'x-csrf-token': 'wrong' })).status).toBe(403)
      expect((await post({ 'x-csrf-token': s.csrf, origin: 'http://evil.example' })).status).toBe(403)
      expect((await post({ 'x-csrf-token': s.csrf })).status).toBe(404)
      // Read-only API: anything else than approve/reject and replay is refused.
      expect((await fetch(`${base}/api/incidents`, { method: 'DELETE', headers: { cookie: session, 'x-csrf-token': s.csrf } })).status).toBe(405)
      // A foreign Host header (DNS rebinding) is refused.
      const rebound = await new Promise<number>((resolve, reject) => {
        const u = new URL(base)
        request({ host: u.hostname, port: u.port, path: '/api/session', headers: { cookie: session, host: 'evil.example' } }, (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        })
          .on('error', reject)
          .end()
      })
      expect(rebound).toBe(421)

      const statuses: number[] = []
      for (let i = 0; i < 12; i++) statuses.push((await fetch(`${base}/login?token=wrong-${i}`, { redirect: 'manual' })).status)
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401))
      expect(statuses.slice(10)).toEqual([429, 429])
      // Even the right token waits out the window once an address is locked out.
      expect((await fetch(loginUrl, { redirect: 'manual' })).status).toBe(429)

      const other = tempDir('ben-console-exposed-')
      try {
        const r = await ben_(['up', '--console', '0.0.0.0:0'], { BEN_HOME: other.path, BEN_NO_CONTAINERS: '1' })
        expect(r.code).not.toBe(0)
        expect(r.stderr).toMatch(/not a loopback address: give --console-tls cert\.pem,key\.pem \(or --insecure-console/)
      } finally {
        other.remove()
      }
    },
    3 * MIN,
  )
})
