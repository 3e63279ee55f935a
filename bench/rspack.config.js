// The benchmark page: bench/page.ts and what it imports (the jupyterlab-dsi views and database
// worker from src/, parcoord-es, d3), bundled for the browser into bench/dist by bench/run.js
// through the rspack JS API. TypeScript is stripped by rspack's builtin SWC loader (no type
// check: `make test`'s tsc does that for src/). Production mode: minified, as users get it.
const fs = require('fs');
const path = require('path');
const rspack = require('@rspack/core');

const ROOT = path.resolve(__dirname, '..');

/** The src/ modules bench/dsi.ts needs; while one is missing the page builds without it. */
const DSI_MODULES = [
  'src/views/parcoords.ts',
  'src/views/scatter.ts',
  'src/views/axes.ts',
  'src/model/colors.ts',
  'src/db/client.ts',
  'src/db/worker.ts'
];

function dsiMissing() {
  return DSI_MODULES.filter(file => !fs.existsSync(path.join(ROOT, file)));
}

module.exports = (env = {}) => {
  const missing = env.withoutDsi ? ['(disabled)'] : dsiMissing();
  return {
    context: __dirname,
    mode: 'production',
    target: 'web',
    devtool: 'source-map',
    entry: { page: './page.ts' },
    output: {
      path: path.join(__dirname, 'dist'),
      filename: '[name].js',
      chunkFilename: '[name].[contenthash:8].js',
      assetModuleFilename: '[name].[contenthash:8][ext]',
      publicPath: 'auto',
      clean: { keep: /\.sqlite$/ }
    },
    resolve: {
      extensions: ['.ts', '.js'],
      // src/ imports compiled names ('./worker.js' in client.ts): find the .ts beside them.
      extensionAlias: { '.js': ['.ts', '.js'] },
      alias: {
        '@bench/dsi': path.join(__dirname, missing.length ? 'dsi-missing.ts' : 'dsi.ts')
      },
      fallback: { fs: false, path: false, crypto: false, url: false, buffer: false }
    },
    module: {
      rules: [
        {
          test: /\.ts$/,
          exclude: /node_modules/,
          loader: 'builtin:swc-loader',
          options: {
            jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }
          },
          type: 'javascript/auto'
        },
        { test: /\.css$/, type: 'asset/source' },
        { test: /\.m?js$/, resolve: { fullySpecified: false } }
      ]
    },
    plugins: [
      new rspack.DefinePlugin({ DSI_MISSING: JSON.stringify(missing.join(', ')) }),
      new rspack.HtmlRspackPlugin({ template: './index.html', inject: false })
    ],
    optimization: {
      // Same reason as ../rspack.config.js: the worker chunk and its referrer hash each other.
      realContentHash: false
    },
    performance: { hints: false },
    infrastructureLogging: { level: 'error' }
  };
};

module.exports.dsiMissing = dsiMissing;
