// Playwright drives Debian's Chromium (CHROMIUM, default /usr/bin/chromium),
// headless; it never downloads a browser. The Go test TestConsoleBrowser
// (cmd/disputed) starts disputed and sets DISPUTED_URL, DISPUTED_TOKEN,
// DISPUTED_ORDER, DISPUTED_XSS_ORDER and SCREENSHOT_DIR.
const { defineConfig } = require('@playwright/test');

module.exports = defineConfig({
  testDir: '.',
  testMatch: '*.spec.js',
  timeout: 90_000,
  expect: { timeout: 20_000 },
  retries: 0,
  workers: 1,
  reporter: [['list']],
  outputDir: process.env.PLAYWRIGHT_OUTPUT_DIR || 'test-results',
  use: {
    baseURL: process.env.DISPUTED_URL,
    headless: true,
    viewport: { width: 1280, height: 900 },
    actionTimeout: 20_000,
    navigationTimeout: 30_000,
    trace: 'off',
    launchOptions: { executablePath: process.env.CHROMIUM || '/usr/bin/chromium' },
  },
});
