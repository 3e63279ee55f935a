#!/usr/bin/env node
// `make bench`: build bench/page.ts, serve bench/dist on 127.0.0.1, drive Debian's Chromium
// through Playwright, print a table and write bench/results.json. See bench/README.md.
// Exits non-zero, naming what broke, when a jupyterlab-dsi figure could not be measured or a
// library failed with an error (a baseline's timeout is a figure, not a failure).
//
// `node bench/run.js --smoke` (or BENCH_SMOKE=1; `make bench-smoke`, part of `make test`): the same
// harness, small: 10k rows, 3 moves, one first render, 5 time steps, a short table and
// bench/results-smoke.json. It is a check that the bench still runs, not a measurement.
//
// Environment (all optional):
//   BENCH_ROWS=10000,100000,1000000,4000000   table sizes (baselines at 4M: dnf by prediction)
//   BENCH_LASSO_ROWS=100000,1000000   sizes with a lasso series (jupyterlab-dsi)
//   BENCH_WEIGHT_ROWS=10000           sizes with a weight-slider series (jupyterlab-dsi)
//   BENCH_LIBS=jupyterlab-dsi,parcoord-es,d3-svg
//   BENCH_MOVES=30                    brush moves per (library, rows), at least
//   BENCH_BASELINE_BUDGET_S=40        brushing time a baseline gets per size (after >= 3 moves)
//   BENCH_MOVE_TIMEOUT_S=20           one brush move longer than this: did not finish
//   BENCH_RENDER_TIMEOUT_S=60         first render longer than this: did not finish
//   BENCH_TIME_STEPS=40               time-slider steps (the database has 40)
//   BENCH_SKIP_TIME_STEP=1            skip the time-step suite
//   BENCH_DSI_DENSITY_THRESHOLD=N     diagnostics: force jupyterlab-dsi's line/density threshold
//   BENCH_OUT=file.json               write the records there instead (trials that must not
//                                     replace bench/results.json)
//   CHROMIUM_PATH=/usr/bin/chromium
'use strict';

const debianChromium = require('../ui-tests/chromium');
const fs = require('fs');
const http = require('http');
const path = require('path');

const { timeStepDatabase } = require('./db');

const BENCH = __dirname;
const DIST = path.join(BENCH, 'dist');
const CACHE = path.join(BENCH, '.cache');

const env = process.env;
const SMOKE = process.argv.includes('--smoke') || Boolean(env.BENCH_SMOKE && env.BENCH_SMOKE !== '0');
const RESULTS = env.BENCH_OUT ? path.resolve(env.BENCH_OUT) : path.join(BENCH, SMOKE ? 'results-smoke.json' : 'results.json');
const list = (value, fallback) => (value ? value.split(',').map(s => s.trim()).filter(Boolean) : fallback);
const ROWS = list(env.BENCH_ROWS, SMOKE ? ['10000'] : ['10000', '100000', '1000000', '4000000']).map(Number);
/** Sizes with a lasso series and a weight-slider series (jupyterlab-dsi only: neither baseline has them). */
const LASSO_ROWS = list(env.BENCH_LASSO_ROWS, SMOKE ? ['10000'] : ['100000', '1000000']).map(Number);
const WEIGHT_ROWS = list(env.BENCH_WEIGHT_ROWS, ['10000']).map(Number);
const LIBS = list(env.BENCH_LIBS, ['jupyterlab-dsi', 'parcoord-es', 'd3-svg']);
const MOVES = Number(env.BENCH_MOVES || (SMOKE ? 3 : 30));
const BASELINE_BUDGET_MS = 1000 * Number(env.BENCH_BASELINE_BUDGET_S || (SMOKE ? 5 : 40));
const MOVE_TIMEOUT_MS = 1000 * Number(env.BENCH_MOVE_TIMEOUT_S || 20);
const RENDER_TIMEOUT_MS = 1000 * Number(env.BENCH_RENDER_TIMEOUT_S || 60);
const TIME_STEPS = Number(env.BENCH_TIME_STEPS || (SMOKE ? 5 : 40));
const SIMS = 10000;
const DB_STEPS = 40;
const MIN_BASELINE_MOVES = 3;
/** First renders faster than this are repeated in fresh browsers (3 runs in all). */
const REPEAT_FIRST_RENDER_UNDER_MS = 5000;
const FIRST_RENDER_RUNS = SMOKE ? 1 : 3;
const DSI = 'jupyterlab-dsi';

const CHROMIUM_ARGS = [
  ...debianChromium.CHROMIUM_ARGS,
  '--enable-precise-memory-info',
  // One page in the foreground for the whole run: never throttle its timers or frames.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows'
];

// --------------------------------------------------------------------------------------------
// Build

async function compile(options) {
  const { rspack } = require('@rspack/core');
  const config = require('./rspack.config.js')(options);
  const stats = await new Promise((resolve, reject) =>
    rspack(config).run((err, result) => (err ? reject(err) : resolve(result)))
  );
  return stats.hasErrors() ? stats.toString({ all: false, errors: true, colors: false }) : null;
}

/**
 * Bundle the page. A page that does not build (src/ changed under bench/dsi.ts) stops the run:
 * building it without jupyterlab-dsi and timing the baselines alone is how this bench once went
 * unnoticed for weeks.
 */
async function build() {
  const t0 = Date.now();
  const errors = await compile({});
  if (errors) throw new Failure(`the bench page does not build (bench/dsi.ts against src/):\n${errors}`);
  log(`built bench/dist in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** A failure that names what broke; main prints its message alone (no stack) and exits 1. */
class Failure extends Error {}

// --------------------------------------------------------------------------------------------
// Server: bench/dist, plus the time-step database, on 127.0.0.1 and an ephemeral port.

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.sqlite': 'application/octet-stream'
};

function serve(extra) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    let file = extra[url.pathname];
    if (!file) {
      const rel = path.normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, '');
      file = path.join(DIST, rel === '/' ? 'index.html' : rel);
      if (!file.startsWith(DIST)) {
        res.writeHead(403).end();
        return;
      }
    }
    fs.stat(file, (err, stat) => {
      if (url.pathname === '/favicon.ico') {
        res.writeHead(204).end();
        return;
      }
      if (err || !stat.isFile()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, {
        'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
        'Content-Length': stat.size,
        'Cache-Control': 'no-store'
      });
      fs.createReadStream(file).pipe(res);
    });
  });
  return new Promise(resolve =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}/` }))
  );
}

// --------------------------------------------------------------------------------------------
// Browser

const { chromiumPath } = debianChromium;

class Timeout extends Error {
  constructor(ms) {
    super(`did not finish in ${ms / 1000} s`);
    this.timeout = ms;
  }
}

function withTimeout(promise, ms) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Timeout(ms)), ms);
    })
  ]).finally(() => clearTimeout(timer));
}

const warned = new Set();

/** A fresh browser and page on the bench page; `close()` kills it, even with a hung renderer. */
async function openPage(url) {
  const { chromium } = require('@playwright/test');
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_ARGS
  });
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => {
    if (m.type() === 'error') errors.push(m.text());
    // bench/dsi.ts's wrappers say when a method they time is gone (renamed in src/): its time is
    // then missing from the breakdown, not from the figures, so it is said once, not fatal.
    if (m.type() === 'warning' && m.text().startsWith('bench:') && !warned.has(m.text())) {
      warned.add(m.text());
      log(m.text());
    }
  });
  await page.goto(url);
  await page.waitForFunction(() => window.bench !== undefined, null, { timeout: 30000 });
  const cdp = await page.context().newCDPSession(page);
  return {
    page,
    errors,
    /**
     * The page's heap after a full GC, bytes: V8's JS objects, Blink's (the DOM: V8's embedder
     * heap) and ArrayBuffer backing stores (typed arrays live there, outside the JS heap).
     */
    async heap() {
      await cdp.send('HeapProfiler.collectGarbage');
      await cdp.send('HeapProfiler.collectGarbage');
      const usage = await cdp.send('Runtime.getHeapUsage');
      return {
        js: usage.usedSize,
        dom: usage.embedderHeapUsedSize || 0,
        buffers: usage.backingStorageSize || 0
      };
    },
    async close() {
      await withTimeout(browser.close(), 15000).catch(() => {});
    }
  };
}

// --------------------------------------------------------------------------------------------
// Statistics and records

function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

const records = [];
const details = {};

function record(suite, library, rows, metric, samples, extra = {}) {
  const sorted = [...samples].sort((a, b) => a - b);
  const r = {
    suite,
    library,
    rows,
    metric,
    median_ms: round(quantile(sorted, 0.5)),
    p95_ms: round(quantile(sorted, 0.95)),
    runs: samples.length,
    ...extra
  };
  records.push(r);
  return r;
}

function dnf(suite, library, rows, metric, why, extra = {}) {
  const r = {
    suite,
    library,
    rows,
    metric,
    median_ms: null,
    p95_ms: null,
    runs: 0,
    status: 'dnf',
    why,
    ...extra
  };
  records.push(r);
  return r;
}

function round(x) {
  return x === null || x === undefined ? null : Math.round(x * 100) / 100;
}

function log(...args) {
  console.log('[bench]', ...args);
}

// --------------------------------------------------------------------------------------------
// One library on one table: first render, heap, brush moves.

/**
 * A baseline whose first render at a smaller size, scaled linearly to this size, already
 * exceeds the timeout is not run: linear scaling is a lower bound for these libraries (their
 * work per row does not shrink with more rows), so it would not finish either.
 */
function predictedDnf(library, rows) {
  if (library === DSI) return null;
  const smaller = records
    .filter(r => r.library === library && r.metric === 'first_render' && r.rows < rows && r.median_ms)
    .sort((a, b) => b.rows - a.rows)[0];
  if (!smaller) return null;
  const predicted = (smaller.median_ms * rows) / smaller.rows;
  return predicted > RENDER_TIMEOUT_MS
    ? `not run: ${fmt(smaller.median_ms)} ms at ${smaller.rows.toLocaleString('en-US')} rows ` +
        `predicts >= ${fmt(predicted / 1000, 0)} s, over the ${RENDER_TIMEOUT_MS / 1000} s timeout`
    : null;
}

async function measure(url, library, rows) {
  const suite = 'synthetic';
  const key = `${library}/${rows}`;
  const info = (details[key] = { selected: [], parts: [] });
  const skip = predictedDnf(library, rows);
  if (skip) {
    dnf(suite, library, rows, 'first_render', skip, { timeout_ms: RENDER_TIMEOUT_MS });
    dnf(suite, library, rows, 'brush', 'first render did not finish');
    dnf(suite, library, rows, 'heap_mb', 'first render did not finish');
    log(`${key}: ${skip}`);
    return;
  }
  const session = await openPage(url);
  const { page } = session;
  let first;
  let timedOut = null;
  try {
    const heap0 = await session.heap();
    info.prepareMs = await page.evaluate(([l, n]) => window.bench.prepare(l, n), [library, rows]);
    try {
      first = await withTimeout(page.evaluate(() => window.bench.setup()), RENDER_TIMEOUT_MS);
    } catch (e) {
      if (!(e instanceof Timeout)) throw e;
      const why = `first render ${e.message}`;
      dnf(suite, library, rows, 'first_render', why, { timeout_ms: e.timeout });
      dnf(suite, library, rows, 'brush', 'first render did not finish');
      dnf(suite, library, rows, 'heap_mb', 'first render did not finish');
      log(`${key}: ${why}`);
      return;
    }
    if (first.parts) {
      info.setupParts = [withBrowser({ ...first.parts, sync: first.syncMs, frames: first.frames, total: first.ms })];
    }
    const heap1 = await session.heap();
    const mb = k => (heap1[k] - heap0[k]) / 2 ** 20;
    info.heap = { js: mb('js'), dom: mb('dom'), buffers: mb('buffers') };
    const heapMb = info.heap.js + info.heap.dom + info.heap.buffers;
    record(suite, library, rows, 'heap_mb', [heapMb]);
    Object.assign(info, await page.evaluate(() => window.bench.notes()));
    log(`${key}: first render ${first.ms.toFixed(0)} ms, heap ${heapMb.toFixed(1)} MB`);

    // Brush moves: one warm-up (not recorded), then MOVES. A baseline stops early once it has
    // used its time budget (after at least 3 moves). A move past the timeout ends the series;
    // it counts as a sample of the timeout's length (a lower bound).
    await page.evaluate(() => window.bench.brushBegin());
    const samples = [];
    const budget = library === DSI ? Infinity : BASELINE_BUDGET_MS;
    const started = Date.now();
    for (let i = 0; i <= MOVES && samples.length < MOVES; i++) {
      let move;
      try {
        move = await withTimeout(page.evaluate(() => window.bench.brush()), MOVE_TIMEOUT_MS);
      } catch (e) {
        if (!(e instanceof Timeout)) throw e;
        timedOut = e;
        if (i > 0 || library !== DSI) samples.push(e.timeout);
        break;
      }
      // The warm-up of a slow baseline is counted rather than followed by yet another move.
      if (i > 0 || (library !== DSI && move.ms > MOVE_TIMEOUT_MS / 4)) {
        samples.push(move.ms);
        info.selected.push({ step: move.step, selected: move.selected });
        info.parts.push(withBrowser({
          ...(move.parts || {}),
          sync: move.syncMs,
          frames: move.frames,
          total: move.ms
        }));
      }
      if (samples.length >= MIN_BASELINE_MOVES && Date.now() - started > budget) break;
    }
    if (timedOut && samples.length <= 1) {
      dnf(suite, library, rows, 'brush', `a brush move ${timedOut.message}`, {
        timeout_ms: timedOut.timeout
      });
      log(`${key}: brush move ${timedOut.message}`);
    } else {
      if (!timedOut) await page.evaluate(() => window.bench.brushEnd());
      const r = record(suite, library, rows, 'brush', samples);
      if (timedOut) {
        r.status = 'partial';
        r.why = `the last of ${samples.length} moves ${timedOut.message}: counted as ${MOVE_TIMEOUT_MS / 1000} s (a lower bound)`;
      } else if (samples.length < MOVES) {
        r.status = 'capped';
        r.why = `${samples.length} moves: the ${BASELINE_BUDGET_MS / 1000} s budget of a baseline was used up`;
      }
      log(`${key}: brush median ${r.median_ms} ms, p95 ${r.p95_ms} ms over ${r.runs} moves`);
    }
    if (library === DSI && !timedOut) {
      if (WEIGHT_ROWS.includes(rows)) {
        // The brush stays: the weight drag recomputes d_feature under a real selection.
        await page.evaluate(() => window.bench.weightBegin());
        await series(page, 'weight_drag', rows, () => window.bench.weight());
      }
      if (LASSO_ROWS.includes(rows)) {
        await page.evaluate(() => window.bench.clearBrushes());
        await page.evaluate(() => window.bench.lassoBegin());
        await series(page, 'lasso', rows, () => window.bench.lasso());
        await page.evaluate(() => window.bench.lassoEnd());
      }
    }
    info.errors = session.errors.slice(0, 5);
  } finally {
    await session.close();
  }

  // Repeat a fast first render in fresh browsers, for a median of 3.
  const firstRenders = [first.ms];
  if (first.ms < REPEAT_FIRST_RENDER_UNDER_MS && !timedOut) {
    for (let run = 1; run < FIRST_RENDER_RUNS; run++) {
      const again = await openPage(url);
      try {
        await again.page.evaluate(([l, n]) => window.bench.prepare(l, n), [library, rows]);
        const setup = await again.page.evaluate(() => window.bench.setup());
        firstRenders.push(setup.ms);
        if (setup.parts && info.setupParts) {
          info.setupParts.push(withBrowser({ ...setup.parts, sync: setup.syncMs, frames: setup.frames, total: setup.ms }));
        }
      } finally {
        await again.close();
      }
    }
  }
  record(suite, library, rows, 'first_render', firstRenders);
}

/**
 * A series of jupyterlab-dsi interactions (lasso moves, weight-slider moves): one warm-up, then
 * MOVES, each from its event to its pixels, with the parts each spent its time in.
 */
async function series(page, metric, rows, move) {
  const info = (details[`${DSI}/${rows}/${metric}`] = { selected: [], parts: [] });
  const samples = [];
  for (let i = 0; i <= MOVES; i++) {
    const result = await withTimeout(page.evaluate(move), MOVE_TIMEOUT_MS);
    if (i > 0) {
      samples.push(result.ms);
      info.selected.push({ step: result.step, selected: result.selected });
      info.parts.push(withBrowser({ ...(result.parts || {}), sync: result.syncMs, frames: result.frames, total: result.ms }));
    }
  }
  const r = record('synthetic', DSI, rows, metric, samples);
  log(`${DSI}/${rows}: ${metric} median ${r.median_ms} ms, p95 ${r.p95_ms} ms over ${r.runs} moves`);
  return r;
}

// --------------------------------------------------------------------------------------------
// Time-slider steps on the real worker and database.

async function measureTimeStep(url) {
  const suite = 'sqlite-worker';
  const session = await openPage(url);
  const { page } = session;
  try {
    const setup = await page.evaluate(u => window.bench.timeStepSetup(u), '/timestep.sqlite');
    log(`time step: database opened in the worker (${JSON.stringify(setup)})`);
    const samples = [];
    const parts = [];
    const steps = Number(setup.steps) || DB_STEPS;
    // One warm-up step, then the slider walks t = 0, 1, ..., wrapping around.
    for (let i = -1; i < Math.max(TIME_STEPS, MOVES); i++) {
      const t = (i + 1) % steps;
      const result = await withTimeout(
        page.evaluate(tt => window.bench.timeStepMove(tt), t === setup.t ? (t + 1) % steps : t),
        MOVE_TIMEOUT_MS
      );
      if (i >= 0) {
        samples.push(result.ms);
        parts.push(withBrowser({ ...result.parts, sync: result.syncMs, frames: result.frames, total: result.ms }));
      }
    }
    const r = record(suite, DSI, SIMS, 'time_step', samples);
    details[`${DSI}/time_step`] = { parts, setup, errors: session.errors.slice(0, 5) };
    log(`time step: median ${r.median_ms} ms, p95 ${r.p95_ms} ms over ${r.runs} steps`);
  } finally {
    await session.close();
  }
}

// --------------------------------------------------------------------------------------------
// The report

const TARGETS = {
  'brush/100000': { text: '<= 16 ms and >= 50x best baseline', check: (r, best) => r.median_ms <= 16 && (best === null || best.lowerBound / r.median_ms >= 50) },
  'brush/1000000': { text: '<= 50 ms', check: r => r.median_ms <= 50 },
  'brush/4000000': { text: '<= 150 ms', check: r => r.median_ms <= 150 },
  'lasso/1000000': { text: '<= 50 ms', check: r => r.median_ms <= 50 },
  'weight_drag/10000': { text: '<= 33 ms', check: r => r.median_ms <= 33 },
  'first_render/1000000': { text: '<= 1000 ms', check: r => r.median_ms <= 1000 },
  'time_step/10000': { text: '<= 50 ms', check: r => r.median_ms <= 50 }
};

function fmt(x, digits = 1) {
  if (x === null || x === undefined) return '-';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  return x.toFixed(digits);
}

/** The best (fastest) baseline for a metric and size: the value or, if none finished, a bound. */
function bestBaseline(metric, rows) {
  const baselines = records.filter(r => r.metric === metric && r.rows === rows && r.library !== DSI);
  let best = null;
  for (const r of baselines) {
    const value = r.status === 'dnf' ? r.timeout_ms ?? null : r.median_ms;
    if (value === null) continue;
    if (!best || value < best.lowerBound) {
      best = { lowerBound: value, dnf: r.status === 'dnf', library: r.library };
    }
  }
  return best;
}

function report() {
  const header = ['rows', 'metric', 'library', 'median', 'p95', 'runs', 'vs dsi', 'target', 'met'];
  const lines = [];
  const notes = [];
  const note = text => {
    notes.push(text);
    return `[${notes.length}]`;
  };
  const order = ['first_render', 'brush', 'lasso', 'weight_drag', 'heap_mb', 'time_step'];
  const sizes = [...new Set(records.map(r => r.rows))].sort((a, b) => a - b);
  for (const rows of sizes) {
    for (const metric of order) {
      const group = records.filter(r => r.rows === rows && r.metric === metric);
      const dsi = group.find(r => r.library === DSI);
      for (const r of group) {
        const unit = metric === 'heap_mb' ? ' MB' : ' ms';
        let ratio = '';
        if (r.library === DSI) {
          ratio = r.median_ms ? '1x' : '';
        } else if (dsi && dsi.median_ms) {
          if (r.status === 'dnf') {
            ratio = r.timeout_ms ? `> ${fmt(r.timeout_ms / dsi.median_ms, 0)}x` : '';
          } else {
            const x = r.median_ms / dsi.median_ms;
            ratio = `${r.status === 'partial' ? '>= ' : ''}${fmt(x, x >= 10 ? 0 : 1)}x`;
          }
        }
        let target = '';
        let met = '';
        const t = TARGETS[`${metric}/${rows}`];
        if (t && r.library === DSI) {
          target = t.text;
          met = r.status === 'dnf' ? 'NOT MET' : t.check(r, bestBaseline(metric, rows)) ? 'met' : 'NOT MET';
        }
        let median;
        let p95 = fmt(r.p95_ms) + unit;
        if (r.status === 'dnf') {
          median = `dnf ${note(`${r.library} ${metric} at ${rows.toLocaleString('en-US')} rows: ${r.why}`)}`;
          p95 = '';
        } else {
          median = (r.status === 'partial' ? '>= ' : '') + fmt(r.median_ms) + unit;
          if (r.why) median += ` ${note(`${r.library} ${metric} at ${rows.toLocaleString('en-US')} rows: ${r.why}`)}`;
        }
        lines.push([rows.toLocaleString('en-US'), metric, r.library, median, p95, String(r.runs), ratio, target, met]);
      }
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map(l => l[i].length)));
  const right = new Set([3, 4, 5, 6]);
  const row = cells => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  console.log('');
  console.log(row(header));
  console.log(widths.map(w => '-'.repeat(w)).join('  '));
  lines.forEach(l => console.log(row(l)));
  console.log('');
  console.log("vs dsi: the library's median / jupyterlab-dsi's (times slower, or times more memory);");
  console.log("        '> Nx' for a run stopped by its timeout, '>=' where a sample is a timeout's lower bound.");
  notes.forEach((text, i) => console.log(`[${i + 1}] ${text}`));
  const best100k = bestBaseline('brush', 100000);
  const dsi100k = records.find(r => r.library === DSI && r.rows === 100000 && r.metric === 'brush');
  if (best100k && dsi100k && dsi100k.median_ms) {
    console.log(
      `brush at 100k: best baseline ${best100k.library} ${best100k.dnf ? '>= ' : ''}${fmt(best100k.lowerBound)} ms = ` +
        `${fmt(best100k.lowerBound / dsi100k.median_ms, 1)}x jupyterlab-dsi's median (target >= 50x)`
    );
  }
  const missed = records.filter(r => {
    const t = TARGETS[`${r.metric}/${r.rows}`];
    return t && r.library === DSI && (r.status === 'dnf' || !t.check(r, bestBaseline(r.metric, r.rows)));
  });
  if (missed.length) {
    console.log('');
    console.log('Targets not met, and where the median time goes (medians, ms):');
    for (const r of missed) {
      const t = TARGETS[`${r.metric}/${r.rows}`];
      const parts = partsOf(r);
      let line = `  ${r.metric} at ${r.rows.toLocaleString('en-US')} rows: ${fmt(r.median_ms)} ms, target ${t.text}`;
      if (r.metric === 'brush' && r.rows === 100000) {
        const best = bestBaseline('brush', 100000);
        if (best) line += ` (best baseline ${fmt(best.lowerBound / r.median_ms, 1)}x)`;
      }
      console.log(line);
      if (parts && parts.length) console.log(`    ${explain(parts)}`);
    }
  }
  if (SMOKE) return; // a check that the bench runs: the table is enough
  console.log('');
  console.log('Details (brush breakdown: medians over the moves, ms; frames = painted frames until no drawing was pending):');
  for (const [key, info] of Object.entries(details)) {
    const bits = [];
    if (info.brushInput) bits.push(`brush input: ${info.brushInput}`);
    if (info.selected && info.selected.length) {
      // The same move selects the same rows in every library: a check of the harness.
      const rows = Number(key.split('/')[1]);
      const at = info.selected.find(x => x.step === 2) || info.selected[0];
      bits.push(`selected at move ${at.step}: ${fmt((100 * at.selected) / rows)}%`);
    }
    if (info.heap) {
      const h = info.heap;
      bits.push(`heap: JS ${fmt(h.js)} + DOM ${fmt(h.dom)} + ArrayBuffers ${fmt(h.buffers)} MB`);
    }
    if (info.setupParts && info.setupParts.length) bits.push(`first render: ${medianParts(info.setupParts)}`);
    if (info.parts && info.parts.length) {
      const what = key.endsWith('time_step') ? 'step' : key.endsWith('lasso') ? 'lasso move' : key.endsWith('weight_drag') ? 'slider move' : 'brush';
      bits.push(`${what}: ${medianParts(info.parts)}`);
    }
    if (info.setup) bits.push(`setup ${JSON.stringify(info.setup)}`);
    if (info.notes && info.notes.length) bits.push(info.notes.join('; '));
    if (info.errors && info.errors.length) bits.push(`page errors: ${info.errors.join(' | ')}`);
    if (bits.length) console.log(`  ${key}: ${bits.join('; ')}`);
  }
}

/**
 * Add `browser`: the time outside the JavaScript the harness times (the synchronous part and
 * the views' frames): waiting for the display's frame, rasterising canvases, style, layout,
 * paint. Only where the parts say what the views' frames cost (jupyterlab-dsi).
 */
function withBrowser(p) {
  if (typeof p.view === 'number' || typeof p.scatter === 'number') {
    p.browser = Math.max(0, p.total - p.sync - (p.view || 0) - (p.scatter || 0));
  }
  return p;
}

/** The median of each part over the moves. */
function medianOf(parts) {
  const keys = [...new Set(parts.flatMap(p => Object.keys(p)))];
  const out = {};
  for (const k of keys) {
    const values = parts.map(p => (typeof p[k] === 'number' ? p[k] : 0)).sort((a, b) => a - b);
    out[k] = quantile(values, 0.5);
  }
  return out;
}

/**
 * Where the time of a jupyterlab-dsi interaction went: its top-level parts, largest first,
 * each with its largest sub-parts.
 */
function explain(parts) {
  const m = medianOf(parts);
  if (m.worker > 0) m.sync = Math.max(0, m.sync - m.worker); // the time step's sync part awaits it
  const top = ['worker', 'sync', 'view', 'scatter', 'browser'].filter(k => m[k] > 0);
  const children = prefix =>
    Object.keys(m)
      .filter(k => k.startsWith(prefix + '.') && m[k] > 0.05)
      .sort((a, b) => m[b] - m[a])
      .slice(0, 3)
      .map(k => `${k.slice(prefix.length + 1)} ${fmt(m[k])}`);
  const label = {
    sync: m.worker > 0 ? 'model (after the slice came)' : 'pointer handler + model (sync)',
    worker: 'worker (slice request)',
    browser: 'browser (frame wait, raster, paint)'
  };
  const pieces = top
    .sort((a, b) => m[b] - m[a])
    .map(k => {
      const sub = k === 'sync' ? children('model') : children(k);
      return `${label[k] || k} ${fmt(m[k])}${sub.length ? ` (${sub.join(', ')})` : ''}`;
    });
  return `${pieces.join('; ')}; ${fmt(m.frames, 0)} frame(s)`;
}

/** The per-interaction parts behind a jupyterlab-dsi record (first render, brush, lasso, ...). */
function partsOf(r) {
  if (r.metric === 'time_step') return (details[`${DSI}/time_step`] || {}).parts;
  if (r.metric === 'lasso' || r.metric === 'weight_drag') return (details[`${DSI}/${r.rows}/${r.metric}`] || {}).parts;
  const info = details[`${DSI}/${r.rows}`] || {};
  return r.metric === 'first_render' ? info.setupParts : r.metric === 'brush' ? info.parts : null;
}

/**
 * The records other suites keep in the same file (bench/scale.js's `scale` rows): kept as they
 * are, this run replaces its own suites' records only.
 */
function otherSuites() {
  try {
    const old = JSON.parse(fs.readFileSync(RESULTS, 'utf8'));
    return Array.isArray(old) ? old.filter(r => r && r.suite !== 'synthetic' && r.suite !== 'sqlite-worker') : [];
  } catch {
    return [];
  }
}

function medianParts(parts) {
  const keys = [...new Set(parts.flatMap(p => Object.keys(p)))];
  return keys
    .map(k => {
      // A part absent from a move took no time in it.
      const values = parts.map(p => (typeof p[k] === 'number' ? p[k] : 0)).sort((a, b) => a - b);
      return `${k} ${fmt(quantile(values, 0.5), 2)}`;
    })
    .join(', ');
}

// --------------------------------------------------------------------------------------------

async function main() {
  const t0 = Date.now();
  await build();
  const libs = LIBS;
  const extra = {};
  let db = null;
  if (libs.includes(DSI) && !env.BENCH_SKIP_TIME_STEP) {
    db = await timeStepDatabase(CACHE, SIMS, DB_STEPS);
    extra['/timestep.sqlite'] = db.file;
    log(`time-step database ${path.relative(process.cwd(), db.file)}${db.built ? ' (built)' : ' (cached)'}`);
  }
  const served = await serve(extra);
  const { server } = served;
  // Diagnostics only: force the parallel coordinates' density threshold.
  const url = served.url + (env.BENCH_DSI_DENSITY_THRESHOLD ? `?densityThreshold=${env.BENCH_DSI_DENSITY_THRESHOLD}` : '');
  log(`serving bench/dist at ${url}`);
  try {
    for (const rows of ROWS) {
      for (const library of libs) {
        try {
          await measure(url, library, rows);
        } catch (e) {
          log(`${library}/${rows} failed: ${e.stack || e}`);
          for (const metric of ['first_render', 'brush', 'heap_mb']) {
            if (!records.some(r => r.library === library && r.rows === rows && r.metric === metric)) {
              dnf('synthetic', library, rows, metric, `error: ${String(e.message || e).split('\n')[0]}`);
            }
          }
        }
      }
    }
    if (db) {
      try {
        await measureTimeStep(url);
      } catch (e) {
        log(`time step failed: ${e.stack || e}`);
        dnf('sqlite-worker', DSI, SIMS, 'time_step', `error: ${String(e.message || e).split('\n')[0]}`);
      }
    }
  } finally {
    server.close();
  }
  const rank = (list, x) => (list.indexOf(x) < 0 ? list.length : list.indexOf(x));
  const METRICS = ['first_render', 'brush', 'lasso', 'weight_drag', 'heap_mb', 'time_step'];
  const LIBRARY_ORDER = [DSI, 'parcoord-es', 'd3-svg'];
  records.sort(
    (a, b) =>
      a.rows - b.rows ||
      rank(METRICS, a.metric) - rank(METRICS, b.metric) ||
      rank(LIBRARY_ORDER, a.library) - rank(LIBRARY_ORDER, b.library)
  );
  // Each jupyterlab-dsi interaction carries where its median time went; a missed target says it
  // in a line too (what the table prints under "Targets not met").
  for (const r of records) {
    const parts = r.library === DSI ? partsOf(r) : null;
    if (parts && parts.length) {
      const m = medianOf(parts);
      r.breakdown = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, round(v)]));
      const t = TARGETS[`${r.metric}/${r.rows}`];
      if (t && (r.status === 'dnf' || !t.check(r, bestBaseline(r.metric, r.rows)))) r.missed = explain(parts);
    }
  }
  fs.writeFileSync(RESULTS, JSON.stringify([...otherSuites(), ...records], null, 2) + '\n');
  report();
  log(`wrote ${path.relative(process.cwd(), RESULTS)} (${records.length} records) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const problems = missingFigures(libs, Boolean(db));
  if (problems.length) {
    throw new Failure(`${problems.length} figure(s) could not be measured:\n${problems.map(p => `  - ${p}`).join('\n')}`);
  }
}

/**
 * What makes this run's table untrustworthy: a jupyterlab-dsi figure missing (an error, a
 * timeout, a brush that selected nothing or everything, a page error, a time-step database
 * that the panel does not read as 40 steps), or a baseline that failed with an error rather
 * than by being slow.
 */
function missingFigures(libs, timeStep) {
  const problems = [];
  const find = (library, rows, metric) =>
    records.find(r => r.library === library && r.rows === rows && r.metric === metric);
  for (const rows of ROWS) {
    for (const library of libs) {
      for (const metric of ['first_render', 'brush', 'heap_mb']) {
        const r = find(library, rows, metric);
        const where = `${library} ${metric} at ${rows.toLocaleString('en-US')} rows`;
        if (!r) {
          problems.push(`${where}: no record`);
        } else if (library === DSI && (r.median_ms === null || r.status === 'dnf' || r.status === 'partial')) {
          problems.push(`${where}: ${r.why || 'no value'}`);
        } else if (r.status === 'dnf' && /^error/.test(r.why || '')) {
          problems.push(`${where}: ${r.why}`);
        }
      }
      const info = details[`${library}/${rows}`] || {};
      if (library === DSI) {
        for (const metric of [...(LASSO_ROWS.includes(rows) ? ['lasso'] : []), ...(WEIGHT_ROWS.includes(rows) ? ['weight_drag'] : [])]) {
          const r = find(library, rows, metric);
          if (!r || r.median_ms === null) problems.push(`${DSI} ${metric} at ${rows.toLocaleString('en-US')} rows: no record`);
        }
        const lasso = details[`${DSI}/${rows}/lasso`];
        if (lasso && lasso.selected.length && !lasso.selected.some(x => x.selected > 0 && x.selected < rows)) {
          problems.push(`${DSI} lasso at ${rows.toLocaleString('en-US')} rows selected nothing or everything: the drag did not lasso`);
        }
        // A drag that missed the brush, or a model that ignores it, would time nothing.
        const share = info.selected && info.selected.length ? info.selected[0].selected / rows : null;
        if (share !== null && !(share > 0 && share < 1)) {
          problems.push(`${DSI} brush at ${rows.toLocaleString('en-US')} rows selected ${fmt(100 * share)}% of the rows: the drag did not brush`);
        }
        if (info.errors && info.errors.length) {
          problems.push(`${DSI} at ${rows.toLocaleString('en-US')} rows: page errors: ${info.errors.join(' | ')}`);
        }
      }
    }
  }
  if (timeStep) {
    const r = find(DSI, SIMS, 'time_step');
    const info = details[`${DSI}/time_step`] || {};
    if (!r || r.median_ms === null) {
      problems.push(`${DSI} time_step: ${(r && r.why) || 'no record'}`);
    } else if (info.setup && Number(info.setup.steps) !== DB_STEPS) {
      problems.push(`${DSI} time_step: the panel reads ${info.setup.steps} step(s) in the ${DB_STEPS}-step database`);
    } else if (info.setup && !(Number(info.setup.selected) > 0 && Number(info.setup.selected) < SIMS)) {
      problems.push(`${DSI} time_step: the brush selected ${info.setup.selected} of ${SIMS} simulations`);
    }
    if (info.errors && info.errors.length) problems.push(`${DSI} time_step: page errors: ${info.errors.join(' | ')}`);
  }
  return problems;
}

main().catch(e => {
  console.error(e instanceof Failure ? `[bench] FAILED: ${e.message}` : e);
  process.exit(1);
});
