/**
 * The explorer's header: method, time step (slider, step buttons, play), d_feature's terms
 * (FeatureEditor), color-by with its legend, and the selection count.
 * Plain DOM bound to the ExplorerModel; every control is a native, keyboard-reachable element.
 */
import type { IMethod } from '../db/api';
import { isScratch, scratchLabel } from '../db/scratch';
import type { ExplorerModel } from '../model/explorer';
import { stepLabel } from '../model/steps';
import { formatCount, h } from './dom';
import { FeatureEditor } from './featureEditor';

const PLAY_INTERVAL_MS = 400;

export function methodLabel(m: IMethod): string {
  if (isScratch(m)) {
    return scratchLabel(m); // computed on the fly, not in the file
  }
  const time = m.gtTime !== null ? `step ${m.gtTime}` : m.matchTime === 'nearest' ? 'nearest in time' : 'matched';
  const geometry = m.geometry ? ` · ${m.geometry}` : '';
  const field = m.field !== 'density' ? ` · ${m.field}` : '';
  return `${m.groundTruth} · ${m.norm} · ${time}${geometry}${field}`;
}

function field(label: string, control: HTMLElement, extra?: HTMLElement): HTMLElement {
  return h('label', { class: 'jp-DSI-field' }, h('span', { class: 'jp-DSI-fieldLabel' }, label), control, extra ?? null);
}

/** Sets `target[key]` only when it differs (reading is cheap; a write restyles). */
function setIf<T extends object, K extends keyof T>(target: T, key: K, value: T[K]): void {
  if (target[key] !== value) {
    target[key] = value;
  }
}

export class ExplorerControls {
  readonly node: HTMLElement;

  /** `onNewMethod` opens or closes the "New method…" form. */
  constructor(
    private readonly _model: ExplorerModel,
    onNewMethod: () => void
  ) {
    const model = _model;
    this._method.className = 'jp-DSI-select jp-mod-styled';
    this._method.setAttribute('aria-label', 'Method');
    this._method.addEventListener('change', () => {
      if (this._method.value) {
        void model.setMethod(this._method.value);
      }
    });
    const newMethod = h(
      'button',
      { class: 'jp-DSI-button jp-mod-styled', type: 'button', title: 'Post-process a new method: another ground truth, norm or time' },
      'New…'
    );
    newMethod.addEventListener('click', onNewMethod);

    this._slider.type = 'range';
    this._slider.min = '0';
    this._slider.step = '1';
    this._slider.setAttribute('aria-label', 'Time step');
    this._slider.addEventListener('input', () => void model.setTime(Number(this._slider.value)));
    const prev = h('button', { class: 'jp-DSI-iconButton', title: 'Previous step', 'aria-label': 'Previous time step' }, '‹');
    const next = h('button', { class: 'jp-DSI-iconButton', title: 'Next step', 'aria-label': 'Next time step' }, '›');
    prev.addEventListener('click', () => void model.setTime(model.t - 1));
    next.addEventListener('click', () => void model.setTime(model.t + 1));
    this._play.className = 'jp-DSI-iconButton';
    this._play.setAttribute('aria-label', 'Play through time');
    this._play.addEventListener('click', () => this._togglePlay());

    this._feature = new FeatureEditor(model);

    this._color.className = 'jp-DSI-select jp-mod-styled';
    this._color.setAttribute('aria-label', 'Color by');
    this._color.addEventListener('change', () => model.setColorBy(this._color.value));

    this._count.className = 'jp-DSI-selectionCount';
    this._count.setAttribute('role', 'status');
    this._count.setAttribute('aria-live', 'polite');
    this._count.setAttribute('data-testid', 'dsi-selection-count');

    this.node = h(
      'div',
      { class: 'jp-DSI-controls' },
      field('Method', h('span', { class: 'jp-DSI-methodRow' }, this._method, newMethod), this._methodDescription),
      field(
        'Time',
        h('span', { class: 'jp-DSI-time' }, prev, this._slider, next, this._play),
        this._timeLabel
      ),
      this._feature.node,
      field('Color by', this._color),
      this._legend,
      this._count
    );
    this._timeLabel.className = 'jp-DSI-timeLabel';
    this._timeLabel.setAttribute('data-testid', 'dsi-time');
    this._legend.className = 'jp-DSI-legend';
    this.update();
  }

  /** Reflect the model (after a method, data or color change). */
  update(): void {
    const model = this._model;
    const methods = model.methods;
    const current = model.method;
    const key = `${current ? '' : 'none,'}${methods.map(m => m.id).join()}`;
    if (this._methodIds !== key) {
      this._methodIds = key;
      // No method chosen (a database of parameters and metrics): a placeholder, so that picking
      // the first method is a change.
      const none = current ? [] : [h('option', { value: '' }, methods.length ? 'No method: choose one' : 'No method yet: New… computes distances')];
      this._method.replaceChildren(...none, ...methods.map(m => h('option', { value: m.id, title: m.id }, methodLabel(m))));
    }
    // Only what changed is written: this runs in every brush frame, and each write of a text,
    // an attribute or the legend's elements makes the browser restyle and lay out the header.
    setIf(this._method, 'value', model.method?.id ?? '');
    const description = model.method?.description ?? '';
    setIf(this._methodDescription, 'textContent', description);
    setIf(this._methodDescription, 'title', description);
    setIf(this._method, 'disabled', methods.length === 0);

    setIf(this._slider, 'max', String(Math.max(0, model.steps - 1)));
    setIf(this._slider, 'value', String(model.t));
    setIf(this._slider, 'disabled', model.steps <= 1);
    setIf(this._timeLabel, 'textContent', stepLabel(model.t, model.steps, model.times));
    setIf(this._play, 'textContent', this._timer ? '❚❚' : '▶');
    setIf(this._play, 'title', this._timer ? 'Pause' : 'Play through the time steps');

    this._feature.update();

    const names = model.columnNames;
    if (this._colorNames !== names.join()) {
      this._colorNames = names.join();
      this._color.replaceChildren(...names.map(n => h('option', { value: n }, n)));
    }
    setIf(this._color, 'value', model.colorBy);
    this.updateLegend();
    this.updateCount();
  }

  /** The legend, rebuilt only when its column, kind, labels or colors change (not per brush). */
  updateLegend(): void {
    const legend = this._model.coloring?.legend;
    const key = legend ? JSON.stringify([legend.column, legend.kind, legend.items]) : '';
    if (key === this._legendKey) {
      return;
    }
    this._legendKey = key;
    if (!legend) {
      this._legend.replaceChildren();
      return;
    }
    if (legend.kind === 'categorical') {
      this._legend.replaceChildren(
        ...legend.items.map(item =>
          h('span', { class: 'jp-DSI-legendItem' }, h('span', { class: 'jp-DSI-swatch', style: `background:${item.color}` }), item.label)
        )
      );
    } else {
      const ramp = legend.items.map(i => i.color).join(', ');
      this._legend.replaceChildren(
        h('span', { class: 'jp-DSI-legendItem' }, legend.items[0].label),
        h('span', { class: 'jp-DSI-ramp', style: `background: linear-gradient(to right, ${ramp})` }),
        h('span', { class: 'jp-DSI-legendItem' }, legend.items[legend.items.length - 1].label)
      );
    }
  }

  /** The count's two texts, changed in place (its elements are built once). */
  updateCount(): void {
    const model = this._model;
    const total = model.table?.rows ?? 0;
    if (!this._countNumber.parentNode) {
      this._count.replaceChildren(h('strong', {}, this._countNumber), this._countRest);
    }
    setIf(this._countNumber, 'data', formatCount(model.count));
    setIf(this._countRest, 'data', ` of ${formatCount(total)} simulations selected`);
  }

  dispose(): void {
    this._stop();
  }

  private _togglePlay(): void {
    if (this._timer) {
      this._stop();
    } else {
      const model = this._model;
      if (model.t >= model.steps - 1) {
        void model.setTime(0);
      }
      this._timer = window.setInterval(() => {
        if (model.t >= model.steps - 1) {
          this._stop();
        } else {
          void model.setTime(model.t + 1);
        }
      }, PLAY_INTERVAL_MS);
    }
    this.update();
  }

  private _stop(): void {
    if (this._timer) {
      window.clearInterval(this._timer);
      this._timer = 0;
      this.update();
    }
  }

  private readonly _method = document.createElement('select');
  private readonly _methodDescription = h('span', { class: 'jp-DSI-methodDescription' });
  private readonly _slider = document.createElement('input');
  private readonly _timeLabel = document.createElement('span');
  private readonly _play = document.createElement('button');
  private readonly _feature: FeatureEditor;
  private readonly _color = document.createElement('select');
  private readonly _legend = document.createElement('div');
  private readonly _count = document.createElement('div');
  private readonly _countNumber = document.createTextNode('');
  private readonly _countRest = document.createTextNode('');
  private _legendKey: string | null = null;
  private _methodIds = '';
  private _colorNames = '';
  private _timer = 0;
}
