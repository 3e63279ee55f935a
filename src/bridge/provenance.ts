/**
 * The provenance cells written below the active cell when a dataset is saved: a Markdown record
 * of the decision (name, description, method, time, filter, d_feature's formula, size, digest,
 * created, author) and a code cell `%dsi load <id> --db <path>` that brings the members back as
 * a DataFrame.
 *
 * User text never becomes code or markup: Markdown text is escaped character by character,
 * the filter sits in a code span, and the only code written is the magic with a checked UUID and
 * a shell-quoted path (`%dsi` is declared without variable expansion).
 */
import { PathExt } from '@jupyterlab/coreutils';

import { featureFormula } from '../model/feature';

export interface IProvenanceDataset {
  id: string;
  name: string;
  description: string;
  methodId: string | null;
  t: number | null;
  filter: string;
  size: number;
  digest: string;
  createdAt: string;
  author: string;
  sampling?: unknown;
  /** d_feature's terms {column: weight} (null or absent: none saved). */
  feature?: Record<string, number> | null;
}

export interface IProvenanceMethod {
  groundTruth: string;
  norm: string;
  gtTime: number | null;
}

/** Metadata key of the cells, so tools (and tests) can find them. */
export const METADATA_KEY = 'jupyterlab-dsi';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Characters that can start markup anywhere in a line (autolinks start at `:`, `@`, `www.`). */
const MARKUP = new Set('\\`*_[]|~<>&$!#:@');

/**
 * Markdown text that renders as exactly `text`, on one line. Characters that could become markup
 * (and any punctuation, digit or blank opening the line: a list, a heading, a quote, a code
 * block) are written as numeric
 * character references, which CommonMark and GFM always read as literal characters, never as
 * markup, HTML, a link or a table pipe; the rest stays readable in the cell's source.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/\r\n?|\n/g, ' ')
    // A leading digit too (`1. ` would start an ordered list), and leading blank (four spaces or
    // a tab would start a code block).
    .replace(/[!-/:-@[-`{-~]|^[\d \t]/g, (c, offset: number, whole: string) =>
      offset === 0 || MARKUP.has(c) || (c === '.' && /www$/i.test(whole.slice(0, offset)))
        ? `&#${c.charCodeAt(0)};`
        : c
    );
}

/**
 * A code span around `text` that no backtick inside can close, for a table cell: a `|` becomes
 * `\|`, which GFM reads back as `|` (a run of k backslashes before it stays whole when k is
 * even). A table cannot hold an odd run of backslashes before a pipe in code (the pipe would end
 * the cell, the rest of the text lost): such text is escaped as prose instead, exact if plain.
 */
export function codeSpan(text: string): string {
  const line = text.replace(/\r\n?|\n/g, ' ');
  if (/(^|[^\\])(\\\\)*\\\|/.test(line)) {
    return escapeMarkdown(line);
  }
  const longest = Math.max(0, ...(line.match(/`+/g) ?? []).map(run => run.length));
  const fence = '`'.repeat(longest + 1);
  // CommonMark strips one space from both ends when both are spaces: pad then too.
  const spaced = line.startsWith(' ') && line.endsWith(' ') && line.trim() !== '';
  const pad = line.startsWith('`') || line.endsWith('`') || spaced ? ' ' : '';
  return `${fence}${pad}${line.replace(/\|/g, '\\|')}${pad}${fence}`;
}

/** A word as POSIX shlex reads it back (Python's shlex.split, which %dsi uses). */
export function shellQuote(text: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(text)) {
    return text;
  }
  return "'" + text.replace(/'/g, `'"'"'`) + "'";
}

function samplingText(sampling: unknown): string | null {
  const s = sampling as { kind?: string; p?: number; n?: number; seed?: number } | null;
  if (!s || typeof s !== 'object') {
    return null;
  }
  if (s.kind === 'p' && typeof s.p === 'number') {
    return `each selected simulation kept with probability ${s.p}, seed ${s.seed ?? 0}`;
  }
  if (s.kind === 'n' && typeof s.n === 'number') {
    return `${s.n} of the selected simulations, seed ${s.seed ?? 0}`;
  }
  return null;
}

/** The Markdown cell: a heading, the description, then one table row per fact. */
export function provenanceMarkdown(
  dataset: IProvenanceDataset,
  method: IProvenanceMethod | null,
  databasePath: string
): string {
  const methodText = method
    ? `${escapeMarkdown(method.groundTruth)} · ${escapeMarkdown(method.norm)} · ${
        method.gtTime === null ? 'matched steps' : `vs step ${method.gtTime}`
      } (${codeSpan((dataset.methodId ?? '').slice(0, 8))})`
    : dataset.methodId
      ? codeSpan(dataset.methodId)
      : '—';
  const sampling = samplingText(dataset.sampling);
  const rows: [string, string][] = [
    ['Method', methodText],
    // The step as the panel, `t`, `--time` and the exports all count it (docs/data-model.md).
    ['Step', dataset.t === null ? '—' : String(dataset.t)],
    ['Filter', dataset.filter ? codeSpan(dataset.filter) : 'everything'],
    ...(dataset.feature && Object.keys(dataset.feature).length > 0
      ? ([['Feature', codeSpan(featureFormula(dataset.feature))]] as [string, string][])
      : []),
    ['Size', `${dataset.size.toLocaleString('en-US')} simulation${dataset.size === 1 ? '' : 's'}`],
    ...(sampling ? ([['Sampling', escapeMarkdown(sampling)]] as [string, string][]) : []),
    ['Digest', codeSpan(dataset.digest)],
    ['Created', `${escapeMarkdown(dataset.createdAt)} by ${escapeMarkdown(dataset.author || 'unknown')}`],
    ['Database', codeSpan(databasePath)],
    ['Dataset id', codeSpan(dataset.id)]
  ];
  return [
    `### Training dataset: ${escapeMarkdown(dataset.name)}`,
    '',
    escapeMarkdown(dataset.description),
    '',
    '| | |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    'Saved with the DSI Explorer. The cell below loads its members; `%dsi show` with this id restores the view that made it.'
  ].join('\n');
}

/**
 * The code cell. The database path is written relative to the notebook's directory (the
 * kernel's working directory), so the notebook and its database can move together.
 */
export function provenanceCode(datasetId: string, databasePath: string, notebookPath: string): string {
  if (!UUID.test(datasetId)) {
    throw new Error(`not a dataset id: ${JSON.stringify(datasetId.slice(0, 40))}`);
  }
  const from = PathExt.dirname(notebookPath);
  const relative = PathExt.relative(from === '.' ? '' : from, databasePath) || databasePath;
  return `%dsi load ${datasetId} --db ${shellQuote(relative)}`;
}
