import type { Middleware, Polka, Request } from 'polka';
import {
  checkRowFields,
  type ChangeEvent,
  type Row,
  type RowFields,
  type RowPatch,
  type RowResponse,
  type WriteResponse,
} from '../../shared/protocol.js';
import { CommitRefused, type ChangeMeta, type TableLimits, type TableStore } from '../store/tableStore.js';
import type { Mutation } from '../table/mutations.js';
import { authSubject } from './auth.js';
import { HttpError, sendJson } from './httpError.js';

/** How long a write waits for this node to reach the version a client names (a shared store). */
const CATCH_UP_MS = 2000;
/**
 * How often a write without If-Match is tried again when the row changed on
 * another node between this node's read and the commit (it waits for the
 * node to catch up in between).
 */
const ATTEMPTS = 5;
const ATTEMPT_WAIT_MS = 250;

export interface RowsApiOptions {
  store: TableStore;
  limits: TableLimits;
  /** Whether writes are on (--writes); reads answer either way. */
  writes: boolean;
  now: () => number;
  /** What every write passes first, in order: the body, the token check, the rate limit. */
  guards: Middleware[];
}

/** A row's ETag: the seq of its last change, quoted. */
const etag = (version: number): string => `"${version}"`;

function rowIdParam(req: Request): number {
  const raw = req.params.id ?? '';
  const id = Number(raw);
  if (!/^[1-9][0-9]{0,15}$/.test(raw) || !Number.isSafeInteger(id)) {
    throw new HttpError(400, 'invalid_row_id', 'A row id is a whole number from 1.');
  }
  return id;
}

const rowNotFound = (id: number) => new HttpError(404, 'row_not_found', `The table has no row ${id}.`);

/**
 * The versions `If-Match` accepts: undefined without the header, 'any' for
 * `*`, else the seqs its strong ETags name. Weak ETags never match (RFC 9110
 * compares If-Match strongly), so they are accepted and match nothing.
 */
function ifMatch(req: Request): Set<number> | 'any' | undefined {
  const header = req.headers['if-match'];
  if (header === undefined) return undefined;
  if (header.trim() === '*') return 'any';
  const versions = new Set<number>();
  for (const tag of header.split(',')) {
    const match = /^\s*(W\/)?"([0-9]{1,16})"\s*$/.exec(tag);
    if (match === null) {
      throw new HttpError(400, 'invalid_if_match', 'If-Match takes the ETags a row was sent with, such as "42", or *.');
    }
    if (match[1] === undefined) versions.add(Number(match[2]));
  }
  return versions;
}

/** The request's JSON object, or a 400 naming what a row write takes. */
function bodyOf(req: Request, whole: boolean): Record<string, unknown> {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null) {
    throw new HttpError(
      400,
      'invalid_row',
      whole
        ? 'Send the row as a JSON object: {"name", "age", "city", "score", "status"}.'
        : 'Send the fields to change as a JSON object, such as {"score": 90.5}.',
    );
  }
  return body as Record<string, unknown>;
}

function checked(input: Record<string, unknown>, whole: boolean): RowPatch {
  const { fields, problems } = checkRowFields(input, whole);
  if (problems !== undefined) {
    const named = Object.keys(problems).join(', ');
    throw new HttpError(400, 'invalid_row', `These fields cannot be written: ${named}.`, {}, { fields: problems });
  }
  return fields;
}

/**
 * The write API: `GET /api/rows/:id` and, with writes on, `POST /api/rows`,
 * `PATCH` and `DELETE /api/rows/:id`. Writes commit through the store like
 * the generator's changes (atomically across nodes on a shared store) and
 * reach every stream as `add`, `update` or `delete`. A refused write changes
 * nothing.
 */
export function mountRowsApi(app: Polka, { store, limits, writes, now, guards }: RowsApiOptions): void {
  const writesOff: Middleware = () => {
    throw new HttpError(403, 'writes_disabled', 'This server takes no writes (it runs with --writes off).');
  };
  const writeGuards = writes ? guards : [writesOff];

  const metaOf = (req: Request): ChangeMeta => {
    const author = authSubject(req);
    return {
      session_id: null,
      generation_count: 0,
      timestamp: new Date(now()).toISOString(),
      ...(author === undefined ? {} : { author }),
    };
  };

  const refusal = (err: unknown, id: number | undefined): unknown => {
    if (!(err instanceof CommitRefused)) return err;
    switch (err.reason) {
      case 'row_not_found':
        return rowNotFound(id ?? 0);
      case 'too_few_rows':
        return new HttpError(
          409,
          'too_few_rows',
          `The table keeps at least ${limits.minRecords} rows (--min-records): delete refused.`,
          {},
          { limit: limits.minRecords },
        );
      case 'too_many_rows':
        return new HttpError(
          409,
          'too_many_rows',
          `The table holds at most ${limits.maxRecords} rows (--max-records): add refused.`,
          {},
          { limit: limits.maxRecords },
        );
      default:
        return err;
    }
  };

  const rowChanged = (row: Row, version: number) =>
    new HttpError(
      412,
      'row_changed',
      `Row ${row.id} has changed since that version: it is sent as it is now.`,
      { ETag: etag(version) },
      { data: row },
    );

  /**
   * Commits `mutation` against the row as this node has it now: `make` gets
   * the row and its version (or undefined for a row the table lacks) and
   * returns the mutation, or undefined for nothing to commit. A row another
   * node changed meanwhile is read again once this node has caught up; with
   * If-Match, it is the client's to decide (412).
   */
  const writeRow = async (
    req: Request,
    id: number,
    make: (row: Row, version: number) => Mutation | undefined,
  ): Promise<{ row: Row; version: number; change?: ChangeEvent }> => {
    const wanted = ifMatch(req);
    if (wanted instanceof Set && wanted.size > 0) await store.reach(Math.max(...wanted), CATCH_UP_MS);
    for (let attempt = 1; ; attempt++) {
      const row = store.get(id);
      const version = store.rowVersion(id);
      if (row === undefined || version === undefined) throw rowNotFound(id);
      if (wanted instanceof Set && !wanted.has(version)) throw rowChanged(row, version);
      const mutation = make(row, version);
      if (mutation === undefined) return { row, version };
      try {
        const change = await store.commit(mutation, metaOf(req));
        return { row, version, change };
      } catch (err) {
        if (!(err instanceof CommitRefused && err.reason === 'row_changed')) throw refusal(err, id);
        // Changed on another node since this one read it: wait to see it.
        await store.reach(store.version + 1, ATTEMPT_WAIT_MS);
        if (wanted !== undefined || attempt >= ATTEMPTS) {
          const now = store.get(id);
          const nowVersion = store.rowVersion(id);
          if (now === undefined || nowVersion === undefined) throw rowNotFound(id);
          if (wanted !== undefined) throw rowChanged(now, nowVersion);
          throw new HttpError(409, 'row_busy', `Row ${id} kept changing while it was written: try again.`, {
            'Retry-After': '1',
          });
        }
      }
    }
  };

  app.get('/api/rows/:id', (req, res) => {
    const id = rowIdParam(req);
    const row = store.get(id);
    const version = store.rowVersion(id);
    if (row === undefined || version === undefined) throw rowNotFound(id);
    const body: RowResponse = { status: 'success', data: row };
    sendJson(res, 200, body, { ETag: etag(version) });
  });

  app.post('/api/rows', ...writeGuards, async (req, res) => {
    const fields = checked(bodyOf(req, true), true) as RowFields;
    let change: ChangeEvent;
    try {
      change = await store.commit({ type: 'add', row: fields }, metaOf(req));
    } catch (err) {
      throw refusal(err, undefined);
    }
    const row = change.data as Row;
    const body: WriteResponse = { status: 'success', data: row, seq: change.seq };
    sendJson(res, 201, body, { Location: `/api/rows/${row.id}`, ETag: etag(change.seq) });
  });

  app.patch('/api/rows/:id', ...writeGuards, async (req, res) => {
    const id = rowIdParam(req);
    const fields = checked(bodyOf(req, false), false);
    if (Object.keys(fields).length === 0) {
      throw new HttpError(400, 'invalid_row', 'Name at least one field to change, such as {"score": 90.5}.');
    }
    const { row, version, change } = await writeRow(req, id, (current, seen) => {
      // Only what differs is written, and an update carries only that.
      const patch = Object.fromEntries(
        Object.entries(fields).filter(([key, value]) => current[key as keyof Row] !== value),
      ) as RowPatch;
      return Object.keys(patch).length === 0 ? undefined : { type: 'update', id, patch, ifVersion: seen };
    });
    const written = change === undefined ? row : { ...row, ...(change.data as RowPatch) };
    const seq = change?.seq ?? version;
    const body: WriteResponse = { status: 'success', data: written, seq };
    sendJson(res, 200, body, { ETag: etag(seq) });
  });

  app.delete('/api/rows/:id', ...writeGuards, async (req, res) => {
    const id = rowIdParam(req);
    const { row, change } = await writeRow(req, id, (_row, seen) => ({ type: 'delete', id, ifVersion: seen }));
    const body: WriteResponse = { status: 'success', data: row, seq: (change as ChangeEvent).seq };
    sendJson(res, 200, body);
  });
}
