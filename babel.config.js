// babel-jest transforms the ES-module-only packages in node_modules (see jest.config.js).
module.exports = require('@jupyterlab/testutils/lib/babel.config');
