import type { DataResponse, Row } from '../../../shared/protocol';
import { SESSION_ID_PATTERN } from '../../../shared/protocol';
import type { LogText } from './i18n';

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/** A request that failed, in words for the log; `status` is absent when the server was not reached. */
export interface Refusal {
  failed: LogText;
  status?: number;
}

export interface TableSnapshot {
  data: Row[];
  version: number;
  timestamp: string | undefined;
  heartbeatInterval: number | undefined;
}

async function readJson(response: Response): Promise<Record<string, unknown> | null> {
  try {
    const body: unknown = await response.json();
    return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The server's own words when it gave some, else the status. */
function refusal(response: Response, body: Record<string, unknown> | null): Refusal {
  const failed: LogText =
    typeof body?.message === 'string'
      ? body.message
      : { key: 'log.requestFailed', params: { status: response.status } };
  return { failed, status: response.status };
}

/** How long a start or stop may take to be answered before the page gives up on it. */
export const REQUEST_TIMEOUT_MS = 10_000;

async function post(
  fetch: Fetch,
  url: string,
): Promise<{ response: Response; body: Record<string, unknown> | null } | Refusal> {
  // A request that never comes back would leave the buttons waiting for good.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { Accept: 'application/json' },
      signal: controller.signal,
    });
    return { response, body: await readJson(response) };
  } catch {
    return { failed: { key: 'log.networkError' } };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The session API as values: each call answers what happened, and the live
 * table decides what the page does about it.
 */
export class SessionApi {
  constructor(private readonly fetch: Fetch) {}

  /** Asks for a new session: its id, or why not. */
  async start(): Promise<{ id: string } | Refusal> {
    const answer = await post(this.fetch, '/api/start');
    if ('failed' in answer) return answer;
    const { response, body } = answer;
    const id = body?.session_id;
    if (!response.ok || typeof id !== 'string' || !SESSION_ID_PATTERN.test(id)) return refusal(response, body);
    return { id };
  }

  /**
   * Stops a session. The answer's words: the page's own for a known
   * `outcome`, an older server's otherwise, none if it gave none.
   */
  async stop(id: string): Promise<{ said: LogText | null; at?: string } | Refusal> {
    const answer = await post(this.fetch, `/api/stop/${id}`);
    if ('failed' in answer) return answer;
    const { response, body } = answer;
    if (!response.ok) return refusal(response, body);
    // When the server took the stop, so the log tells it before the end it sent after.
    const at = typeof body?.timestamp === 'string' ? { at: body.timestamp } : {};
    if (body?.outcome === 'stopped' || body?.outcome === 'already_ended') {
      return { said: { key: `log.${body.outcome}` }, ...at };
    }
    return { said: typeof body?.message === 'string' ? body.message : null, ...at };
  }

  /** The table as `/api/data` gives it, or null when that failed. */
  async table(): Promise<TableSnapshot | null> {
    try {
      const response = await this.fetch('/api/data', { headers: { Accept: 'application/json' } });
      const body = (await readJson(response)) as Partial<DataResponse> | null;
      if (!response.ok || !Array.isArray(body?.data)) return null;
      return {
        data: body.data,
        version: body.version ?? 0,
        timestamp: body.timestamp,
        heartbeatInterval: body.heartbeat_interval,
      };
    } catch {
      return null;
    }
  }
}
