import { describe, expect, it } from 'vitest';
import type { Row } from '../../../shared/protocol';
import { createRowsApi } from './rowsApi';

const ROW: Row = { id: 3, name: '张三', age: 30, city: '北京', score: 85.5, status: '活跃' };

/** A fetch that answers every request with this response, and keeps what it was asked. */
function answering(response: () => Response) {
  const asked: { url: string; init?: RequestInit }[] = [];
  const api = createRowsApi((url, init) => {
    asked.push({ url, init });
    return Promise.resolve(response());
  });
  return { api, asked };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

describe('the write API as the page calls it', () => {
  it('sends JSON and If-Match, and reads an accepted write with its ETag and seq', async () => {
    const { api, asked } = answering(() => json(200, { status: 'success', data: ROW, seq: 12 }, { ETag: '"12"' }));
    expect(await api.update(3, { city: '上海' }, '"11"')).toEqual({ ok: true, row: ROW, etag: '"12"', seq: 12 });
    expect(asked[0]?.url).toBe('/api/rows/3');
    expect(asked[0]?.init).toMatchObject({
      method: 'PATCH',
      body: '{"city":"上海"}',
      headers: { 'Content-Type': 'application/json', 'If-Match': '"11"' },
    });
    await api.remove(3);
    expect(asked[1]?.init?.method).toBe('DELETE');
    expect(asked[1]?.init?.headers).not.toHaveProperty('If-Match');
  });

  it('reads a refusal: its code, words, fields, and the row as it now is', async () => {
    const changed = answering(() =>
      json(412, { status: 'error', code: 'row_changed', message: 'changed', data: ROW }, { ETag: '"15"' }),
    );
    expect(await changed.api.update(3, { city: '上海' }, '"11"')).toEqual({
      ok: false,
      status: 412,
      code: 'row_changed',
      message: 'changed',
      current: { row: ROW, etag: '"15"' },
    });
    const invalid = answering(() =>
      json(400, { status: 'error', code: 'invalid_row', message: 'bad', fields: { age: 'must be…' } }),
    );
    expect(await invalid.api.add({ ...ROW, age: 200 })).toMatchObject({ ok: false, fields: { age: 'must be…' } });
  });

  it('turns a page that is not JSON, and a request that never arrived, into refusals', async () => {
    const proxy = answering(() => new Response('<h1>Bad Gateway</h1>', { status: 502 }));
    expect(await proxy.api.get(3)).toEqual({ ok: false, status: 502, code: 'http_error', message: 'HTTP 502' });
    const offline = createRowsApi(() => Promise.reject(new TypeError('Failed to fetch')));
    expect(await offline.get(3)).toMatchObject({ ok: false, status: 0, code: 'network_error' });
  });
});
