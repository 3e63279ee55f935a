/**
 * Galata (Playwright) against a real JupyterLab with a real kernel, in Debian's Chromium.
 * Browsers cannot be downloaded on our machines: point Playwright at the system Chromium.
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');
const { chromiumPath, CHROMIUM_ARGS } = require('./chromium');

// Several checkouts (or agents) can run Galata at once, each on its own port.
const port = Number(process.env.DSI_GALATA_PORT || 8899);

module.exports = {
  ...baseConfig,
  testDir: 'tests',
  reporter: [['list'], ['html', { open: 'never', outputFolder: process.env.DSI_GALATA_OUT ? `${process.env.DSI_GALATA_OUT}-report` : 'playwright-report' }]],
  outputDir: process.env.DSI_GALATA_OUT || 'test-results',
  retries: Number(process.env.DSI_GALATA_RETRIES ?? (process.env.CI ? 1 : 0)),
  workers: 1,
  timeout: 120000,
  expect: { timeout: 20000 },
  use: {
    ...baseConfig.use,
    appPath: '/lab',
    autoGoto: true,
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
    video: 'off',
    launchOptions: {
      executablePath: chromiumPath(),
      args: CHROMIUM_ARGS
    }
  },
  webServer: {
    command: `${require('path').resolve(__dirname, '..', '.venv', 'bin', 'jupyter')} lab --config jupyter_server_test_config.py --ServerApp.port=${port}`,
    url: `http://127.0.0.1:${port}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: false
  }
};
