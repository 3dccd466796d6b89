import { describe, expect, it, vi } from 'vitest';
import { REQUEST_TIMEOUT_MS, SessionApi } from './sessionApi';

const ID = 'AbCdEfGh12345678';

function answering(status: number, body?: unknown): SessionApi {
  return new SessionApi(
    async () =>
      ({
        ok: status >= 200 && status < 300,
        status,
        json: async () => {
          if (body === undefined) throw new SyntaxError('no body');
          return body;
        },
      }) as Response,
  );
}

const unreachable = new SessionApi(async () => {
  throw new TypeError('Failed to fetch');
});

describe('SessionApi', () => {
  it('start answers the new id, or why not: the server words, the status, or no server', async () => {
    expect(await answering(200, { status: 'success', session_id: ID }).start()).toEqual({ id: ID });
    expect(await answering(429, { status: 'error', message: '会话过多' }).start()).toEqual({
      failed: '会话过多',
      status: 429,
    });
    expect(await answering(502).start()).toEqual({
      failed: { key: 'log.requestFailed', params: { status: 502 } },
      status: 502,
    });
    expect(await answering(200, { session_id: '../etc' }).start()).toMatchObject({ status: 200 });
    expect(await unreachable.start()).toEqual({ failed: { key: 'log.networkError' } });
  });

  it("stop words a known outcome in the page's words, an older server's in its own", async () => {
    expect(await answering(200, { outcome: 'stopped', message: '数据生成已停止' }).stop(ID)).toEqual({
      said: { key: 'log.stopped' },
    });
    expect(await answering(200, { outcome: 'already_ended' }).stop(ID)).toEqual({ said: { key: 'log.already_ended' } });
    expect(await answering(200, { message: '已停止' }).stop(ID)).toEqual({ said: '已停止' });
    expect(await answering(200, {}).stop(ID)).toEqual({ said: null });
    expect(await answering(404, { message: '会话不存在' }).stop(ID)).toEqual({ failed: '会话不存在', status: 404 });
  });

  it('table gives the snapshot, or null for anything but a table', async () => {
    const data = [{ id: 1, name: '张三', age: 30, city: '北京', score: 80, status: '活跃' }];
    expect(await answering(200, { data, version: 7, timestamp: 'T', heartbeat_interval: 500 }).table()).toEqual({
      data,
      version: 7,
      timestamp: 'T',
      heartbeatInterval: 500,
    });
    expect(await answering(200, { data: 'rows' }).table()).toBeNull();
    expect(await answering(500, { data }).table()).toBeNull();
    expect(await unreachable.table()).toBeNull();
  });

  it('gives up on a start or stop that is never answered, as on a network error', async () => {
    vi.useFakeTimers();
    try {
      const hung = new SessionApi(
        (_url, init) =>
          new Promise<Response>((_resolve, reject) =>
            init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))),
          ),
      );
      let settled = false;
      const answer = hung.stop('AbCdEfGh12345678').finally(() => (settled = true));
      await vi.advanceTimersByTimeAsync(REQUEST_TIMEOUT_MS - 1);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(await answer).toEqual({ failed: { key: 'log.networkError' } });
    } finally {
      vi.useRealTimers();
    }
  });
});
