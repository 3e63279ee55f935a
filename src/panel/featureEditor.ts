/**
 * d_feature's terms in the explorer's header: one row per term (a slider and a number box for
 * its weight, named by its column, and × to remove it), then "+ term" listing the numeric
 * columns not in the feature yet. Plain, keyboard-reachable DOM bound to the ExplorerModel.
 */
import { featureFormula } from '../model/feature';
import type { ExplorerModel } from '../model/explorer';
import { h } from './dom';

/** The slider's range; the number box takes any finite weight (Python accepts any). */
const SLIDER_MAX = 2;

interface ITermRow {
  root: HTMLElement;
  set(weight: number): void;
}

export class FeatureEditor {
  readonly node = h('div', { class: 'jp-DSI-weights', role: 'group', 'aria-label': 'd_feature terms' });

  constructor(private readonly _model: ExplorerModel) {
    this._add.className = 'jp-DSI-select jp-DSI-addTerm jp-mod-styled';
    this._add.setAttribute('aria-label', 'Add a term to d_feature');
    this._add.title = 'Weigh another numeric column into d_feature';
    this._add.addEventListener('change', () => {
      const name = this._add.value;
      if (name) {
        this._model.setFeature({ ...this._model.feature, [name]: 1 });
        this._add.value = '';
      }
    });
    this.update();
  }

  /** Reflect the model's terms; rows are rebuilt only when the terms or the columns change. */
  update(): void {
    const model = this._model;
    const terms = model.feature;
    const names = Object.keys(terms);
    const candidates = model.featureCandidates.filter(n => !(n in terms));
    const key = `${names.join('\u0000')}\u0001${candidates.join('\u0000')}`;
    if (key !== this._key) {
      this._key = key;
      this._rows = new Map(names.map(name => [name, this._row(name, names.length > 1)]));
      this._add.replaceChildren(
        // Without terms yet (a table of runs) the choice must say what it adds to.
        h('option', { value: '' }, names.length ? '+ term' : '+ d_feature term'),
        ...candidates.map(n => h('option', { value: n }, n))
      );
      this._add.hidden = candidates.length === 0;
      this.node.replaceChildren(...[...this._rows.values()].map(r => r.root), this._add);
    }
    for (const [name, row] of this._rows) {
      row.set(terms[name]);
    }
    this.node.title = featureFormula(terms);
  }

  private _row(name: string, removable: boolean): ITermRow {
    const model = this._model;
    const slider = h('input', {
      type: 'range',
      min: '0',
      max: String(SLIDER_MAX),
      step: '0.05',
      'aria-label': `${name} weight`
    });
    const box = h('input', {
      type: 'number',
      step: '0.05',
      class: 'jp-DSI-number jp-mod-styled',
      'aria-label': `${name} weight value`
    });
    const setWeight = (v: number) => model.setFeature({ ...model.feature, [name]: v });
    slider.addEventListener('input', () => {
      box.value = slider.value;
      setWeight(Number(slider.value));
    });
    box.addEventListener('change', () => {
      const v = Number(box.value);
      if (box.value.trim() !== '' && Number.isFinite(v)) {
        slider.value = String(Math.max(0, Math.min(SLIDER_MAX, v)));
        setWeight(v);
      } else {
        box.value = String(model.feature[name] ?? slider.value);
      }
    });
    const remove = h(
      'button',
      {
        type: 'button',
        class: 'jp-DSI-iconButton',
        'aria-label': `Remove ${name} from d_feature`,
        title: removable ? `Remove ${name} from d_feature` : 'd_feature needs at least one term'
      },
      '×'
    );
    remove.disabled = !removable;
    remove.addEventListener('click', () => {
      const { [name]: _, ...rest } = model.feature;
      model.setFeature(rest);
      this._add.focus(); // the row is gone: keep the keyboard in the feature editor
    });
    const root = h(
      'div',
      { class: 'jp-DSI-field jp-DSI-term' },
      h('span', { class: 'jp-DSI-fieldLabel', title: name }, `w ${name}`),
      h('span', { class: 'jp-DSI-weight' }, slider, box, remove)
    );
    return {
      root,
      set(v: number) {
        slider.value = String(Math.max(0, Math.min(SLIDER_MAX, v)));
        if (document.activeElement !== box) {
          box.value = String(v);
        }
      }
    };
  }

  private readonly _add = document.createElement('select');
  private _rows = new Map<string, ITermRow>();
  private _key: string | null = null;
}
