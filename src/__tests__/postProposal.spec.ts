/**
 * The panel's request to record a proposal: the body the server contract names (snake_case,
 * absent options left out), the new id it resolves with, and the server's one line on a refusal.
 */
import { ServerConnection } from '@jupyterlab/services';

import { postProposal, ServerError } from '../server';

function answer(status: number, body: unknown): Response {
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText: String(status),
    headers: { get: () => null, has: () => false },
    json: async () => body
  } as unknown as Response;
}

describe('postProposal', () => {
  afterEach(() => jest.restoreAllMocks());

  it('posts the request as snake_case JSON to proposals?path=DB and resolves the new id', async () => {
    const sent = jest.spyOn(ServerConnection, 'makeRequest').mockImplementation(async () => answer(201, { id: 'abc123', n: 4 }));
    const id = await postProposal('dir/ens one.sqlite', {
      runId: 'r1',
      n: 4,
      seed: 7,
      target: 'velocity',
      tau: { velocity: 0.5 },
      bounds: { velocity: [1, 2] },
      alpha: 0.5,
      entropyColumn: 'entropy',
      continuous: ['cs']
    });
    expect(id).toBe('abc123');
    const [url, init] = sent.mock.calls[0];
    expect(url).toMatch(/\/jupyterlab-dsi\/proposals\?path=dir%2Fens\+one\.sqlite$/);
    expect(init?.method).toBe('POST');
    expect(JSON.parse(String(init?.body))).toEqual({
      run_id: 'r1',
      n: 4,
      seed: 7,
      target: 'velocity',
      tau: { velocity: 0.5 },
      bounds: { velocity: [1, 2] },
      alpha: 0.5,
      entropy_column: 'entropy',
      continuous: ['cs']
    });
  });

  it('leaves absent options out of the body, so that the server applies its defaults', async () => {
    const sent = jest.spyOn(ServerConnection, 'makeRequest').mockImplementation(async () => answer(201, { id: 'x', n: 1 }));
    await postProposal('ens.sqlite', { runId: 'r1', n: 1, seed: 0 });
    expect(JSON.parse(String(sent.mock.calls[0][1]?.body))).toEqual({ run_id: 'r1', n: 1, seed: 0 });
  });

  it("rejects with the server's one line when it refuses", async () => {
    const line = "run r1 logged no sigma2: train a model with a predictive variance";
    jest.spyOn(ServerConnection, 'makeRequest').mockImplementation(async () => answer(422, { message: line }));
    const error = await postProposal('ens.sqlite', { runId: 'r1', n: 1, seed: 0 }).catch(e => e);
    expect(error).toBeInstanceOf(ServerError);
    expect((error as Error).message).toBe(line);
    expect((error as ServerError).status).toBe(422);
  });
});
