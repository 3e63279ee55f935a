/**
 * The panel's request that writes a dataset's export on the server (Export → Save next to the
 * notebook): where it goes, what it sends, and the server's one-line refusal as the error.
 */
import { ServerConnection } from '@jupyterlab/services';

import { exportDataset, saveExport, ServerError } from '../server';

function answer(status: number, body: unknown): Response {
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText: String(status),
    headers: { get: () => null, has: () => false },
    json: async () => body,
    text: async () => String(body)
  } as unknown as Response;
}

describe('saveExport', () => {
  afterEach(() => jest.restoreAllMocks());

  it('posts the format and the notebook folder to the dataset export endpoint of the database', async () => {
    const sent = jest
      .spyOn(ServerConnection, 'makeRequest')
      .mockImplementation(async () => answer(201, { path: 'work/d.prov.json', format: 'prov', bytes: 12 }));
    const saved = await saveExport('data/ens.sqlite', 'ab12-cd', 'prov', 'work');
    expect(saved).toEqual({ path: 'work/d.prov.json', format: 'prov', bytes: 12 });
    const [url, init] = sent.mock.calls[0];
    const parsed = new URL(url, 'http://localhost');
    expect(parsed.pathname).toMatch(/\/jupyterlab-dsi\/datasets\/ab12-cd\/export$/);
    expect(parsed.searchParams.get('path')).toBe('data/ens.sqlite');
    expect(init.method).toBe('POST');
    expect(JSON.parse(String(init.body))).toEqual({ format: 'prov', dir: 'work' });

    // No notebook: no folder sent, the server writes next to the database. The root is ''.
    await saveExport('data/ens.sqlite', 'ab12-cd', 'json');
    expect(JSON.parse(String(sent.mock.calls[1][1].body))).toEqual({ format: 'json' });
    await saveExport('data/ens.sqlite', 'ab12-cd', 'card', '');
    expect(JSON.parse(String(sent.mock.calls[2][1].body))).toEqual({ format: 'card', dir: '' });
  });

  it('Download takes the server’s text as it is, not JSON parsed and written again', async () => {
    const text = '{\n  "simulated_time": 11.0\n}\n';
    const sent = jest.spyOn(ServerConnection, 'makeRequest').mockImplementation(async () => answer(200, text));
    expect(await exportDataset('ens.sqlite', 'abcd', 'json')).toBe(text);
    const parsed = new URL(sent.mock.calls[0][0], 'http://localhost');
    expect(parsed.searchParams.get('format')).toBe('json');
    expect(parsed.searchParams.get('as')).toBe('text');
  });

  it("rejects with the server's message and status", async () => {
    jest
      .spyOn(ServerConnection, 'makeRequest')
      .mockImplementation(async () => answer(403, { message: '.hidden: a hidden folder (.hidden), which the server does not serve' }));
    const error = await saveExport('ens.sqlite', 'abcd', 'json', '.hidden').catch(e => e);
    expect(error).toBeInstanceOf(ServerError);
    expect(error.status).toBe(403);
    expect(error.message).toBe('.hidden: a hidden folder (.hidden), which the server does not serve');
  });
});
