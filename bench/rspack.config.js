// The benchmark page: bench/page.ts and what it imports (the jupyterlab-dsi views and database
// worker from src/, parcoord-es, d3), bundled for the browser into bench/dist by bench/run.js
// through the rspack JS API. TypeScript is stripped by rspack's builtin SWC loader (no type
// check: `make bench-smoke` runs `tsc -p bench/tsconfig.json` for that). Production mode:
// minified, as users get it.
const path = require('path');
const rspack = require('@rspack/core');

module.exports = () => {
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
      // No stand-in when src/ breaks the page: the build fails and so does the bench.
      alias: { '@bench/dsi': path.join(__dirname, 'dsi.ts') },
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
