/**
 * Galata against the Binder replay (binder/replay.sh): JupyterLab from that fresh environment,
 * on the repository as Binder serves it, opened on examples/explore.ipynb as the Binder link does.
 */
const path = require('path');

const main = require('./playwright.config');

const ENV = process.env.BINDER_ENV || path.resolve(__dirname, '..', '.binder-env');

module.exports = {
  ...main,
  testDir: 'binder',
  use: { ...main.use, baseURL: 'http://127.0.0.1:8900', autoGoto: false },
  webServer: {
    command: `${path.join(ENV, 'bin', 'jupyter')} lab --config jupyter_server_binder_config.py`,
    url: 'http://127.0.0.1:8900/lab',
    timeout: 120 * 1000,
    reuseExistingServer: false
  }
};
