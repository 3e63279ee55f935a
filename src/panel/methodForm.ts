/**
 * "New method…": a ground truth (typed, picked from the list, or clicked in the scatter), a norm,
 * how steps are matched (by index, by nearest simulated time, or one fixed ground-truth step),
 * the cell geometry, the field compared and a description; the server post-processes every simulation as a job
 * while the form shows its progress and can cancel it. Nothing is written until the job ends,
 * so a cancel leaves the database as it was.
 */
import type { ExplorerModel } from '../model/explorer';
import { formatSimulatedTime } from '../model/steps';
import { cancelJob, fetchJob, IJob, INewMethod, startMethod } from '../server';
import { formatCount, h } from './dom';

const POLL_MS = 300;
const GEOMETRIES: [string, string][] = [
  ['', 'From the data'],
  ['cartesian', 'Cartesian (x, y): cell areas'],
  ['cylindrical', 'Cylindrical (R, z): R-weighted']
];
/** Values of the time select that are not a fixed ground-truth step. */
const MATCHED = { index: '', nearest: 'nearest' } as const;
const NORMS: [INewMethod['norm'], string][] = [
  ['L2', 'L2 (root mean square)'],
  ['L1', 'L1 (mean absolute)'],
  ['Linf', 'L∞ (largest difference)']
];

export interface IMethodFormOptions {
  path: () => string | null;
  /** The job moved on (the status bar shows it); null when it is over. */
  onJob: (job: IJob | null) => void;
  /** The new method is in the file: the panel catches up and shows it. */
  onCreated: (methodId: string) => Promise<void>;
}

export class MethodForm {
  readonly node: HTMLFormElement;

  constructor(
    private readonly _model: ExplorerModel,
    private readonly _options: IMethodFormOptions
  ) {
    this._groundTruth.className = this._description.className = 'jp-DSI-pathInput jp-mod-styled';
    this._groundTruth.setAttribute('list', this._list.id);
    this._groundTruth.placeholder = 'a sim_id, or click a point in the scatter';
    this._groundTruth.setAttribute('aria-label', 'Ground truth simulation');
    this._groundTruth.required = true;
    this._norm.className = this._time.className = this._geometry.className = 'jp-DSI-select jp-mod-styled';
    this._geometry.setAttribute('aria-label', 'Geometry');
    this._field.className = 'jp-DSI-pathInput jp-mod-styled';
    this._field.value = 'density';
    this._field.required = true;
    this._field.setAttribute('aria-label', 'Field');
    this._field.title = 'The cell array compared (VTK files: density, energy, pressure…); its distances are d_density';
    this._geometry.replaceChildren(...GEOMETRIES.map(([value, label]) => h('option', { value }, label)));
    this._norm.setAttribute('aria-label', 'Norm');
    this._norm.replaceChildren(...NORMS.map(([value, label]) => h('option', { value }, label)));
    this._time.setAttribute('aria-label', 'Ground-truth time');
    this._description.rows = 2;
    this._description.setAttribute('aria-label', 'Method description');
    this._description.placeholder = 'Why this ground truth and norm?';
    this._progress.max = 1;
    this._progress.value = 0;
    this._progress.hidden = true;
    this._message.setAttribute('role', 'status');
    this._message.setAttribute('data-testid', 'dsi-method-message');
    this._submit.className = 'jp-DSI-button jp-mod-styled jp-mod-accept';
    this._cancel.className = 'jp-DSI-button jp-mod-styled';
    this._cancel.type = 'button';
    this._cancel.addEventListener('click', () => void this._onCancel());
    const field = (label: string, control: HTMLElement) =>
      h('label', { class: 'jp-DSI-field' }, h('span', { class: 'jp-DSI-fieldLabel' }, label), control);
    this.node = h(
      'form',
      { class: 'jp-DSI-saveForm jp-DSI-methodForm', 'aria-label': 'Post-process a new method', hidden: '' },
      h('h3', {}, 'New method'),
      field('Ground truth', this._groundTruth),
      this._list,
      field('Norm', this._norm),
      field('Ground-truth time', this._time),
      field('Geometry', this._geometry),
      field('Field', this._field),
      field('Description', this._description),
      this._progress,
      this._message,
      h('div', { class: 'jp-DSI-formButtons' }, this._cancel, this._submit)
    );
    this.node.addEventListener('submit', event => {
      event.preventDefault();
      void this._start();
    });
  }

  get isOpen(): boolean {
    return !this.node.hidden;
  }

  open(): void {
    const model = this._model;
    const ids = model.table?.ids ?? [];
    this._list.replaceChildren(...ids.map(id => h('option', { value: id })));
    const steps = Math.max(model.steps, model.times.length);
    this._time.replaceChildren(
      h('option', { value: MATCHED.index }, 'Matched: step t against step t'),
      h('option', { value: MATCHED.nearest }, 'Matched: each step against the nearest in time'),
      ...Array.from({ length: steps }, (_, i) => h('option', { value: String(i) }, `Every step against step ${i}${model.times[i] !== undefined ? ` (time ${formatSimulatedTime(model.times[i])})` : ''}`))
    );
    if (!this._groundTruth.value && model.method) {
      this._groundTruth.value = model.method.groundTruth;
    }
    this.node.hidden = false;
    this._render();
    this._groundTruth.focus();
  }

  close(): void {
    if (!this._job) {
      this.node.hidden = true;
    }
  }

  /** A point clicked in the scatter becomes the ground truth while the form is open. */
  pick(simId: string): void {
    if (this.isOpen && !this._job) {
      this._groundTruth.value = simId;
      this._setMessage(`Ground truth: ${simId} (picked in the scatter).`);
    }
  }

  dispose(): void {
    window.clearTimeout(this._timer);
  }

  private async _start(): Promise<void> {
    const path = this._options.path();
    const groundTruth = this._groundTruth.value.trim();
    if (!path || this._job) {
      return;
    }
    if (!groundTruth) {
      this._setMessage('Type a sim_id or click a point in the scatter.', true);
      return;
    }
    // A name that is no sim_id goes to the server as typed: it also knows the runs' folder names
    // (DSI numbers CloverLeaf's run_1 as simulation 1) and says so when it knows neither.
    const time = this._time.value;
    const fixed = time !== MATCHED.index && time !== MATCHED.nearest;
    const body: INewMethod = {
      ground_truth: groundTruth,
      norm: this._norm.value as INewMethod['norm'],
      gt_time: fixed ? Number(time) : null,
      match_time: time === MATCHED.nearest ? 'nearest' : 'index',
      geometry: (this._geometry.value || null) as INewMethod['geometry'],
      field: this._field.value.trim() || 'density',
      description: this._description.value.trim()
    };
    try {
      this._follow(await startMethod(path, body));
    } catch (error) {
      this._setMessage(`Not started: ${(error as Error).message}`, true);
    }
  }

  /** Poll the job until it is over; the form and the status bar show each step. */
  private _follow(job: IJob): void {
    this._job = job;
    this._options.onJob(job);
    this._render();
    if (job.state === 'running' || job.state === 'queued') {
      this._timer = window.setTimeout(async () => {
        try {
          this._follow(await fetchJob(job.id));
        } catch (error) {
          this._finish(`Lost track of the job: ${(error as Error).message}`, true);
        }
      }, POLL_MS);
      return;
    }
    if (job.state === 'done' && job.result?.method_id) {
      const id = job.result.method_id;
      void this._options.onCreated(id).then(() =>
        this._finish(`New method computed for ${formatCount(job.total)} simulations in ${job.elapsed.toFixed(1)} s.`)
      );
    } else if (job.state === 'cancelled') {
      this._finish('Cancelled: nothing was written.');
    } else {
      this._finish(`Failed: ${job.message} Nothing was written.`, true);
    }
  }

  private _finish(message: string, error = false): void {
    this._job = null;
    this._options.onJob(null);
    this._render();
    this._setMessage(message, error);
  }

  private async _onCancel(): Promise<void> {
    const job = this._job;
    if (!job) {
      this.close();
      return;
    }
    this._cancel.disabled = true;
    this._setMessage('Cancelling…');
    try {
      await cancelJob(job.id);
    } catch (error) {
      this._setMessage(`Cannot cancel: ${(error as Error).message}`, true);
    }
  }

  private _render(): void {
    const job = this._job;
    const running = job?.state === 'running' || job?.state === 'queued';
    for (const control of [this._groundTruth, this._norm, this._time, this._geometry, this._field, this._description, this._submit]) {
      control.disabled = running;
    }
    this._cancel.disabled = false;
    this._cancel.textContent = running ? 'Cancel job' : 'Close';
    this._submit.textContent = 'Compute';
    this._progress.hidden = !running;
    if (job && running) {
      this._progress.max = Math.max(1, job.total);
      this._progress.value = job.done;
      this._setMessage(
        job.state === 'queued'
          ? 'Queued: waiting for the server’s other post-processing jobs to finish…'
          : job.total
            ? `${formatCount(job.done)} of ${formatCount(job.total)} simulations · ${job.elapsed.toFixed(1)} s`
            : 'Starting…'
      );
    }
  }

  private _setMessage(text: string, error = false): void {
    this._message.textContent = text;
    this._message.className = error ? 'jp-DSI-error' : 'jp-DSI-hint';
  }

  private static _count = 0;
  private readonly _list = h('datalist', { id: `jp-dsi-sim-ids-${++MethodForm._count}` });
  private readonly _groundTruth = h('input', { type: 'text' });
  private readonly _norm = h('select', {});
  private readonly _time = h('select', {});
  private readonly _geometry = h('select', {});
  private readonly _field = h('input', { type: 'text' });
  private readonly _description = h('textarea', {});
  private readonly _progress = h('progress', { class: 'jp-DSI-progress', 'aria-label': 'Post-processing progress' });
  private readonly _message = h('div', {});
  private readonly _submit = h('button', { type: 'submit' }, 'Compute');
  private readonly _cancel = h('button', {}, 'Close');
  private _job: IJob | null = null;
  private _timer = 0;
}
