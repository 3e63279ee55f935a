/**
 * The run behind a point (issue 17 §1): the clicked run's field at the explorer's step, and with
 * a method selected the ground truth's field at the step it was compared with and |ρ_gt − ρ|
 * over D+ (the cells the norms use; blank elsewhere). Run and ground truth share one color
 * domain, so equal colors are equal values. It follows the time slider and the method; a
 * Cinema run without a field shows its FILE images instead. A failure is one line in the view,
 * never a broken panel.
 */
import type { IFrame } from '../db/frameCodec';
import {
  fetchField as serverFetchField,
  fetchImage as serverFetchImage,
  fetchImageColumns as serverFetchImageColumns,
  type IFieldHeader,
  type IFieldRequest
} from '../server';
import { colorDomain, formatNumber, Heatmap, type IHeatmapGrid } from '../views/heatmap';
import { h } from './dom';

/** What the view follows in the explorer. */
export interface IFieldContext {
  /** The explorer's step. */
  t: number;
  /** The selected method's comparison (null: no method): its ground truth and step matching. */
  method: { groundTruth: string; gtTime: number | null; matchTime: 'index' | 'nearest'; field: string } | null;
}

export interface IFieldViewOptions {
  /** The open database (relative to the server's root). */
  path: () => string | null;
  context: () => IFieldContext;
  /** Make this run the ground truth (a scratch method; helper S's); absent: no button. */
  useAsGroundTruth?: (simId: string) => void;
  /** The view was closed (its × button). */
  onClose?: () => void;
  fetchField?: (path: string, request: IFieldRequest) => Promise<IFrame<IFieldHeader>>;
  fetchImageColumns?: (path: string, sim: string) => Promise<{ name: string; per_step: boolean }[]>;
  fetchImage?: (path: string, sim: string, column: string, t?: number) => Promise<Blob>;
}

export type FieldViewState = 'closed' | 'loading' | 'ready' | 'error';

/** The readout line while the pointer is off the heatmaps. */
const READOUT_HINT = 'Point at a cell for its value.';

/** How the field is named in a caption: density as ρ, a VTK array by its name. */
function quantity(field: string): string {
  return field === 'density' ? 'ρ' : field;
}

/** "step 39 (t = 40)", kept on one line (no-break spaces): a narrow title wraps at its "·". */
function stepText(t: number, time: number | undefined): string {
  const text = time === undefined || !Number.isFinite(time) ? `step ${t}` : `step ${t} (t = ${formatNumber(time)})`;
  return text.replace(/ /g, '\u00a0');
}

export class FieldView {
  readonly node: HTMLElement;

  constructor(private readonly _options: IFieldViewOptions) {
    this._close.addEventListener('click', () => this.close());
    this._useButton.addEventListener('click', () => {
      if (this._simId) {
        this._options.useAsGroundTruth?.(this._simId);
      }
    });
    this._useButton.hidden = !_options.useAsGroundTruth;
    this.node = h(
      'section',
      { class: 'jp-DSI-fieldView', 'data-testid': 'dsi-field-view', 'aria-label': 'Field of the run', hidden: '' },
      h('div', { class: 'jp-DSI-fieldHeader' }, this._title, this._close),
      // The value under the pointer beside the action: two short lines above the heatmaps.
      h('div', { class: 'jp-DSI-fieldHeader' }, this._readout, this._useButton),
      this._status,
      this._error,
      this._body
    );
    if (typeof ResizeObserver !== 'undefined') {
      // Redrawn for a new width only (its own height changes as it draws).
      this._observer = new ResizeObserver(() => {
        const width = this.node.clientWidth;
        if (width !== this._width) {
          this._width = width;
          this.resize();
        }
      });
      this._observer.observe(this.node);
    }
  }

  get state(): FieldViewState {
    return this._state;
  }

  /** The run shown, null when closed. */
  get simId(): string | null {
    return this._simId;
  }

  /** Show `simId`'s field at the explorer's step (and the method's ground truth's). */
  open(simId: string): Promise<void> {
    this._simId = simId;
    // The database it was opened in: another opened meanwhile leaves this view on its own file.
    this._path = this._options.path();
    this._shownKey = '';
    this.node.hidden = false;
    this.node.setAttribute('data-sim', simId);
    return this.update();
  }

  /** The explorer moved (a step, a method): load what the view shows now, if that changed. */
  update(): Promise<void> {
    const request = this._request();
    if (!request) {
      return Promise.resolve();
    }
    const key = JSON.stringify(request);
    if (key === this._pendingKey) {
      return this._pending ?? Promise.resolve();
    }
    if (key === this._shownKey) {
      if (this._pending) {
        // Back to what is shown while another request loads (A → B → A): B's answer is dropped.
        this._seq++;
        this._pending = null;
        this._pendingKey = '';
        this._setState('ready', '');
      }
      return Promise.resolve();
    }
    this._pendingKey = key;
    this._pending = this._load(request, key);
    return this._pending;
  }

  close(): void {
    if (this._state === 'closed') {
      return;
    }
    this._seq++; // an answer on its way is dropped
    this._simId = null;
    this._path = null;
    this._pending = null;
    this._shownKey = this._pendingKey = '';
    this._state = 'closed';
    this.node.hidden = true;
    this.node.removeAttribute('data-sim');
    this._body.replaceChildren();
    this._heatmaps = [];
    this._revokeImages();
    this._options.onClose?.();
  }

  /** Re-lay the heatmaps out for the view's width. */
  resize(): void {
    for (const map of this._heatmaps) {
      map.draw();
    }
  }

  dispose(): void {
    this._observer?.disconnect();
    this._seq++;
    this._revokeImages();
  }

  private _request(): (IFieldRequest & { path: string }) | null {
    const path = this._path;
    if (!this._simId || !path) {
      return null;
    }
    const { t, method } = this._options.context();
    const request: IFieldRequest & { path: string } = { path, sim: this._simId, t };
    if (method) {
      request.field = method.field;
      request.gt = method.groundTruth;
      request.gtTime = method.gtTime;
      request.matchTime = method.matchTime;
    }
    return request;
  }

  private async _load(request: IFieldRequest & { path: string }, key: string): Promise<void> {
    const seq = ++this._seq;
    this._setState('loading', `Loading ${request.sim} at step ${request.t}…`);
    const fetchField = this._options.fetchField ?? serverFetchField;
    try {
      const { path, ...query } = request;
      const frame = await fetchField(path, query);
      if (seq !== this._seq) {
        return;
      }
      this._showField(frame);
      this._shownKey = key;
      this._setState('ready', '');
    } catch (error) {
      if (seq !== this._seq) {
        return;
      }
      const message = ((error as Error)?.message || String(error)).split('\n')[0];
      // A Cinema run has images, not a field: show them instead of the reason there is no field.
      if (/has no field file/.test(message) && (await this._showImages(request, seq))) {
        if (seq === this._seq) {
          this._shownKey = key;
        }
        return;
      }
      if (seq === this._seq) {
        this._showError(request, message);
        this._shownKey = key; // the same request fails the same way: not retried on every redraw
      }
    } finally {
      if (seq === this._seq) {
        this._pendingKey = '';
        this._pending = null;
      }
    }
  }

  private _setState(state: FieldViewState, status: string): void {
    this._state = state;
    this.node.setAttribute('data-state', state);
    this._status.textContent = status;
    this._status.hidden = !status;
    this._body.classList.toggle('jp-mod-loading', state === 'loading');
    if (state !== 'error') {
      this._error.hidden = true;
      this._error.textContent = '';
    }
  }

  private _showError(request: IFieldRequest, message: string): void {
    this._title.textContent = `${request.sim} · step ${request.t}`;
    this._useButton.disabled = true;
    this._body.replaceChildren();
    this._heatmaps = [];
    this._readout.hidden = true;
    this._setState('error', '');
    this._error.textContent = message;
    this._error.hidden = false;
  }

  private _showField(frame: IFrame<IFieldHeader>): void {
    const head = frame.header;
    const [n1, n2] = head.shape.slice(-2) as [number, number];
    const size = n1 * n2;
    const layers = head.layers ? [0, 1, 2].map(k => frame.data.subarray(k * size, (k + 1) * size)) : [frame.data];
    const grid = (data: Float32Array): IHeatmapGrid => ({
      data,
      shape: [n1, n2],
      extent: [head.r, head.z],
      labels: [head.axes[0], head.axes[1]],
      edges: head.edges,
      // z (or x) along the width: R/z fields are wide in z, and x/y plots read x across.
      horizontal: head.axes[0] === 'R' ? 1 : 0
    });
    const q = quantity(head.field);
    this._title.textContent = `${head.sim_id} · ${stepText(head.t, head.time)}`;
    this._title.title = head.downsampled
      ? `Shown as ${n1}×${n2} block means of its ${head.source_shape[0]}×${head.source_shape[1]} cells`
      : `${n1}×${n2} cells`;
    const isGroundTruth = head.gt === head.sim_id;
    this._useButton.hidden = !this._options.useAsGroundTruth;
    this._useButton.disabled = isGroundTruth;
    this._useButton.title = isGroundTruth
      ? `${head.sim_id} is the ground truth already`
      : `Compare every run with ${head.sim_id}: distances recomputed on the fly`;
    // One color domain for the run and the ground truth: equal colors, equal values.
    const domain = colorDomain(layers.slice(0, 2));
    const panels: HTMLElement[] = [];
    this._heatmaps = [];
    const say = (text: string | null) => (this._readout.textContent = text ?? READOUT_HINT);
    const panel = (caption: string, testid: string, data: Float32Array, colormap: 'viridis' | 'magma', d: [number, number], what: string, label: string) => {
      const map = new Heatmap({ colormap, domain: d, quantity: what, onReadout: say, label });
      this._heatmaps.push(map);
      panels.push(h('figure', { class: 'jp-DSI-fieldPanel', 'data-testid': testid }, h('figcaption', {}, caption), map.node));
      return { map, data };
    };
    const at = `step ${head.t}`;
    const drawn = [panel(`${q} of ${head.sim_id}`, 'dsi-field-run', layers[0], 'viridis', domain, q, `${q} of ${head.sim_id} at ${at}`)];
    if (layers.length === 3 && head.gt) {
      drawn.push(
        panel(
          `${q} of the ground truth ${head.gt} · ${stepText(head.gt_t ?? 0, head.gt_time)}`,
          'dsi-field-gt',
          layers[1],
          'viridis',
          domain,
          `${q}_gt`,
          `${q} of the ground truth ${head.gt} at step ${head.gt_t ?? 0}`
        ),
        panel(
          `|${q}_gt − ${q}| on D+ (${q}_gt·${q} > 0; hatched elsewhere)`,
          'dsi-field-diff',
          layers[2],
          'magma',
          colorDomain([layers[2]], true),
          `|${q}_gt − ${q}|`,
          `|${q}_gt − ${q}| on D+ between ${head.sim_id} at ${at} and the ground truth ${head.gt}`
        )
      );
    }
    if (head.downsampled) {
      panels.push(
        h('p', { class: 'jp-DSI-hint' }, `Block means of ${head.source_shape[0]}×${head.source_shape[1]} cells, shown as ${n1}×${n2}.`)
      );
    }
    this._revokeImages();
    say(null);
    this._readout.hidden = false;
    this._body.replaceChildren(...panels);
    // Drawn once in the document, so that they measure the width they get.
    for (const { map, data } of drawn) {
      map.setData(grid(data));
    }
  }

  /** The run's FILE images (Cinema); false when it has none (the field's error is shown). */
  private async _showImages(request: IFieldRequest & { path: string }, seq: number): Promise<boolean> {
    const list = this._options.fetchImageColumns ?? serverFetchImageColumns;
    const fetchImage = this._options.fetchImage ?? serverFetchImage;
    let columns: { name: string; per_step: boolean }[];
    try {
      columns = await list(request.path, request.sim);
    } catch {
      return false;
    }
    if (seq !== this._seq || columns.length === 0) {
      return false;
    }
    const figures = await Promise.all(
      columns.map(async column => {
        const caption = h('figcaption', {}, column.per_step ? `${column.name} · step ${request.t}` : column.name);
        try {
          const blob = await fetchImage(request.path, request.sim, column.name, column.per_step ? request.t : 0);
          const url = URL.createObjectURL(blob);
          this._urls.push(url);
          return h('figure', { class: 'jp-DSI-fieldPanel', 'data-testid': 'dsi-field-image' }, caption, h('img', { src: url, alt: `${column.name} of ${request.sim}` }));
        } catch (error) {
          const message = ((error as Error)?.message || String(error)).split('\n')[0];
          return h('figure', { class: 'jp-DSI-fieldPanel' }, caption, h('p', { class: 'jp-DSI-fieldError', role: 'alert' }, message));
        }
      })
    );
    if (seq !== this._seq) {
      // A newer request took over: nothing was shown for this one.
      for (const figure of figures) {
        const src = figure.querySelector('img')?.getAttribute('src');
        if (src) {
          URL.revokeObjectURL(src);
          this._urls = this._urls.filter(u => u !== src);
        }
      }
      return false;
    }
    this._title.textContent = `${request.sim} · images`;
    this._readout.hidden = true;
    this._useButton.hidden = true; // a run without a field cannot be a ground truth
    this._heatmaps = [];
    this._body.replaceChildren(...figures);
    this._setState('ready', '');
    return true;
  }

  private _revokeImages(): void {
    for (const url of this._urls) {
      URL.revokeObjectURL(url);
    }
    this._urls = [];
  }

  private _state: FieldViewState = 'closed';
  private _simId: string | null = null;
  private _path: string | null = null;
  private _seq = 0;
  private _shownKey = '';
  private _pendingKey = '';
  private _pending: Promise<void> | null = null;
  private _heatmaps: Heatmap[] = [];
  private _urls: string[] = [];
  private _width = 0;
  private readonly _observer: ResizeObserver | null = null;
  private readonly _title = h('h3', { class: 'jp-DSI-fieldTitle', 'data-testid': 'dsi-field-title' });
  private readonly _useButton = h(
    'button',
    { class: 'jp-DSI-button jp-mod-styled', type: 'button', 'data-testid': 'dsi-field-use' },
    'Use as ground truth'
  ) as HTMLButtonElement;
  private readonly _close = h(
    'button',
    { class: 'jp-DSI-linkButton jp-DSI-fieldClose', type: 'button', title: 'Close the field view', 'aria-label': 'Close the field view' },
    '×'
  ) as HTMLButtonElement;
  private readonly _readout = h('p', { class: 'jp-DSI-heatmapReadout', 'data-testid': 'dsi-field-readout', hidden: '' });
  private readonly _status = h('p', { class: 'jp-DSI-hint jp-DSI-fieldStatus', role: 'status', 'data-testid': 'dsi-field-status', hidden: '' });
  private readonly _error = h('p', { class: 'jp-DSI-fieldError', role: 'alert', 'data-testid': 'dsi-field-error', hidden: '' });
  private readonly _body = h('div', { class: 'jp-DSI-fieldBody' });
}
