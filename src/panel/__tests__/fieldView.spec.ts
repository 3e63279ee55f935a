/**
 * The field view: loading, one error line, the run alone or with the ground truth and |diff|
 * (one color domain for both fields), following the explorer's step, "Use as ground truth", and
 * a Cinema run's images; an answer that arrives after a newer request is dropped.
 */
import type { IFrame } from '../../db/frameCodec';
import { ServerError, type IFieldHeader, type IFieldRequest } from '../../server';
import { FieldView, type IFieldContext, type IFieldViewOptions } from '../fieldView';

function header(request: IFieldRequest, layers: boolean): IFieldHeader {
  return {
    shape: layers ? [3, 2, 3] : [2, 3],
    dtype: 'float32',
    sim_id: request.sim,
    t: request.t,
    time: request.t + 1,
    field: 'density',
    r: [0, 1],
    z: [-1, 1],
    axes: ['R', 'z'],
    geometry: 'cylindrical',
    downsampled: false,
    source_shape: [2, 3],
    ...(layers ? { gt: request.gt, gt_t: request.t, gt_time: request.t + 1, layers: ['field', 'ground_truth', 'diff'] } : {})
  } as IFieldHeader;
}

function frame(request: IFieldRequest): IFrame<IFieldHeader> {
  const run = [1, 2, 3, 4, 5, 6];
  const gt = [0.5, 2, 3, 4, 5, 9];
  const diff = [0.5, 0, 0, 0, 0, NaN];
  return {
    header: header(request, !!request.gt),
    data: Float32Array.from(request.gt ? [...run, ...gt, ...diff] : run)
  };
}

describe('FieldView', () => {
  let context: IFieldContext;
  let calls: IFieldRequest[];

  beforeEach(() => {
    context = { t: 2, method: null };
    calls = [];
    jest.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(() => null); // jsdom: no canvas
  });

  afterEach(() => {
    document.body.replaceChildren();
    jest.restoreAllMocks();
  });

  function view(options: Partial<IFieldViewOptions> = {}): FieldView {
    const v = new FieldView({
      path: () => 'data/sample.sqlite',
      context: () => context,
      fetchField: async (path, request) => {
        expect(path).toBe('data/sample.sqlite');
        calls.push(request);
        return frame(request);
      },
      ...options
    });
    document.body.appendChild(v.node);
    return v;
  }

  // No-break spaces keep a step's text on one line: read as spaces.
  const text = (v: FieldView, id: string) => v.node.querySelector(`[data-testid="${id}"]`)?.textContent?.replace(/\u00a0/g, ' ') ?? null;

  it('is hidden until a run is opened, says it is loading, then titles the run with its step and time', async () => {
    let answer: (f: IFrame<IFieldHeader>) => void = () => undefined;
    const v = view({ fetchField: (_, request) => new Promise(resolve => (answer = () => resolve(frame(request)))) });
    expect(v.node.hidden).toBe(true);
    const opened = v.open('sim00012');
    expect(v.node.hidden).toBe(false);
    expect(v.state).toBe('loading');
    expect(text(v, 'dsi-field-status')).toBe('Loading sim00012 at step 2…');
    answer(frame({ sim: 'sim00012', t: 2 }));
    await opened;
    expect(v.state).toBe('ready');
    expect(v.node.querySelector<HTMLElement>('[data-testid="dsi-field-status"]')!.hidden).toBe(true);
    expect(text(v, 'dsi-field-title')).toBe('sim00012 · step 2 (t = 3)');
    expect(v.node.querySelectorAll('.jp-DSI-fieldPanel')).toHaveLength(1);
    expect(text(v, 'dsi-field-run')).toContain('ρ of sim00012');
  });

  it('shows a failure as its one line, and nothing drawn', async () => {
    const v = view({
      fetchField: () => Promise.reject(new ServerError('sims/sim00012.npz: no such file\n(trace)', 404))
    });
    await v.open('sim00012');
    expect(v.state).toBe('error');
    expect(text(v, 'dsi-field-error')).toBe('sims/sim00012.npz: no such file');
    expect(v.node.querySelector<HTMLElement>('[data-testid="dsi-field-error"]')!.hidden).toBe(false);
    expect(v.node.querySelectorAll('.jp-DSI-fieldPanel')).toHaveLength(0);
    expect(text(v, 'dsi-field-title')).toBe('sim00012 · step 2');
  });

  it("with a method: the ground truth's field at the matched step and |diff| over D+, run and ground truth on one color domain", async () => {
    context = { t: 4, method: { groundTruth: 'sim00000', gtTime: null, matchTime: 'nearest', field: 'density' } };
    const v = view();
    await v.open('sim00007');
    expect(calls).toEqual([{ sim: 'sim00007', t: 4, field: 'density', gt: 'sim00000', gtTime: null, matchTime: 'nearest' }]);
    const panels = [...v.node.querySelectorAll('.jp-DSI-fieldPanel')].map(p => p.getAttribute('data-testid'));
    expect(panels).toEqual(['dsi-field-run', 'dsi-field-gt', 'dsi-field-diff']);
    expect(text(v, 'dsi-field-gt')).toContain('ground truth sim00000 · step 4 (t = 5)');
    expect(text(v, 'dsi-field-diff')).toContain('on D+');
    const domain = (id: string) => v.node.querySelector(`[data-testid="${id}"] .jp-DSI-heatmap`)!.getAttribute('data-domain');
    expect(domain('dsi-field-run')).toBe('0.5 9'); // both fields' values
    expect(domain('dsi-field-gt')).toBe('0.5 9');
    expect(domain('dsi-field-diff')).toBe('0 0.5'); // |diff| from 0, NaN left out
    // Each canvas is an image named by what it shows and its values' range.
    const canvas = (id: string) => v.node.querySelector(`[data-testid="${id}"] canvas`)!;
    expect(canvas('dsi-field-run').getAttribute('role')).toBe('img');
    expect(canvas('dsi-field-run').getAttribute('aria-label')).toBe('ρ of sim00007 at step 4: values from 1 to 6');
    expect(canvas('dsi-field-gt').getAttribute('aria-label')).toBe('ρ of the ground truth sim00000 at step 4: values from 0.5 to 9');
    expect(canvas('dsi-field-diff').getAttribute('aria-label')).toBe('|ρ_gt − ρ| on D+ between sim00007 at step 4 and the ground truth sim00000: values from 0 to 0.5');
  });

  it('follows the time slider and the method, and asks nothing again for the same step', async () => {
    const v = view();
    await v.open('sim00003');
    await v.update();
    expect(calls).toHaveLength(1);
    context = { t: 5, method: null };
    await v.update();
    expect(calls.map(c => c.t)).toEqual([2, 5]);
    expect(text(v, 'dsi-field-title')).toBe('sim00003 · step 5 (t = 6)');
    context = { t: 5, method: { groundTruth: 'sim00001', gtTime: 0, matchTime: 'index', field: 'density' } };
    await v.update();
    expect(calls[2]).toEqual({ sim: 'sim00003', t: 5, field: 'density', gt: 'sim00001', gtTime: 0, matchTime: 'index' });
  });

  it('drops an answer that arrives after a newer request (the slider moved on)', async () => {
    const pending: ((f: IFrame<IFieldHeader>) => void)[] = [];
    const v = view({
      fetchField: (_, request) => new Promise(resolve => pending.push(() => resolve(frame(request))))
    });
    const first = v.open('sim00001');
    context = { t: 7, method: null };
    const second = v.update();
    pending[1](frame({ sim: 'sim00001', t: 7 }));
    await second;
    pending[0](frame({ sim: 'sim00001', t: 2 }));
    await first;
    expect(text(v, 'dsi-field-title')).toBe('sim00001 · step 7 (t = 8)');
  });

  it('"Use as ground truth" calls the option with the run shown; without the option there is no button', async () => {
    const useAsGroundTruth = jest.fn();
    const v = view({ useAsGroundTruth });
    await v.open('sim00042');
    const button = v.node.querySelector<HTMLButtonElement>('[data-testid="dsi-field-use"]')!;
    expect(button.hidden).toBe(false);
    button.click();
    expect(useAsGroundTruth).toHaveBeenCalledWith('sim00042');
    expect(view().node.querySelector<HTMLButtonElement>('[data-testid="dsi-field-use"]')!.hidden).toBe(true);
  });

  it('is disabled on the ground truth itself', async () => {
    context = { t: 0, method: { groundTruth: 'sim00000', gtTime: null, matchTime: 'index', field: 'density' } };
    const v = view({ useAsGroundTruth: jest.fn() });
    await v.open('sim00000');
    expect(v.node.querySelector<HTMLButtonElement>('[data-testid="dsi-field-use"]')!.disabled).toBe(true);
  });

  it('closes with its × button and tells the explorer', async () => {
    const onClose = jest.fn();
    const v = view({ onClose });
    await v.open('sim00001');
    v.node.querySelector<HTMLButtonElement>('.jp-DSI-fieldClose')!.click();
    expect(v.node.hidden).toBe(true);
    expect(v.state).toBe('closed');
    expect(onClose).toHaveBeenCalledTimes(1);
    await v.update();
    expect(calls).toHaveLength(1);
  });

  it("shows a Cinema run's FILE images where it has no field", async () => {
    (URL as unknown as { createObjectURL: (b: Blob) => string }).createObjectURL = () => 'blob:image-1';
    (URL as unknown as { revokeObjectURL: (u: string) => void }).revokeObjectURL = () => undefined;
    const v = view({
      useAsGroundTruth: jest.fn(),
      fetchField: () => Promise.reject(new ServerError("simulation '3' has no field file: its source is a table", 422)),
      fetchImageColumns: async () => [{ name: 'FILE', per_step: false }],
      fetchImage: async () => new Blob([new Uint8Array([137, 80, 78, 71])], { type: 'image/png' })
    });
    await v.open('3');
    expect(v.state).toBe('ready');
    const img = v.node.querySelector<HTMLImageElement>('[data-testid="dsi-field-image"] img')!;
    expect(img.getAttribute('src')).toBe('blob:image-1');
    expect(img.alt).toBe('FILE of 3');
    expect(v.node.querySelector<HTMLButtonElement>('[data-testid="dsi-field-use"]')!.hidden).toBe(true); // no field: no ground truth
    expect(text(v, 'dsi-field-error')).toBe('');
  });
  it('goes back to the step shown while another loads (A → B → A): B answering last draws nothing', async () => {
    const pending: ((f: IFrame<IFieldHeader>) => void)[] = [];
    const v = view({
      fetchField: (_, request) => new Promise(resolve => pending.push(() => resolve(frame(request))))
    });
    context = { t: 1, method: null };
    const a = v.open('sim00001');
    pending[0](frame({ sim: 'sim00001', t: 1 }));
    await a;
    context = { t: 2, method: null };
    const b = v.update();
    expect(v.state).toBe('loading');
    context = { t: 1, method: null }; // the slider back at 1
    await v.update();
    expect(v.state).toBe('ready');
    pending[1](frame({ sim: 'sim00001', t: 2 }));
    await b;
    expect(text(v, 'dsi-field-title')).toBe('sim00001 · step 1 (t = 2)');
    expect(v.state).toBe('ready');
    // B again after that: asked again (it was never shown).
    context = { t: 2, method: null };
    const again = v.update();
    expect(pending).toHaveLength(3);
    pending[2](frame({ sim: 'sim00001', t: 2 }));
    await again;
    expect(text(v, 'dsi-field-title')).toBe('sim00001 · step 2 (t = 3)');
  });

  it('keeps asking the database it was opened in when another one opens', async () => {
    let path = 'data/sample.sqlite';
    const paths: string[] = [];
    const v = view({
      path: () => path,
      fetchField: async (p, request) => {
        paths.push(p);
        return frame(request);
      }
    });
    await v.open('sim00001');
    path = 'data/other.sqlite';
    context = { t: 4, method: null };
    await v.update();
    expect(paths).toEqual(['data/sample.sqlite', 'data/sample.sqlite']);
  });

  it("does not count a stale request's images as shown", async () => {
    (URL as unknown as { createObjectURL: (b: Blob) => string }).createObjectURL = () => 'blob:image-1';
    (URL as unknown as { revokeObjectURL: (u: string) => void }).revokeObjectURL = () => undefined;
    let release: () => void = () => undefined;
    const v = view({
      fetchField: () => Promise.reject(new ServerError("simulation '3' has no field file: its source is a table", 422)),
      fetchImageColumns: async () => [{ name: 'FILE', per_step: true }],
      fetchImage: () => new Promise(resolve => (release = () => resolve(new Blob([new Uint8Array([1])], { type: 'image/png' }))))
    });
    const first = v.open('3');
    await new Promise(resolve => setTimeout(resolve, 0));
    v.close(); // the request goes stale while its images load
    release();
    await first;
    expect(v.state).toBe('closed');
    expect(v.node.querySelector('[data-testid="dsi-field-image"]')).toBeNull();
    // Opened again at the same step: loaded (not taken as shown already).
    const again = v.open('3');
    await new Promise(resolve => setTimeout(resolve, 0));
    release();
    await again;
    expect(v.node.querySelector('[data-testid="dsi-field-image"]')).not.toBeNull();
  });
});
