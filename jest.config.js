/**
 * Jest configuration, based on JupyterLab's (@jupyterlab/testutils/lib/jest-config).
 *
 * Tests live in src/**\/__tests__/*.spec.ts and tests/js/*.spec.ts; they run in jsdom with
 * JupyterLab's shims, are compiled by ts-jest against tsconfig.json (so they are type-checked)
 * and ESM packages from node_modules are transformed by babel-jest (babel.config.js).
 */
const jestJupyterLab = require('@jupyterlab/testutils/lib/jest-config');

const baseConfig = jestJupyterLab(__dirname);

// Packages published as ES modules only: babel-jest transforms them, as JupyterLab's preset does.
const esModules = [
  '@codemirror',
  '@jupyter/react-components',
  '@jupyter/web-components',
  '@jupyter/ydoc',
  '@jupyterlab/',
  '@lezer',
  '@lumino',
  '@marijn',
  '@microsoft',
  'color',
  'comlink',
  'd3',
  'delaunator',
  'exenv-es6',
  'internmap',
  'lib0',
  'marked',
  'nanoid',
  'robust-predicates',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yjs'
].join('|');

module.exports = {
  ...baseConfig,
  automock: false,
  testRegex: [
    'src/(.*/)?__tests__/.*\\.spec\\.tsx?$',
    'tests/js/(.*/)?.*\\.spec\\.tsx?$'
  ],
  moduleNameMapper: {
    ...baseConfig.moduleNameMapper,
    // jsdom resolves the "browser" export of sql.js, which fetches its wasm by URL: use the
    // Node build, which reads dist/sql-wasm.wasm from disk.
    '^sql\\.js$': '<rootDir>/node_modules/sql.js/dist/sql-wasm.js',
    // d3 ships ESM only (d3.mjs) behind its "main"; its UMD bundle needs no transform.
    // The mapping is inert while d3 is absent or unused.
    '^d3$': '<rootDir>/node_modules/d3/dist/d3.min.js',
    // Likewise its submodules (the Runs tab's charts import d3-scale, d3-shape, d3-axis...).
    '^d3-([a-z-]+)$': '<rootDir>/node_modules/d3-$1/dist/d3-$1.min.js'
  },
  transform: {
    ...baseConfig.transform,
    // The preset points ts-jest at tsconfig.test.json; use tsconfig.json (ts-jest compiles to
    // CommonJS for jest whatever `module` says) and add Node's types for fs/path in tests;
    // rootDir widens to the repository so tests may share helpers from tests/js/.
    '^.+\\.tsx?$': [
      'ts-jest',
      { tsconfig: { types: ['jest', 'node'], rootDir: '.' } }
    ]
  },
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`],
  // jest-junit writes junit.xml into the repository: only in CI.
  reporters: process.env.CI ? baseConfig.reporters : ['default'],
  collectCoverageFrom: ['src/**/*.{ts,tsx}', '!src/**/*.d.ts', '!src/**/__tests__/**']
};
