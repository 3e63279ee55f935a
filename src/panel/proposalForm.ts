/**
 * "Propose…" on a run that logged sigma2 (issue 16 §4): the options of `jupyter dsi propose
 * --db DB --run RUN` as a form: n, seed, the target (when the run has several with sigma2), α and
 * the entropy column, and τ and bounds per continuous parameter (empty: the study set's spacing
 * and range, shown as placeholders). Each field says what is wrong with it in one line before
 * anything is sent; the server's one line is shown when it refuses, and the values stay.
 */
import type { IParameterRange, IProposeRequest } from '../db/proposals';
import type { IRunInfo } from '../db/runs';
import { format } from '../views/efficacy';
import { h, nodes } from './dom';

export interface IProposalFormOptions {
  /** The database's parameters: continuous ones get τ and bounds fields. */
  parameterRanges: () => Promise<IParameterRange[]>;
  /** Record the proposal; resolves with its id, rejects with Error(one line). */
  propose: (request: IProposeRequest) => Promise<string>;
  /** Recorded: the page lists it and draws it. */
  onProposed: (id: string, request: IProposeRequest, run: IRunInfo) => Promise<void>;
  /** The form closed (Cancel, Escape, recorded): the page puts the focus back. */
  onClose?: (proposed: boolean) => void;
}

/** The most points one proposal may ask for here (each is drawn over the explorer). */
/** The panel draws a proposal's points over the views in SVG: a few thousand at most. */
export const MAX_N = 5_000;

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A typed number, null when empty; NaN when it is not a number. */
export function parseNumber(text: string): number | null {
  const t = text.trim();
  if (t === '') {
    return null;
  }
  return NUMBER.test(t) ? Number(t) : NaN;
}

/** A Greek letter in a label: the labels are upper-cased, and Α or Τ would read as A or T. */
function symbol(letter: string): HTMLElement {
  return h('span', { class: 'jp-DSI-symbol' }, letter);
}

/** One field: its control, and the line that says what is wrong with it. */
interface IField {
  control: HTMLInputElement | HTMLSelectElement;
  error: HTMLElement;
}

interface IParamFields {
  range: IParameterRange;
  /** A parameter stored as numeric levels: ticked, it is spread between them (continuous). */
  spread: HTMLInputElement | null;
  tau: HTMLInputElement;
  lo: HTMLInputElement;
  hi: HTMLInputElement;
  error: HTMLElement;
}

export class ProposalForm {
  readonly node: HTMLFormElement;

  constructor(private readonly _options: IProposalFormOptions) {
    const id = ++ProposalForm._count;
    this._prefix = `jp-DSI-propose-${id}`;
    this.node = h('form', {
      class: 'jp-DSI-saveForm jp-DSI-proposalForm',
      id: `${this._prefix}-form`,
      'aria-label': 'Propose simulations',
      hidden: '',
      novalidate: ''
    });
    this.node.addEventListener('submit', event => {
      event.preventDefault();
      void this._submit();
    });
    // The server's refusal was about the values sent: it goes once they are edited.
    this.node.addEventListener('input', () => {
      if (this._refused) {
        this._setMessage('');
      }
    });
    this.node.addEventListener('keydown', event => {
      if (event.key === 'Escape' && !this._busy) {
        event.preventDefault();
        event.stopPropagation(); // the form goes, not the panel or a dialog around it
        this.close();
      }
    });
  }

  get isOpen(): boolean {
    return !this.node.hidden;
  }

  /** The run the form proposes from (null: closed). */
  get run(): IRunInfo | null {
    return this._run;
  }

  /** Open for `run`: fields built from its targets and the database's parameters; n has the focus. */
  async open(run: IRunInfo): Promise<void> {
    if (this.isOpen && this._run?.id === run.id) {
      // Propose… again on the run whose form is open: what was typed stays, n takes the focus.
      this._n.control.focus();
      this.node.scrollIntoView?.({ block: 'nearest' });
      return;
    }
    const ticket = ++this._ticket;
    this._run = run;
    let ranges: IParameterRange[] = [];
    let rangeError = '';
    try {
      ranges = await this._options.parameterRanges();
    } catch (error) {
      rangeError = `Cannot read the parameters (${(error as Error)?.message || String(error)}): τ and bounds take their defaults.`;
    }
    if (ticket !== this._ticket) {
      return; // opened again (another run) meanwhile
    }
    this._build(run, ranges);
    this._setMessage(rangeError, !!rangeError);
    this.node.hidden = false;
    this._n.control.focus();
    this.node.scrollIntoView?.({ block: 'nearest' });
  }

  close(proposed = false): void {
    if (this.node.hidden) {
      return;
    }
    this._ticket++;
    this.node.hidden = true;
    this._run = null;
    this._options.onClose?.(proposed);
  }

  /**
   * The request the fields describe, or null after marking each wrong field with its line (the
   * first wrong one gets the focus).
   */
  request(): IProposeRequest | null {
    const run = this._run;
    if (!run) {
      return null;
    }
    const wrong: HTMLElement[] = [];
    const check = (field: IField | IParamFields, message: string, control: HTMLElement) => {
      this._mark(field, message, control);
      if (message) {
        wrong.push(control);
      }
    };
    const n = parseNumber(this._n.control.value);
    check(
      this._n,
      n === null || !Number.isInteger(n) || n < 1 || n > MAX_N ? `n must be a whole number from 1 to ${MAX_N.toLocaleString('en-US')} (the views draw the points over the plots; the CLI makes bigger ones).` : '',
      this._n.control
    );
    const seed = parseNumber(this._seed.control.value);
    check(this._seed, seed === null || !Number.isSafeInteger(seed) || seed < 0 ? 'The seed must be a whole number ≥ 0.' : '', this._seed.control);
    const alpha = parseNumber(this._alpha.control.value);
    check(this._alpha, alpha === null || !(alpha >= 0 && alpha <= 1) ? 'α must be a number from 0 to 1 (1: sigma2 alone).' : '', this._alpha.control);
    const entropy = this._entropy.control.value.trim();
    check(
      this._entropy,
      alpha !== null && alpha >= 0 && alpha < 1 && !entropy ? 'α < 1 mixes in an entropy column: name it, or set α to 1.' : '',
      this._entropy.control
    );
    const tau: Record<string, number> = {};
    const bounds: Record<string, [number, number]> = {};
    const continuous: string[] = [];
    for (const p of this._params) {
      const name = p.range.name;
      if (p.spread) {
        if (!p.spread.checked) {
          this._mark(p, '', p.tau);
          continue; // drawn from its levels: τ and bounds do not apply
        }
        continuous.push(name);
      }
      const t = parseNumber(p.tau.value);
      const lo = parseNumber(p.lo.value);
      const hi = parseNumber(p.hi.value);
      let message = '';
      let control: HTMLElement = p.tau;
      if (t !== null && !(Number.isFinite(t) && t >= 0)) {
        message = `τ of ${name} must be a number ≥ 0 (empty: its spacing).`;
      } else if (lo !== null || hi !== null) {
        // One bound typed: the other is the study set's, as its placeholder says.
        const low = lo ?? p.range.min;
        const high = hi ?? p.range.max;
        control = lo === null || Number.isFinite(lo) ? p.hi : p.lo;
        if (low === null || high === null) {
          message = `Bounds of ${name}: give both numbers.`;
          control = lo === null ? p.lo : p.hi;
        } else if (!Number.isFinite(low) || !Number.isFinite(high)) {
          message = `Bounds of ${name} must be numbers.`;
        } else if (low > high) {
          message = `Bounds of ${name}: min must be ≤ max.`;
        } else {
          bounds[name] = [low, high];
        }
      }
      if (!message && t !== null) {
        tau[name] = t;
      }
      check(p, message, control);
    }
    if (wrong.length > 0) {
      wrong[0].focus();
      return null;
    }
    const request: IProposeRequest = { runId: run.id, n: n!, seed: seed! };
    if (this._target) {
      request.target = this._target.value;
    }
    if (Object.keys(tau).length > 0) {
      request.tau = tau;
    }
    if (Object.keys(bounds).length > 0) {
      request.bounds = bounds;
    }
    if (alpha !== 1) {
      request.alpha = alpha!;
      request.entropyColumn = entropy;
    }
    if (continuous.length > 0) {
      request.continuous = continuous;
    }
    return request;
  }

  private async _submit(): Promise<void> {
    const run = this._run;
    if (this._busy || !run) {
      return;
    }
    const request = this.request();
    if (!request) {
      this._setMessage('');
      return;
    }
    this._setBusy(true);
    this._setMessage('Proposing…');
    let id: string;
    try {
      id = await this._options.propose(request);
    } catch (error) {
      // The server's one line; the values stay for another try.
      this._setBusy(false);
      this._setMessage(`Not recorded: ${(error as Error)?.message || String(error)}`, true);
      this._refused = true;
      return;
    }
    try {
      await this._options.onProposed(id, request, run);
    } finally {
      this._setBusy(false);
    }
    this._setMessage('');
    this.close(true);
  }

  private _build(run: IRunInfo, ranges: readonly IParameterRange[]): void {
    const text = (name: string, value = '', attrs: Record<string, string> = {}) =>
      h('input', { type: 'text', class: 'jp-DSI-pathInput jp-mod-styled', name, id: `${this._prefix}-${name}`, value, autocomplete: 'off', ...attrs });
    this._n = this._field(text('n', '20', { inputmode: 'numeric' }));
    this._seed = this._field(text('seed', '0', { inputmode: 'numeric' }));
    this._alpha = this._field(text('alpha', '1', { inputmode: 'decimal' }));
    this._entropy = this._field(text('entropy', '', { placeholder: 'needed when α < 1' }));
    const targets = run.sigma2Targets ?? [];
    this._target = null;
    if (targets.length > 1) {
      this._target = h(
        'select',
        { class: 'jp-DSI-select jp-mod-styled', name: 'target', id: `${this._prefix}-target` },
        ...targets.map(t => h('option', { value: t }, t))
      );
    }
    // Numeric levels (a range) can be spread between; text levels never.
    const spreadable = ranges.filter(r => r.kind === 'numeric' || (r.min !== null && r.max !== null));
    const categorical = ranges.filter(r => !spreadable.includes(r));
    this._params = spreadable.map(range => {
      const num = (which: string, label: string, placeholder: number | null) =>
        h('input', {
          type: 'text',
          name: `${which}:${range.name}`,
          'aria-label': label,
          autocomplete: 'off',
          inputmode: 'decimal',
          placeholder: placeholder === null ? '' : format(placeholder),
          class: 'jp-DSI-pathInput jp-mod-styled jp-DSI-proposalNumber'
        });
      const fields: IParamFields = {
        range,
        spread: null,
        tau: num('tau', `τ of ${range.name}`, range.spacing),
        lo: num('min', `Lower bound of ${range.name}`, range.min),
        hi: num('max', `Upper bound of ${range.name}`, range.max),
        error: this._errorLine()
      };
      if (range.kind === 'categorical') {
        const spread = h('input', { type: 'checkbox', name: `spread:${range.name}`, 'aria-label': `Spread ${range.name} between its levels` });
        const follow = () => {
          for (const input of [fields.tau, fields.lo, fields.hi]) {
            input.disabled = !spread.checked;
          }
          this._mark(fields, '', fields.tau);
        };
        spread.addEventListener('change', follow);
        fields.spread = spread;
        follow();
      }
      return fields;
    });
    // The label names the control alone (for=): the error line under it is its description.
    const label = (title: string | Node, field: IField | HTMLSelectElement) => {
      const control = field instanceof HTMLSelectElement ? field : field.control;
      return h(
        'div',
        { class: 'jp-DSI-field' },
        h('label', { class: 'jp-DSI-fieldLabel', for: control.id }, title),
        control,
        field instanceof HTMLSelectElement ? null : field.error
      );
    };
    const cancel = h('button', { type: 'button', class: 'jp-DSI-button jp-mod-styled' }, 'Cancel');
    cancel.addEventListener('click', () => this.close());
    this._submitButton = h('button', { type: 'submit', class: 'jp-DSI-button jp-mod-styled jp-mod-accept' }, 'Propose');
    const target = targets.length === 1 ? targets[0] : null;
    this.node.replaceChildren(
      ...nodes(
      h('h3', {}, `Propose from “${run.name}”`),
      h(
        'p',
        { class: 'jp-DSI-hint' },
        `Draws n parameter sets where the model is least certain (its sigma2${target ? ` of ${target}` : ''}), and records them.`
      ),
      h(
        'div',
        { class: 'jp-DSI-proposalRow' },
        label('n (points)', this._n),
        label('Seed', this._seed)
      ),
      this._target ? label('Target (its sigma2)', this._target) : null,
      h(
        'div',
        { class: 'jp-DSI-proposalRow' },
        label(h('span', {}, symbol('α'), ' (1: sigma2 alone)'), this._alpha),
        label('Entropy column', this._entropy)
      ),
      this._params.length > 0 ? this._paramGrid() : null,
      categorical.length > 0
        ? h('p', { class: 'jp-DSI-hint' }, `Drawn from their study points’ levels: ${categorical.map(c => c.name).join(', ')}.`)
        : null,
      this._message,
      h('div', { class: 'jp-DSI-formButtons' }, cancel, this._submitButton)
      )
    );
    this.node.setAttribute('aria-label', `Propose simulations from ${run.name}`);
  }

  /** τ, min and max per continuous parameter: a grid of one row each, with its error line under it. */
  private _paramGrid(): HTMLElement {
    const grid = h(
      'div',
      { class: 'jp-DSI-proposalParams', role: 'group', 'aria-label': 'τ and bounds per parameter' },
      h('span', { class: 'jp-DSI-fieldLabel jp-DSI-proposalParamHead' }, 'Parameter'),
      h('span', { class: 'jp-DSI-fieldLabel', title: 'The spread of each draw around its study point (empty: the study set’s spacing)' }, symbol('τ')),
      h('span', { class: 'jp-DSI-fieldLabel', title: 'Draws outside [min, max] are drawn again (empty: the study set’s range)' }, 'min'),
      h('span', { class: 'jp-DSI-fieldLabel' }, 'max')
    );
    for (const p of this._params) {
      const name = p.spread
        ? h(
            'label',
            {
              class: 'jp-DSI-proposalParam jp-mod-levels',
              title: `${p.range.name} is stored as levels: ticked, it is drawn between them like a continuous parameter, with τ and bounds; else from its study points’ levels`
            },
            p.spread,
            p.range.name
          )
        : h('span', { class: 'jp-DSI-proposalParam', title: p.range.name }, p.range.name);
      grid.append(name, p.tau, p.lo, p.hi, p.error);
    }
    const levels = this._params.some(p => p.spread);
    return h(
      'fieldset',
      { class: 'jp-DSI-sampling jp-DSI-proposalParamSet' },
      h('legend', { class: 'jp-DSI-fieldLabel' }, 'Per parameter'),
      grid,
      h(
        'p',
        { class: 'jp-DSI-hint' },
        'Empty: τ is the study set’s spacing, min and max its range (the grey values).',
        levels ? ' A ticked parameter with levels is spread between them; unticked, it keeps its study points’ levels.' : ''
      )
    );
  }

  private _field(control: HTMLInputElement): IField {
    return { control, error: this._errorLine() };
  }

  private _errorLine(): HTMLElement {
    return h('span', { class: 'jp-DSI-fieldError', id: `${this._prefix}-error-${++this._errors}`, hidden: '' });
  }

  /** Show (or clear) a field's line; its control is marked invalid and described by it. */
  private _mark(field: IField | IParamFields, message: string, control: HTMLElement): void {
    const controls = 'control' in field ? [field.control] : [field.tau, field.lo, field.hi];
    field.error.textContent = message;
    field.error.hidden = !message;
    for (const c of controls) {
      if (message && c === control) {
        c.setAttribute('aria-invalid', 'true');
        c.setAttribute('aria-describedby', field.error.id);
      } else {
        c.removeAttribute('aria-invalid');
        c.removeAttribute('aria-describedby');
      }
    }
  }

  private _setBusy(busy: boolean): void {
    this._busy = busy;
    if (this._submitButton) {
      this._submitButton.disabled = busy;
      this._submitButton.textContent = busy ? 'Proposing…' : 'Propose';
    }
  }

  private _setMessage(text: string, error = false): void {
    this._refused = false;
    this._message.textContent = text;
    this._message.className = error ? 'jp-DSI-error' : text ? 'jp-DSI-hint' : '';
  }

  private static _count = 0;
  private readonly _prefix: string;
  private readonly _message = h('div', { role: 'alert', 'data-testid': 'dsi-propose-message' });
  private _n: IField = { control: h('input'), error: h('span') };
  private _seed: IField = { control: h('input'), error: h('span') };
  private _alpha: IField = { control: h('input'), error: h('span') };
  private _entropy: IField = { control: h('input'), error: h('span') };
  private _target: HTMLSelectElement | null = null;
  private _params: IParamFields[] = [];
  private _submitButton: HTMLButtonElement | null = null;
  private _run: IRunInfo | null = null;
  private _busy = false;
  /** The message is the server's refusal. */
  private _refused = false;
  private _ticket = 0;
  private _errors = 0;
}
