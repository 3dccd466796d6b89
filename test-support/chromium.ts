import { existsSync } from 'node:fs';

/**
 * The browser the journeys and the browser benchmark drive: $CHROMIUM_PATH,
 * else a system Chromium, else (undefined) the one Playwright downloads
 * itself (`npx playwright install chromium`).
 */
export function systemChromium(): string | undefined {
  const candidates = [
    process.env.CHROMIUM_PATH,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
  ];
  return candidates.find((path): path is string => Boolean(path) && existsSync(path as string));
}

/** Flags for a headless Chromium in a container: no sandbox, software rendering, no background traffic. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
