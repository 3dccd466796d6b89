import type { ChangeEvent, InitEvent, Row, StreamEvent } from '../../../server/protocol';
import type { MessageKey, MessageParams } from './i18n';

/** Where the stream stands, as the connection indicator shows it. */
export type ConnectionState = 'disconnected' | 'connecting' | 'live' | 'reconnecting';

export type LogKind = 'success' | 'error' | 'info';

/** A server message is shown as sent; a local one is a key, translated when shown. */
export type LogText = string | { key: MessageKey; params?: MessageParams };

export interface LogEntry {
  id: number;
  kind: LogKind;
  text: LogText;
  /** ISO timestamp. */
  at: string;
}

/** The last change that touched a row, so the view can play its highlight once per change. */
export interface Flash {
  kind: 'add' | 'update';
  seq: number;
}

export interface LiveState {
  /** In id order; replaced, never mutated. */
  rows: Row[];
  /** The seq of the last change applied (or the version of the last snapshot). */
  version: number;
  /** True once `rows` came from a snapshot (init or /api/data), so `?since=version` can resume. */
  synced: boolean;
  /** Changes received since this session started. */
  updates: number;
  connection: ConnectionState;
  sessionId: string | null;
  /** The last session was ended by the server (stopped or timed out). */
  ended: boolean;
  /** Milliseconds between heartbeats, from the last init. */
  heartbeatInterval: number;
  /** The newest timestamp seen, for entries whose message carries none (`end`). */
  clock: string;
  /** Newest last, at most LOG_LIMIT entries. */
  log: LogEntry[];
  nextLogId: number;
  /** At most FLASH_LIMIT entries, the most recent changes. */
  flash: Record<number, Flash>;
}

/** Actions that come from the page rather than from the stream. */
export type LocalAction =
  | { type: 'connection'; state: ConnectionState }
  | { type: 'session'; id: string | null; updates?: number }
  | { type: 'log'; kind: LogKind; text: LogText; at: string }
  | { type: 'loaded'; data: Row[]; version: number; timestamp: string }
  | { type: 'reset' };

export type Message = StreamEvent | LocalAction;

export const LOG_LIMIT = 200;
export const FLASH_LIMIT = 100;
/** What a client assumes before an init has told it the real interval. */
export const DEFAULT_HEARTBEAT_MS = 10_000;

/** The state before anything is loaded. */
export function initialState(): LiveState {
  return {
    rows: [],
    version: 0,
    synced: false,
    updates: 0,
    connection: 'disconnected',
    sessionId: null,
    ended: false,
    heartbeatInterval: DEFAULT_HEARTBEAT_MS,
    clock: '',
    log: [],
    nextLogId: 1,
    flash: {},
  };
}

function appendLog(state: LiveState, kind: LogKind, text: LogText, at: string): LiveState {
  const entry: LogEntry = { id: state.nextLogId, kind, text, at };
  const log =
    state.log.length >= LOG_LIMIT
      ? [...state.log.slice(state.log.length - LOG_LIMIT + 1), entry]
      : [...state.log, entry];
  return { ...state, log, nextLogId: state.nextLogId + 1 };
}

function byId(a: Row, b: Row): number {
  return a.id - b.id;
}

function sortedById(rows: Row[]): Row[] {
  for (let i = 1; i < rows.length; i++) {
    if ((rows[i - 1] as Row).id >= (rows[i] as Row).id) return [...rows].sort(byId);
  }
  return rows;
}

/** Index of the first row whose id is >= `id` (rows are in id order). */
function lowerBound(rows: Row[], id: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((rows[mid] as Row).id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Replaces the row with the same id, or inserts it in id order (adds land at the end). */
function upsert(rows: Row[], row: Row): Row[] {
  const at = lowerBound(rows, row.id);
  const next = [...rows];
  if (rows[at]?.id === row.id) next[at] = row;
  else next.splice(at, 0, row);
  return next;
}

function remove(rows: Row[], id: number): Row[] {
  const at = lowerBound(rows, id);
  if (rows[at]?.id !== id) return rows;
  return [...rows.slice(0, at), ...rows.slice(at + 1)];
}

function replaceEach(rows: Row[], changed: Row[]): Row[] {
  const incoming = new Map(changed.map((row) => [row.id, row]));
  const next = rows.map((row) => {
    const replacement = incoming.get(row.id);
    if (replacement === undefined) return row;
    incoming.delete(row.id);
    return replacement;
  });
  // A batch should only touch rows we hold; any other is inserted rather than lost.
  return incoming.size === 0 ? next : [...incoming.values()].reduce(upsert, next);
}

/** Keeps the FLASH_LIMIT most recent highlights, so the record cannot grow without bound. */
function trimFlash(flash: Record<number, Flash>): Record<number, Flash> {
  const entries = Object.entries(flash);
  if (entries.length <= FLASH_LIMIT) return flash;
  entries.sort((a, b) => a[1].seq - b[1].seq);
  return Object.fromEntries(entries.slice(entries.length - FLASH_LIMIT));
}

function flashRows(flash: Record<number, Flash>, rows: Row[], kind: Flash['kind'], seq: number): Record<number, Flash> {
  const next = { ...flash };
  for (const row of rows) next[row.id] = { kind, seq };
  return trimFlash(next);
}

function applyChange(state: LiveState, change: ChangeEvent): LiveState {
  let { rows, flash } = state;
  switch (change.type) {
    case 'add':
      rows = upsert(rows, change.data);
      flash = flashRows(flash, [change.data], 'add', change.seq);
      break;
    case 'update':
      rows = upsert(rows, change.data);
      flash = flashRows(flash, [change.data], 'update', change.seq);
      break;
    case 'delete':
      rows = remove(rows, change.data.id);
      if (change.data.id in flash) {
        flash = { ...flash };
        delete flash[change.data.id];
      }
      break;
    case 'batch_update':
      rows = replaceEach(rows, change.data);
      flash = flashRows(flash, change.data, 'update', change.seq);
      break;
  }
  const expected = state.version + 1;
  let next: LiveState = {
    ...state,
    rows,
    flash,
    version: change.seq,
    updates: state.updates + 1,
    connection: 'live',
    clock: change.timestamp,
  };
  // The server replays exactly what a client missed, so a gap means a bug somewhere.
  if (change.seq > expected) {
    next = appendLog(next, 'error', { key: 'log.gap', params: { expected, seq: change.seq } }, change.timestamp);
  }
  return appendLog(next, 'success', change.message, change.timestamp);
}

function applyInit(state: LiveState, init: InitEvent): LiveState {
  const next: LiveState = {
    ...state,
    rows: sortedById(init.data),
    version: init.version,
    synced: true,
    connection: 'live',
    heartbeatInterval: init.heartbeat_interval > 0 ? init.heartbeat_interval : state.heartbeatInterval,
    clock: init.timestamp,
    flash: {},
  };
  return appendLog(
    next,
    'info',
    { key: 'log.synced', params: { count: init.data.length, version: init.version } },
    init.timestamp,
  );
}

/**
 * Folds one stream event or local action into the state. Pure: no I/O and no
 * clock reads; every timestamp comes in the message.
 */
export function reduce(state: LiveState, message: Message): LiveState {
  switch (message.type) {
    case 'init':
      return applyInit(state, message);
    case 'add':
    case 'update':
    case 'delete':
    case 'batch_update':
      // Seen already: a replay overlapping what we hold.
      if (message.seq <= state.version) return state;
      return applyChange(state, message);
    case 'heartbeat':
      return { ...state, connection: 'live', clock: message.timestamp };
    case 'end':
      return appendLog(
        { ...state, connection: 'disconnected', sessionId: null, ended: true },
        'info',
        message.message,
        state.clock,
      );
    case 'connection':
      return message.state === state.connection ? state : { ...state, connection: message.state };
    case 'session':
      // Forgetting a session keeps its count and end on show; a new one starts afresh.
      if (message.id === null) return state.sessionId === null ? state : { ...state, sessionId: null };
      return { ...state, sessionId: message.id, ended: false, updates: message.updates ?? 0 };
    case 'log':
      return appendLog({ ...state, clock: message.at }, message.kind, message.text, message.at);
    case 'loaded':
      // While a session streams, a snapshot older than what it gave would undo changes.
      // Idle, the snapshot is the truth, even an older one (a restarted server).
      if (state.sessionId !== null && message.version < state.version) return state;
      return {
        ...state,
        rows: sortedById(message.data),
        version: message.version,
        synced: true,
        clock: message.timestamp,
        flash: {},
      };
    case 'reset':
      return initialState();
  }
}
