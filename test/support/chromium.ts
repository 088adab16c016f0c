// Real headless Chromium for browser tests: Debian's /usr/bin/chromium (installed by
// .ci/setup-chromium.sh) driven by playwright-core, which never downloads a browser of its own.
// Each launch gets a fresh user data directory, removed on close.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Why browser tests cannot run here, or undefined when they can. In CI a missing browser is a
 * failure (the setup script should have installed it), so this throws there instead of
 * letting the tests skip.
 */
export function chromiumSkipReason(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const reason = `${CHROMIUM_PATH} is not installed (run .ci/setup-chromium.sh as root)`;
  if (process.env.CI) throw new Error(`browser tests need Chromium in CI: ${reason}`);
  return reason;
}

export interface ChromiumSession {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

export interface ChromiumOptions {
  readonly viewport?: { readonly width: number; readonly height: number };
}

/** A browser context with a fixed locale and time zone, so numbers and times render the same everywhere. */
export async function launchChromium(options: ChromiumOptions = {}): Promise<ChromiumSession> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'tollgate-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ARGS,
      viewport: options.viewport ?? { width: 1280, height: 800 },
      locale: 'en-US',
      timezoneId: 'UTC',
      timeout: 30_000,
    });
    return {
      context,
      async close() {
        await context.close();
        rmSync(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
}
