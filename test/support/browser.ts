import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import puppeteer, { type Browser, type Page } from 'puppeteer-core'

/** Debian's chromium (no browser download); BEN_CHROMIUM overrides. */
export const CHROMIUM = process.env.BEN_CHROMIUM ?? '/usr/bin/chromium'

export interface HeadlessBrowser {
  readonly browser: Browser
  page(viewport?: { width: number; height: number }): Promise<Page>
  close(): Promise<void>
}

/** Starts headless chromium with a fresh profile, no network side-traffic, no sandbox (root in CI). */
export async function launchBrowser(): Promise<HeadlessBrowser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium) or set BEN_CHROMIUM; the console tests drive a real browser`)
  const profile = join(tmpdir(), `ben-chromium-${process.pid}-${Date.now()}`)
  mkdirSync(profile, { recursive: true })
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  })
  return {
    browser,
    page: async (viewport = { width: 1280, height: 800 }) => {
      const p = await browser.newPage()
      await p.setViewport(viewport)
      return p
    },
    close: async () => {
      await browser.close().catch(() => undefined)
      rmSync(profile, { recursive: true, force: true })
    },
  }
}
