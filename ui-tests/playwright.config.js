/**
 * Galata (Playwright) against a real JupyterLab with a real kernel, in Debian's Chromium.
 * Browsers cannot be downloaded on our machines: point Playwright at the system Chromium.
 */
const { execSync } = require('child_process');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

function chromium() {
  if (process.env.CHROMIUM_PATH) {
    return process.env.CHROMIUM_PATH;
  }
  try {
    return execSync('command -v chromium', { shell: '/bin/bash' }).toString().trim();
  } catch {
    throw new Error('Chromium not found: install it with `apt-get install chromium` (make test does).');
  }
}

module.exports = {
  ...baseConfig,
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  outputDir: 'test-results',
  retries: process.env.CI ? 1 : 0,
  workers: 1,
  timeout: 120000,
  expect: { timeout: 20000 },
  use: {
    ...baseConfig.use,
    appPath: '/lab',
    autoGoto: true,
    baseURL: 'http://127.0.0.1:8899',
    trace: 'retain-on-failure',
    video: 'off',
    launchOptions: {
      executablePath: chromium(),
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic'
      ]
    }
  },
  webServer: {
    command: `${require('path').resolve(__dirname, '..', '.venv', 'bin', 'jupyter')} lab --config jupyter_server_test_config.py`,
    url: 'http://127.0.0.1:8899/lab',
    timeout: 120 * 1000,
    reuseExistingServer: false
  }
};
