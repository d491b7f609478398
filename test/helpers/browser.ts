import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium, installed by scripts/setup.sh; Playwright's own browser download is unreachable here. */
export const CHROMIUM = process.env.ZEROCAM_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = join(__dirname, '..', '..', '..', 'test-artifacts');

export async function launchBrowser(t: TestContext): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Without the networking switches Chromium keeps dialling out, and this network refuses it.
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'],
  });
  t.after(() => browser.close());
  return browser;
}

/** `ignoreHTTPSErrors`: for a server with a self-signed certificate the browser cannot know. */
export async function openPage(t: TestContext, url: string, options: { ignoreHTTPSErrors?: boolean } = {}): Promise<Page> {
  const browser = await launchBrowser(t);
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 }, ignoreHTTPSErrors: options.ignoreHTTPSErrors ?? false });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  t.after(() => {
    if (errors.length) throw new Error(`the page reported errors:\n${errors.join('\n')}`);
  });
  await page.goto(url);
  return page;
}

/** Saves a screenshot for people (and reviewers) to look at; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}
