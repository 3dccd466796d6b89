import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, systemChromium } from './test-support/chromium.js';

export default defineConfig({
  testDir: 'e2e',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  // One worker: every test runs its own server and a software-rendered
  // Chromium, and two of those at once starve a two-core machine.
  workers: 1,
  retries: process.env.CI ? 1 : 0,
  forbidOnly: Boolean(process.env.CI),
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    viewport: { width: 1280, height: 900 },
    locale: 'zh-CN',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: systemChromium(),
      args: CHROMIUM_ARGS,
    },
  },
});
