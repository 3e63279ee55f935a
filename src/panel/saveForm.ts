/**
 * "Save as training dataset": name, a required description, optional seeded subsampling with a
 * preview of the resulting count, and the save itself, which goes to the server's Store. A
 * failed save keeps what the user typed; saving again reuses the same dataset id, so a retry
 * after a lost answer never makes a duplicate.
 */
import { isScratch } from '../db/scratch';
import type { ExplorerModel } from '../model/explorer';
import { sampleN, sampleP } from '../model/sampling';
import { IDatasetRecord, IDatasetRequest, saveDataset } from '../server';
import { formatCount, h } from './dom';

const WHY_DESCRIPTION =
  'A description is required: it is the record of why this training set exists, for whoever trains on it or audits it later.';

/** Brushes only, box/lasso only, both, or nothing at all. */
export function selectionKind(model: ExplorerModel): string {
  if (model.expression) {
    return 'filter'; // part of it was typed (in %dsi select --where), not drawn
  }
  const shapes = new Set(model.shapes.map(s => s.kind));
  const brushed = model.brushes.size > 0;
  if (!brushed && shapes.size === 0) {
    return 'all';
  }
  if (brushed && shapes.size > 0) {
    return 'mixed';
  }
  if (brushed) {
    return 'brush';
  }
  return shapes.size === 1 ? [...shapes][0] : 'mixed';
}

export function selectedIds(model: ExplorerModel): string[] {
  const ids = model.table?.ids ?? [];
  const selected = model.selected;
  const out: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (selected[i]) {
      out.push(ids[i]);
    }
  }
  return out;
}

/** What a save made, in one line: its name, size and digest. */
export function savedText(record: IDatasetRecord): string {
  return `Saved “${record.name}”: ${formatCount(record.size)} simulations, digest ${String(record.digest).replace('sha256:', '').slice(0, 12)}.`;
}

export class SaveForm {
  readonly node: HTMLFormElement;

  constructor(
    private readonly _model: ExplorerModel,
    private readonly _path: () => string | null,
    private readonly _onSaved: (record: IDatasetRecord) => void
  ) {
    const group = `dsi-sampling-${++SaveForm._count}`; // one radio group per form
    const radio = (value: string, label: string, checked = false) => {
      const input = h('input', { type: 'radio', name: group, value });
      input.checked = checked;
      input.addEventListener('change', () => this.updatePreview());
      this._radios.push(input);
      return h('label', { class: 'jp-DSI-radio' }, input, label);
    };
    for (const input of [this._p, this._n, this._seed]) {
      input.addEventListener('input', () => this.updatePreview());
    }
    this._description.addEventListener('input', () => this._setMessage(''));
    const cancel = h('button', { type: 'button', class: 'jp-DSI-button jp-mod-styled' }, 'Cancel');
    cancel.addEventListener('click', () => this.close());
    this.node = h(
      'form',
      { class: 'jp-DSI-saveForm', 'aria-label': 'Save the selection as a training dataset', hidden: '' },
      h('h3', {}, 'Save as training dataset'),
      this._parent,
      h('label', { class: 'jp-DSI-field' }, h('span', { class: 'jp-DSI-fieldLabel' }, 'Name'), this._name),
      h(
        'label',
        { class: 'jp-DSI-field' },
        h('span', { class: 'jp-DSI-fieldLabel' }, 'Description (required)'),
        this._description
      ),
      h(
        'fieldset',
        { class: 'jp-DSI-sampling' },
        h('legend', { class: 'jp-DSI-fieldLabel' }, 'Subsampling'),
        radio('none', 'Keep every selected simulation', true),
        h('span', { class: 'jp-DSI-samplingRow' }, radio('p', 'Keep each with probability'), this._p),
        h('span', { class: 'jp-DSI-samplingRow' }, radio('n', 'Keep exactly'), this._n),
        h('label', { class: 'jp-DSI-samplingRow' }, 'Seed', this._seed)
      ),
      this._preview,
      this._message,
      h('div', { class: 'jp-DSI-formButtons' }, cancel, this._submit)
    );
    this._name.className = this._description.className = 'jp-DSI-pathInput jp-mod-styled';
    this._name.placeholder = 'e.g. small feature distance, two density modes';
    this._description.rows = 3;
    // The Store's limits (jupyterlab_dsi/datasets.py LIMITS): the form stops where they are.
    this._name.maxLength = 1000;
    this._description.maxLength = 100_000;
    this._description.placeholder = 'Why these simulations? What will the model learn from them?';
    this._description.setAttribute('data-testid', 'dsi-save-description');
    this._preview.className = 'jp-DSI-hint';
    this._preview.setAttribute('data-testid', 'dsi-save-preview');
    this._message.setAttribute('role', 'alert');
    this._message.setAttribute('data-testid', 'dsi-save-message');
    this.node.addEventListener('submit', event => {
      event.preventDefault();
      void this._save();
    });
  }

  get isOpen(): boolean {
    return !this.node.hidden;
  }

  open(): void {
    this._requestId = crypto.randomUUID();
    this.node.hidden = false;
    const parent = this._model.derivedFrom;
    this._parent.textContent = parent ? `Derived from “${parent.name}”: saved with it as its parent.` : '';
    this._setMessage('');
    this.updatePreview();
    this._description.focus();
  }

  close(): void {
    this.node.hidden = true;
  }

  /** The sampling the form describes, or null; throws a readable error for bad numbers. */
  sampling(): IDatasetRequest['sampling'] {
    const kind = this._radios.find(r => r.checked)?.value ?? 'none';
    const seed = Number(this._seed.value || '0');
    if (kind === 'none') {
      return null;
    }
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new Error('The seed must be a whole number >= 0.');
    }
    if (kind === 'p') {
      const p = Number(this._p.value);
      if (!(p >= 0 && p <= 1)) {
        throw new Error('The probability must be between 0 and 1.');
      }
      return { kind: 'p', p, seed };
    }
    const n = Number(this._n.value);
    if (!Number.isInteger(n) || n < 0) {
      throw new Error('The size must be a whole number >= 0.');
    }
    return { kind: 'n', n, seed };
  }

  /** "312 selected → 94 after sampling", computed with the server's algorithm. */
  updatePreview(): void {
    const ids = selectedIds(this._model);
    let text = `${formatCount(ids.length)} simulations selected`;
    try {
      const sampling = this.sampling();
      if (sampling) {
        const kept = sampling.kind === 'p' ? sampleP(ids, sampling.p, sampling.seed) : sampleN(ids, sampling.n, sampling.seed);
        text += ` → ${formatCount(kept.length)} after sampling`;
      }
      this._submit.disabled = this._busy;
    } catch (error) {
      text += ` — ${(error as Error).message}`;
      this._submit.disabled = true;
    }
    this._preview.textContent = text;
  }

  private async _save(): Promise<void> {
    const path = this._path();
    const description = this._description.value.trim();
    if (!description) {
      this._setMessage(WHY_DESCRIPTION, true);
      this._description.focus();
      return;
    }
    if (!path) {
      return;
    }
    const model = this._model;
    if (isScratch(model.method)) {
      // A dataset names its method in the file, and a scratch is not there: stored first, or none.
      this._setMessage('The distances shown are a scratch method (computed on the fly, not saved): Keep it first, then save the dataset.', true);
      return;
    }
    let sampling: IDatasetRequest['sampling'];
    try {
      sampling = this.sampling();
    } catch (error) {
      this._setMessage((error as Error).message, true);
      return;
    }
    const body: IDatasetRequest = {
      id: this._requestId,
      name: this._name.value.trim(),
      description,
      members: selectedIds(model),
      method_id: model.method?.id ?? null,
      t: model.t,
      weights: Object.keys(model.feature).length > 0 ? model.feature : null,
      filter: model.filter,
      selection_kind: selectionKind(model),
      selection_geometry: { brushes: Object.fromEntries(model.brushes), shapes: model.shapes },
      sampling,
      settings: model.settings,
      parent_id: model.derivedFrom?.id ?? null
    };
    this._busy = true;
    this._submit.disabled = true;
    this._setMessage('Saving…');
    try {
      // Another program writing the file: say so while the request retries.
      const record = await saveDataset(path, body, message => this._setMessage(`Saving… ${message}`));
      this._setMessage(savedText(record));
      this._name.value = '';
      this._description.value = '';
      this._requestId = crypto.randomUUID();
      this._model.derivedFrom = null;
      // Done: the form goes, and the panel shows the new dataset among the others.
      this.close();
      this._onSaved(record);
    } catch (error) {
      // Keep everything typed, and the same id: saving again cannot make a duplicate.
      this._setMessage(`Not saved: ${(error as Error).message} Nothing was lost; press Save to try again.`, true);
    } finally {
      this._busy = false;
      this._submit.disabled = false;
    }
  }

  private _setMessage(text: string, error = false): void {
    this._message.textContent = text;
    this._message.className = error ? 'jp-DSI-error' : text ? 'jp-DSI-hint' : '';
  }

  private static _count = 0;
  private readonly _name = h('input', { type: 'text', 'aria-label': 'Dataset name' });
  private readonly _description = h('textarea', { 'aria-label': 'Dataset description' });
  private readonly _p = h('input', { type: 'number', min: '0', max: '1', step: '0.05', value: '0.5', class: 'jp-DSI-number jp-mod-styled', 'aria-label': 'Sampling probability' });
  private readonly _n = h('input', { type: 'number', min: '0', step: '1', value: '100', class: 'jp-DSI-number jp-mod-styled', 'aria-label': 'Sample size' });
  private readonly _seed = h('input', { type: 'number', min: '0', step: '1', value: '0', class: 'jp-DSI-number jp-mod-styled', 'aria-label': 'Sampling seed' });
  private readonly _radios: HTMLInputElement[] = [];
  private readonly _preview = h('p', {});
  private readonly _parent = h('p', { class: 'jp-DSI-hint', 'data-testid': 'dsi-save-parent' });
  private readonly _message = h('div', {});
  private readonly _submit = h('button', { type: 'submit', class: 'jp-DSI-button jp-mod-styled jp-mod-accept' }, 'Save');
  private _requestId = '';
  private _busy = false;
}
