/**
 * The panel's request for a recorded proposal's points as CSV (the list's CSV action): the URL
 * the server contract names (proposals/ID?path=DB&format=csv), the text as the server wrote it
 * (never parsed and written again), and the server's one line on a refusal.
 */
import { ServerConnection } from '@jupyterlab/services';

import { proposalCsv, ServerError } from '../server';

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

describe('proposalCsv', () => {
  afterEach(() => jest.restoreAllMocks());

  it('gets proposals/ID?path=DB&format=csv and resolves the text as the server wrote it', async () => {
    // As `jupyter dsi proposals --db DB ID` prints it: 1.0 stays 1.0, the line ends stay.
    const text = 'energy,thickness,proposal_id,component\r\n1.0,2.50,abcd1234-00000,7\r\n';
    const sent = jest.spyOn(ServerConnection, 'makeRequest').mockImplementation(async () => answer(200, text));
    expect(await proposalCsv('dir/ens one.sqlite', 'abcd1234-ef56')).toBe(text);
    const [url, init] = sent.mock.calls[0];
    const parsed = new URL(url, 'http://localhost');
    expect(parsed.pathname).toMatch(/\/jupyterlab-dsi\/proposals\/abcd1234-ef56$/);
    expect(parsed.searchParams.get('path')).toBe('dir/ens one.sqlite');
    expect(parsed.searchParams.get('format')).toBe('csv');
    expect(init?.method ?? 'GET').toBe('GET');
  });

  it('escapes the id into a single path segment', async () => {
    const sent = jest.spyOn(ServerConnection, 'makeRequest').mockImplementation(async () => answer(200, ''));
    await proposalCsv('ens.sqlite', 'a/b?c');
    expect(new URL(sent.mock.calls[0][0], 'http://localhost').pathname).toMatch(/\/proposals\/a%2Fb%3Fc$/);
  });

  it("rejects with the server's one line when it refuses", async () => {
    const line = 'no proposal abcd1234 in ens.sqlite';
    jest.spyOn(ServerConnection, 'makeRequest').mockImplementation(async () => answer(422, { message: line }));
    const error = await proposalCsv('ens.sqlite', 'abcd1234').catch(e => e);
    expect(error).toBeInstanceOf(ServerError);
    expect((error as Error).message).toBe(line);
    expect((error as ServerError).status).toBe(422);
  });
});
