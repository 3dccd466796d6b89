import type { ErrorBody, Row, RowFields, RowPatch } from '../../../shared/protocol';

/** A row as the server has it, with its `ETag` (the seq of its last change) for a later `If-Match`. */
export interface RowAt {
  row: Row;
  etag: string | null;
}

/** An accepted write: the row as written (as it was, for a delete) and the seq of its change. */
export interface Written extends RowAt {
  ok: true;
  seq: number;
}

/**
 * A refused write, as the server said it: its status, code and words, and
 * what the code carries (each refused field; the row as it now is; the limit).
 * A request that never reached the server has status 0, code `network_error`.
 */
export interface Refused {
  ok: false;
  status: number;
  code: string;
  message: string;
  fields?: Record<string, string>;
  current?: RowAt;
  limit?: number;
}

export type WriteOutcome = Written | Refused;

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json' };

function isRow(value: unknown): value is Row {
  return typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'number';
}

async function outcome(response: Response): Promise<WriteOutcome> {
  let body: Partial<ErrorBody> & { data?: unknown; seq?: unknown } = {};
  try {
    body = ((await response.json()) as typeof body | null) ?? {};
  } catch {
    // not JSON (a proxy's page): the status still says what happened
  }
  const etag = response.headers.get('ETag');
  if (response.ok && isRow(body.data)) {
    return { ok: true, row: body.data, etag, seq: typeof body.seq === 'number' ? body.seq : 0 };
  }
  return {
    ok: false,
    status: response.status,
    code: typeof body.code === 'string' ? body.code : 'http_error',
    message: typeof body.message === 'string' ? body.message : `HTTP ${response.status}`,
    ...(body.fields === undefined ? {} : { fields: body.fields }),
    ...(isRow(body.data) ? { current: { row: body.data, etag } } : {}),
    ...(typeof body.limit === 'number' ? { limit: body.limit } : {}),
  };
}

async function send(fetch: Fetch, url: string, init: RequestInit): Promise<WriteOutcome> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    return { ok: false, status: 0, code: 'network_error', message: String(error) };
  }
  return outcome(response);
}

/** `If-Match` for a write that must apply only to the row as last seen; none for one that applies anyway. */
const ifMatch = (etag: string | null | undefined): Record<string, string> =>
  etag === null || etag === undefined ? {} : { 'If-Match': etag };

/**
 * The write API (`/api/rows`) as the page calls it: every answer, accepted
 * or refused, comes back as a value; nothing throws. The change itself
 * reaches the page, like every other, on its stream.
 */
export function createRowsApi(fetch: Fetch) {
  return {
    /** The row as it is now, with its ETag. */
    async get(id: number): Promise<WriteOutcome> {
      return send(fetch, `/api/rows/${id}`, { headers: { Accept: 'application/json' } });
    },
    add(fields: RowFields): Promise<WriteOutcome> {
      return send(fetch, '/api/rows', { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(fields) });
    },
    update(id: number, patch: RowPatch, etag?: string | null): Promise<WriteOutcome> {
      return send(fetch, `/api/rows/${id}`, {
        method: 'PATCH',
        headers: { ...JSON_HEADERS, ...ifMatch(etag) },
        body: JSON.stringify(patch),
      });
    },
    remove(id: number, etag?: string | null): Promise<WriteOutcome> {
      return send(fetch, `/api/rows/${id}`, {
        method: 'DELETE',
        headers: { Accept: 'application/json', ...ifMatch(etag) },
      });
    },
  };
}

export type RowsApi = ReturnType<typeof createRowsApi>;

/** The page's own: the browser's fetch. */
export const rowsApi = createRowsApi((input, init) => fetch(input, init));
