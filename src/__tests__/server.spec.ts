/**
 * The panel's side of a busy database (the server answers 503 with Retry-After while another
 * program holds the file's lock), of queued jobs in the status bar, and of the replica and a
 * method's distances (issue 18): the limit goes to the server, whose refusal is shown as it is.
 */
import { ServerConnection } from '@jupyterlab/services';

import { fetchDatabase, fetchDistances, fetchEvents, IDatasetRequest, IJob, saveDataset, ServerError } from '../server';
import { JobStatus, statusText } from '../panel/jobStatus';

function answer(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText: String(status),
    headers: {
      get: (name: string) => lower[name.toLowerCase()] ?? null,
      has: (name: string) => name.toLowerCase() in lower
    },
    json: async () => body,
    arrayBuffer: async () => (body instanceof ArrayBuffer ? body : new ArrayBuffer(0)),
    body: null
  } as unknown as Response;
}

const BODY: IDatasetRequest = {
  id: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  name: 'n',
  description: 'why',
  members: ['s01'],
  method_id: null,
  t: 1,
  weights: null,
  filter: '',
  selection_kind: 'brush',
  selection_geometry: null,
  sampling: null,
  settings: {}
};
const BUSY = 'ens.sqlite is busy: another program (a kernel, `jupyter dsi`) holds its lock; retrying';

describe('a busy database', () => {
  afterEach(() => jest.restoreAllMocks());

  it('retries after Retry-After, says so, and answers the save', async () => {
    const answers = [
      answer(503, { message: BUSY }, { 'Retry-After': '0' }),
      answer(503, { message: BUSY }, { 'Retry-After': '0' }),
      answer(201, { id: BODY.id, name: 'n', description: 'why', size: 1, digest: 'sha256:ab', created_at: '' })
    ];
    const sent = jest.spyOn(ServerConnection, 'makeRequest').mockImplementation(async () => answers.shift()!);
    const heard: string[] = [];
    const record = await saveDataset('ens.sqlite', BODY, message => heard.push(message));
    expect(record.id).toBe(BODY.id);
    expect(heard).toEqual([BUSY, BUSY]);
    // Every try sent the same body: the same client-chosen id, so a save that got through is not repeated.
    expect(sent).toHaveBeenCalledTimes(3);
    expect(new Set(sent.mock.calls.map(call => call[1]?.body)).size).toBe(1);
  });

  it('gives up with a message when the wait would pass the deadline', async () => {
    jest
      .spyOn(ServerConnection, 'makeRequest')
      .mockImplementation(async () => answer(503, { message: BUSY }, { 'Retry-After': '3600' }));
    const heard: string[] = [];
    const error = await saveDataset('ens.sqlite', BODY, message => heard.push(message)).catch(e => e);
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).status).toBe(503);
    expect((error as ServerError).message).toBe(
      'ens.sqlite is busy: another program (a kernel, `jupyter dsi`) holds its lock; still busy after 60 s: try again once it is done.'
    );
    expect(heard).toEqual([]);
  });

  it('does not retry a 503 without Retry-After, nor other errors', async () => {
    const sent = jest
      .spyOn(ServerConnection, 'makeRequest')
      .mockImplementation(async () => answer(503, { message: 'proxy down' }));
    await expect(saveDataset('ens.sqlite', BODY)).rejects.toThrow('proxy down');
    expect(sent).toHaveBeenCalledTimes(1);
  });

  it('does not retry the periodic poll of events: the next poll is the retry', async () => {
    const sent = jest
      .spyOn(ServerConnection, 'makeRequest')
      .mockImplementation(async () => answer(503, { message: BUSY }, { 'Retry-After': '0' }));
    await expect(fetchEvents('ens.sqlite', 3)).rejects.toThrow('ens.sqlite is busy');
    expect(sent).toHaveBeenCalledTimes(1);
  });
});

describe('the status bar', () => {
  const job = (state: IJob['state'], done = 0, total = 0): IJob => ({
    id: state,
    kind: 'postprocess',
    path: 'ens.sqlite',
    state,
    done,
    total,
    result: null,
    message: '',
    elapsed: 0
  });

  it('shows queued jobs as queued', () => {
    expect(statusText([])).toBe('');
    expect(statusText([job('queued')])).toBe('DSI: post-processing queued');
    expect(statusText([job('queued'), job('queued')])).toBe('DSI: post-processing queued (2)');
    expect(statusText([job('running', 3, 10), job('queued')])).toBe('DSI: post-processing 3/10, 1 queued');
    expect(statusText([job('running', 3, 10), job('running', 1, 10)])).toBe('DSI: post-processing 4/20');
  });

  it('keeps a queued job in the status bar until it is over', () => {
    const bar = new JobStatus();
    const panel = {};
    bar.report(panel, job('queued'));
    expect(bar.active).toBe(true);
    expect(bar.node.textContent).toBe('DSI: post-processing queued');
    expect(bar.node.title).toBe('ens.sqlite: queued, waiting for a free job slot');
    bar.report(panel, job('running', 2, 4));
    expect(bar.node.textContent).toBe('DSI: post-processing 2/4');
    bar.report(panel, job('cancelled'));
    expect(bar.active).toBe(false);
    expect(bar.node.textContent).toBe('');
  });
});

describe('the replica and a method\'s distances', () => {
  afterEach(() => jest.restoreAllMocks());

  const sentTo = (spy: jest.SpyInstance, call = 0) => new URL(spy.mock.calls[call][0] as string);

  it('asks for the replica within the limit and says whether one came', async () => {
    const bytes = new ArrayBuffer(16);
    const sent = jest
      .spyOn(ServerConnection, 'makeRequest')
      .mockImplementation(async () => answer(200, bytes, { 'X-DSI-Event-Seq': '42', 'X-DSI-Replica': '1', 'Content-Length': '16' }));
    const got = await fetchDatabase('data/ens.sqlite', 512 * 1048576);
    expect(got).toEqual({ bytes, eventSeq: 42, replica: true });
    const url = sentTo(sent);
    expect(url.pathname).toMatch(/\/jupyterlab-dsi\/db$/);
    expect(url.searchParams.get('path')).toBe('data/ens.sqlite');
    expect(url.searchParams.get('max_bytes')).toBe(String(512 * 1048576));
    // No limit: none sent; an older server's whole file is not a replica.
    sent.mockImplementation(async () => answer(200, bytes, { 'X-DSI-Event-Seq': '1' }));
    expect((await fetchDatabase('data/ens.sqlite')).replica).toBe(false);
    expect(sentTo(sent, 1).searchParams.has('max_bytes')).toBe(false);
  });

  it('shows the server\'s refusal of an oversized replica as it is', async () => {
    const line = "data/ens.sqlite: the panel's copy would be 700 MB, above the 512 MB limit (Settings → DSI Explorer → maxDatabaseMB).";
    jest.spyOn(ServerConnection, 'makeRequest').mockImplementation(async () => answer(413, { message: line }));
    const error = await fetchDatabase('data/ens.sqlite', 512 * 1048576).catch(e => e);
    expect(error).toBeInstanceOf(ServerError);
    expect(error.status).toBe(413);
    expect(error.message).toBe(line);
  });

  it('refuses a whole file above the limit from its Content-Length (an older server)', async () => {
    jest
      .spyOn(ServerConnection, 'makeRequest')
      .mockImplementation(async () => answer(200, new ArrayBuffer(0), { 'Content-Length': String(600 * 1048576) }));
    await expect(fetchDatabase('ens.sqlite', 512 * 1048576)).rejects.toThrow(
      "ens.sqlite: the panel's copy would be 600 MB, above the 512 MB limit (Settings → DSI Explorer → maxDatabaseMB)."
    );
  });

  it('fetches a stored method\'s frame with the room left, and keeps the server\'s 404 and 413 lines', async () => {
    const frame = new ArrayBuffer(64);
    const sent = jest.spyOn(ServerConnection, 'makeRequest').mockImplementation(async () => answer(200, frame));
    expect(await fetchDistances('data/ens.sqlite', 'm-1', 1000.7)).toBe(frame);
    const url = sentTo(sent);
    expect(url.pathname).toMatch(/\/jupyterlab-dsi\/distances$/);
    expect(Object.fromEntries(url.searchParams)).toEqual({ path: 'data/ens.sqlite', method: 'm-1', max_bytes: '1000' });
    sent.mockImplementation(async () => answer(404, { message: 'no method 0badf00d in data/ens.sqlite' }));
    await expect(fetchDistances('data/ens.sqlite', '0badf00d-0000')).rejects.toThrow('no method 0badf00d in data/ens.sqlite');
    const line = "data/ens.sqlite: the panel's copy would be 40 MB, above the 30 MB limit (Settings → DSI Explorer → maxDatabaseMB).";
    sent.mockImplementation(async () => answer(413, { message: line }));
    await expect(fetchDistances('data/ens.sqlite', 'm-1', 30)).rejects.toThrow(line);
  });

  it('still polls a distances job by its id alone', async () => {
    const sent = jest
      .spyOn(ServerConnection, 'makeRequest')
      .mockImplementation(async () => answer(202, { id: 'j1', state: 'running' }));
    expect(await fetchDistances('j1')).toEqual({ job: { id: 'j1', state: 'running' } });
    expect(sentTo(sent).pathname).toMatch(/\/jupyterlab-dsi\/distances\/j1$/);
  });
});
