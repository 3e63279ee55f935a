/**
 * Under the views: export them as PNG or SVG, download the selection as CSV, and show it as a
 * table (the first rows; the CSV has them all).
 */
import type { ExplorerModel } from '../model/explorer';
import { formatCount, h } from './dom';
import { cellText, download, selectedRows, selectionCsv, svgToPng, viewsToSvg } from './exportViews';

/** Rows shown in the panel's table; the CSV has every selected run. */
export const TABLE_ROWS = 200;

export class ExportBar {
  /** The buttons. */
  readonly node: HTMLElement;
  /** The selection's table (hidden until asked for). */
  readonly table = h('div', { class: 'jp-DSI-selectionTable', 'data-testid': 'dsi-selection-table', hidden: '' });

  constructor(
    private readonly _model: ExplorerModel,
    private readonly _views: () => HTMLElement[],
    private readonly _path: () => string | null
  ) {
    const button = (label: string, title: string, act: () => void | Promise<void>) => {
      const b = h('button', { class: 'jp-DSI-button jp-mod-styled', type: 'button', title }, label);
      b.addEventListener('click', () => void this._run(act));
      return b;
    };
    this._toggle = button('Table', 'Show the selected runs as a table', () => this._toggleTable());
    this._toggle.setAttribute('aria-expanded', 'false');
    this._csv = button('CSV', 'Download the selected runs as CSV: sim_id and every column', () => this._downloadCsv());
    this.node = h(
      'div',
      { class: 'jp-DSI-exportBar', role: 'group', 'aria-label': 'Export' },
      h('span', { class: 'jp-DSI-fieldLabel' }, 'Export'),
      button('PNG', 'Download both views as a PNG image', () => this._downloadImage('png')),
      button('SVG', 'Download both views as SVG (axes as vectors, lines and dots as images)', () => this._downloadImage('svg')),
      this._csv,
      this._toggle,
      this._message
    );
    this._message.className = 'jp-DSI-hint jp-DSI-exportMessage';
    this._message.setAttribute('role', 'status');
  }

  /** Reflect the selection (after any change): the CSV button and, when shown, the table. */
  update(): void {
    this._csv.disabled = this._model.count === 0;
    if (!this.table.hidden) {
      this._renderTable();
    }
  }

  private async _run(act: () => void | Promise<void>): Promise<void> {
    this._message.textContent = '';
    try {
      await act();
    } catch (error) {
      console.error('jupyterlab-dsi: export failed', error);
      this._message.textContent = `Export failed: ${(error as Error).message}`;
    }
  }

  /** "sample" for "data/sample.sqlite": the start of every exported file's name. */
  private _stem(): string {
    const name = (this._path() ?? 'explorer').split('/').pop() ?? 'explorer';
    return name.replace(/\.[^.]*$/, '') || 'explorer';
  }

  private async _downloadImage(kind: 'png' | 'svg'): Promise<void> {
    const views = this._views();
    const background = getComputedStyle(views[0]).backgroundColor || 'white';
    const { svg, width, height } = viewsToSvg(views, background);
    const blob =
      kind === 'svg'
        ? new Blob([svg], { type: 'image/svg+xml' })
        : await svgToPng(svg, width, height, Math.max(2, window.devicePixelRatio || 1));
    download(blob, `${this._stem()}-views.${kind}`);
  }

  private _downloadCsv(): void {
    const table = this._model.table;
    if (!table) {
      return;
    }
    download(new Blob([selectionCsv(table, this._model.selected)], { type: 'text/csv' }), `${this._stem()}-selection.csv`);
  }

  private _toggleTable(): void {
    this.table.hidden = !this.table.hidden;
    this._toggle.setAttribute('aria-expanded', String(!this.table.hidden));
    this._toggle.textContent = this.table.hidden ? 'Table' : 'Hide table';
    if (!this.table.hidden) {
      this._renderTable();
    }
  }

  private _renderTable(): void {
    const model = this._model;
    const table = model.table;
    if (!table) {
      this.table.replaceChildren();
      return;
    }
    const rows = selectedRows(model.selected, TABLE_ROWS);
    const head = h('tr', {}, h('th', {}, 'sim_id'), ...table.columns.map(c => h('th', {}, c.name)));
    const body = rows.map(row =>
      h(
        'tr',
        {},
        h('td', {}, table.ids[row]),
        ...table.columns.map(c => {
          const value = cellText(c, row);
          return h('td', typeof value === 'number' ? { class: 'jp-DSI-numeric' } : {}, typeof value === 'number' ? Number(value.toPrecision(6)) : value);
        })
      )
    );
    const note =
      model.count > rows.length
        ? `The first ${formatCount(rows.length)} of ${formatCount(model.count)} selected runs; the CSV has them all.`
        : `${formatCount(model.count)} selected ${model.count === 1 ? 'run' : 'runs'}.`;
    this.table.replaceChildren(
      h('p', { class: 'jp-DSI-hint' }, note),
      h('div', { class: 'jp-DSI-tableScroll' }, h('table', { class: 'jp-DSI-table' }, h('thead', {}, head), h('tbody', {}, ...body)))
    );
  }

  private readonly _toggle: HTMLButtonElement;
  private readonly _csv: HTMLButtonElement;
  private readonly _message = document.createElement('span');
}
