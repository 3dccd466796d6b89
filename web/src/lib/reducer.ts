import {
  changedFields,
  type ChangeEvent,
  type InitEvent,
  type Row,
  type RowChange,
  type StreamEvent,
} from '../../../shared/protocol';
import { heldInOrder, hold, nothingHeld, type HeldChanges } from './heldChanges';
import type { FieldChange, LogText } from './i18n';
import { Highlights, type Flash, type HighlightsEdit } from './highlights';
import { RowList, type RowListEdit } from './rowList';

/** Where the stream stands, as the connection indicator shows it. */
export type ConnectionState = 'disconnected' | 'connecting' | 'live' | 'reconnecting';

export type LogKind = 'success' | 'error' | 'info';

export type { LogText } from './i18n';

/**
 * Who made a change through the write API (the generator's changes have no
 * `by`): this page, the author the server named (when it checks tokens), or
 * someone it does not name.
 */
export type WrittenBy = { you: true } | { author: string } | { api: true };

export interface LogEntry {
  id: number;
  kind: LogKind;
  text: LogText;
  /** ISO timestamp. */
  at: string;
  /** The change this line tells of. */
  seq?: number;
  by?: WrittenBy;
}

/** This page's own writes whose changes have not come yet, at most this many (oldest forgotten first). */
export const MINE_LIMIT = 64;

export type { Flash } from './highlights';

export interface LiveState {
  /** In id order; replaced, never mutated (an edit shares the chunks it did not touch). */
  rows: RowList;
  /**
   * The sum of every row's score in tenths of a point (scores have one
   * decimal), kept as rows change: the average costs nothing per frame, and
   * whole numbers add and subtract without drift.
   */
  scoreSum: number;
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
  /** The rows of the most recent changes, at most FLASH_LIMIT. */
  flash: Highlights;
  /** The seqs of this page's own writes still to come on the stream, so the log can say "you". */
  mine: readonly number[];
  /** The viewer paused live updates: changes from the stream are held, not applied. */
  paused: boolean;
  /** The changes held since the pause, oldest first. */
  held: HeldChanges<ChangeEvent>;
  /** A start or stop request is on its way: the session's buttons wait for it. */
  busy: boolean;
  /** The session was stopped: its stream's `end` is awaited, and nothing else from it. */
  stopping: boolean;
  /** A stop was asked for and its answer has not come yet. */
  stopAsked: boolean;
  /** The end's log line, when the end came before the stop's answer: told after the answer. */
  heldEnd: { text: LogText; at: string } | null;
}

/** Actions that come from the page rather than from the stream. */
export type LocalAction =
  | { type: 'connection'; state: ConnectionState }
  | { type: 'session'; id: string | null; updates?: number }
  | { type: 'log'; kind: LogKind; text: LogText; at: string }
  | { type: 'loaded'; data: Row[]; version: number; timestamp: string; heartbeatInterval?: number }
  /** This page wrote the change with this seq (the answer may come before or after the change itself). */
  | { type: 'wrote'; seq: number }
  /** Hold changes back, at most `limit` of them, until `resume`. */
  | { type: 'pause'; limit: number }
  /** Apply what was held, in one fold; or, if some were let go, only say the table will be loaded afresh. */
  | { type: 'resume'; at: string }
  | { type: 'busy'; busy: boolean }
  /** The server stopped the session: its stream's `end` is on its way. */
  | { type: 'stopping' }
  /** The viewer asked for a stop (logged at once). */
  | { type: 'stopAsked'; at: string }
  /** The stop's answer, in words (none when it gave none); an end that came first is told after it. */
  | { type: 'stopAnswered'; kind: LogKind; text: LogText | null; at: string };

export type Message = StreamEvent | LocalAction;

export const LOG_LIMIT = 200;
export const FLASH_LIMIT = 100;
/** What a client assumes before an init has told it the real interval. */
export const DEFAULT_HEARTBEAT_MS = 10_000;

/** The state before anything is loaded. */
export function initialState(): LiveState {
  return {
    rows: RowList.EMPTY,
    scoreSum: 0,
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
    flash: Highlights.NONE,
    mine: [],
    paused: false,
    held: nothingHeld(0),
    busy: false,
    stopping: false,
    stopAsked: false,
    heldEnd: null,
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

const tenths = (row: Row) => Math.round(row.score * 10);

function scoreSumOf(rows: readonly Row[]): number {
  let sum = 0;
  for (const row of rows) sum += tenths(row);
  return sum;
}

/**
 * Where a change with `seq` stands against a table at `version`: already
 * held (a replay overlapping it), the next one, or past a gap. The server
 * replays exactly what a client missed, so a gap means a bug somewhere and
 * the table can no longer be trusted. The one place that says so: the
 * stream acts on it (a fresh snapshot), the fold logs it.
 */
export function sequenceOf(seq: number, version: number): 'replay' | 'next' | 'gap' {
  if (seq <= version) return 'replay';
  return seq === version + 1 ? 'next' : 'gap';
}

/** The mean score to one decimal, or an em dash for an empty table. */
export function averageScore(state: Pick<LiveState, 'rows' | 'scoreSum'>): string {
  return state.rows.length === 0 ? '—' : (state.scoreSum / 10 / state.rows.length).toFixed(1);
}

/**
 * A run of changes folded with one copy of each thing it touches: the rows
 * (a slot per id held, so an update is a binary search and a store), the
 * highlights and the log. Applying a message here leaves the same state as
 * `reduce` would; `reduceAll` is tested for exactly that.
 */
class ChangeRun {
  private readonly base: RowList;
  /** Started by the first change that touches a row. */
  private edit: RowListEdit | null = null;
  private scoreSum: number;
  /** Started by the first change that highlights a row or drops one. */
  private flash: HighlightsEdit | null = null;
  private readonly entries: LogEntry[] = [];
  private version: number;
  private updates: number;
  private clock: string;
  private beat = false;
  private nextLogId: number;

  constructor(private readonly state: LiveState) {
    this.base = state.rows;
    this.scoreSum = state.scoreSum;
    this.version = state.version;
    this.updates = state.updates;
    this.clock = state.clock;
    this.nextLogId = state.nextLogId;
  }

  apply(change: ChangeEvent): void {
    const standing = sequenceOf(change.seq, this.version);
    if (standing === 'replay') return;
    // Told before the change is applied: an update names the row as it was.
    const text = this.describe(change);
    switch (change.type) {
      case 'add':
        this.put(change.data);
        this.highlight([change.data], 'add', change.seq);
        break;
      case 'update':
        this.patch(change.data);
        this.highlight([change.data], 'update', change.seq);
        break;
      case 'delete':
        this.drop(change.data.id);
        this.highlights().delete(change.data.id);
        break;
      case 'batch_update':
        for (const update of change.data) this.patch(update);
        this.highlight(change.data, 'update', change.seq);
        break;
    }
    const expected = this.version + 1;
    this.version = change.seq;
    // The count is the session's: changes followed with no session (the
    // watch stream) leave the last session's count on show.
    if (this.state.sessionId !== null) this.updates++;
    this.clock = change.timestamp;
    if (standing === 'gap') {
      this.log('error', { key: 'log.gap', params: { expected, seq: change.seq } }, change.timestamp);
    }
    this.log('success', text, change.timestamp, change.seq, this.writtenBy(change));
  }

  /** Who wrote a change through the API: this page when it is one of its own writes. */
  private writtenBy(change: ChangeEvent): WrittenBy | undefined {
    if (this.state.mine.includes(change.seq)) return { you: true };
    if (change.origin !== null) return undefined;
    return change.author === undefined ? { api: true } : { author: change.author };
  }

  /**
   * A change in the page's own words, so an English page logs English. The
   * server's `message` says the same in Chinese, and the Chinese texts are
   * its very words (checked in i18n.test.ts). An update names the row as
   * it was; one written through the API also says what it changed, from
   * what to what. For a row the page does not hold, the server's words stay.
   */
  private describe(change: ChangeEvent): LogText {
    switch (change.type) {
      case 'add':
      case 'delete':
        return { key: `log.change.${change.type}`, params: { name: change.data.name } };
      case 'update': {
        const before = this.find(change.data.id);
        if (before === undefined) return change.message;
        const fields: FieldChange[] = changedFields(before, change.data).map((field) => ({
          field,
          from: String(before[field]),
          to: String(change.data[field]),
        }));
        if (fields.length === 0) return { key: 'log.change.update', params: { name: before.name } };
        return { key: 'log.change.updateFields', params: { name: before.name }, fields };
      }
      case 'batch_update':
        return { key: 'log.change.batch_update', params: { count: change.data.length } };
    }
  }

  /** A heartbeat between changes: only the clock moves, so the run goes on. */
  heartbeat(timestamp: string): void {
    this.clock = timestamp;
    this.beat = true;
  }

  finish(): LiveState {
    if (this.version === this.state.version) {
      return this.beat ? reduce(this.state, { type: 'heartbeat', timestamp: this.clock }) : this.state;
    }
    let log = this.state.log;
    if (this.entries.length > 0) {
      log = [...log, ...this.entries];
      if (log.length > LOG_LIMIT) log = log.slice(log.length - LOG_LIMIT);
    }
    return {
      ...this.state,
      rows: this.edit?.done() ?? this.base,
      scoreSum: this.scoreSum,
      flash: this.flash?.done() ?? this.state.flash,
      version: this.version,
      updates: this.updates,
      connection: 'live',
      clock: this.clock,
      log,
      nextLogId: this.nextLogId,
      mine: pendingMine(this.state.mine, this.version),
    };
  }

  private find(id: number): Row | undefined {
    return (this.edit ?? this.base).get(id);
  }

  private put(row: Row): void {
    const old = this.find(row.id);
    if (old !== undefined) this.scoreSum -= tenths(old);
    this.scoreSum += tenths(row);
    (this.edit ??= this.base.edit()).put(row);
  }

  /** Applies an update's fields to the row as this run holds it; a row not held is left alone. */
  private patch(update: RowChange): void {
    const row = this.find(update.id);
    if (row) this.put({ ...row, ...update });
  }

  private drop(id: number): void {
    if (this.find(id) === undefined) return;
    const old = (this.edit ??= this.base.edit()).remove(id);
    if (old !== undefined) this.scoreSum -= tenths(old);
  }

  private highlights(): HighlightsEdit {
    return (this.flash ??= this.state.flash.edit(FLASH_LIMIT));
  }

  /**
   * Keeps the FLASH_LIMIT most recent highlights, so they cannot grow
   * without bound: the oldest go first, the lowest id first among equals.
   */
  private highlight(rows: readonly { id: number }[], kind: Flash['kind'], seq: number): void {
    const highlights = this.highlights();
    const ids = rows.length === 1 ? [(rows[0] as { id: number }).id] : rows.map((row) => row.id).sort((a, b) => a - b);
    for (const id of ids) highlights.set(id, { kind, seq });
  }

  private log(kind: LogKind, text: LogText, at: string, seq?: number, by?: WrittenBy): void {
    const entry: LogEntry = { id: this.nextLogId++, kind, text, at };
    if (seq !== undefined) entry.seq = seq;
    if (by !== undefined) entry.by = by;
    this.entries.push(entry);
    // Only the newest LOG_LIMIT can survive; drop the rest as we go.
    if (this.entries.length > 2 * LOG_LIMIT) this.entries.splice(0, this.entries.length - LOG_LIMIT);
  }
}

/** The own writes still to come after `version`. */
function pendingMine(mine: readonly number[], version: number): readonly number[] {
  return mine.every((seq) => seq > version) ? mine : mine.filter((seq) => seq > version);
}

/**
 * Remembers an own write. Its change may have come first (the stream can
 * beat the write's answer): then its log line learns who made it.
 */
function wrote(state: LiveState, seq: number): LiveState {
  if (seq > state.version) {
    if (state.mine.includes(seq)) return state;
    return { ...state, mine: [...state.mine.slice(-(MINE_LIMIT - 1)), seq] };
  }
  const at = state.log.findLastIndex((entry) => entry.seq === seq);
  if (at < 0) return state;
  const log = [...state.log];
  log[at] = { ...(log[at] as LogEntry), by: { you: true } };
  return { ...state, log };
}

function isChange(message: Message): message is ChangeEvent {
  return (
    message.type === 'add' || message.type === 'update' || message.type === 'delete' || message.type === 'batch_update'
  );
}

function applyChange(state: LiveState, change: ChangeEvent): LiveState {
  const run = new ChangeRun(state);
  run.apply(change);
  return run.finish();
}

/** The server's heartbeat interval when it gave a usable one, else the one the state has. */
const heartbeatOr = (state: LiveState, ms: number | undefined): number =>
  ms !== undefined && ms > 0 ? ms : state.heartbeatInterval;

function applyInit(state: LiveState, init: InitEvent): LiveState {
  const next: LiveState = {
    ...state,
    rows: RowList.of(sortedById(init.data)),
    scoreSum: scoreSumOf(init.data),
    version: init.version,
    synced: true,
    connection: 'live',
    heartbeatInterval: heartbeatOr(state, init.heartbeat_interval),
    clock: init.timestamp,
    flash: Highlights.NONE,
    mine: pendingMine(state.mine, init.version),
    // The snapshot was taken after every change held: they are in it.
    held: nothingHeld(state.held.limit),
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
      return state.paused ? { ...state, held: hold(state.held, [message]) } : applyChange(state, message);
    case 'heartbeat':
      return { ...state, connection: 'live', clock: message.timestamp };
    case 'end': {
      const over: LiveState = { ...state, connection: 'disconnected', sessionId: null, ended: true, stopping: false };
      // A reason this page has no words for keeps the server's.
      const text: LogText =
        message.reason === 'stopped' || message.reason === 'timeout'
          ? { key: `log.end.${message.reason}` }
          : message.message;
      // An older server's end has no time of its own.
      const at = (message.timestamp as string | undefined) ?? state.clock;
      return state.stopAsked ? { ...over, heldEnd: { text, at } } : appendLog(over, 'info', text, at);
    }
    case 'connection':
      return message.state === state.connection ? state : { ...state, connection: message.state };
    case 'session':
      // Forgetting a session keeps its count and end on show; a new one starts afresh.
      if (message.id === null) return state.sessionId === null ? state : { ...state, sessionId: null, stopping: false };
      return {
        ...stopAnswered(state, null),
        sessionId: message.id,
        ended: false,
        updates: message.updates ?? 0,
        stopping: false,
      };
    case 'log':
      return appendLog({ ...state, clock: message.at }, message.kind, message.text, message.at);
    case 'loaded':
      // While a session streams, a snapshot older than what it gave would undo changes.
      // Idle, the snapshot is the truth, even an older one (a restarted server).
      if (state.sessionId !== null && message.version < state.version) return state;
      return {
        ...state,
        rows: RowList.of(sortedById(message.data)),
        scoreSum: scoreSumOf(message.data),
        version: message.version,
        synced: true,
        clock: message.timestamp,
        heartbeatInterval: heartbeatOr(state, message.heartbeatInterval),
        flash: Highlights.NONE,
        mine: pendingMine(state.mine, message.version),
      };
    case 'wrote':
      return wrote(state, message.seq);
    case 'pause':
      return state.paused ? state : { ...state, paused: true, held: nothingHeld(message.limit) };
    case 'resume':
      return resume(state, message.at);
    case 'busy':
      return message.busy === state.busy ? state : { ...state, busy: message.busy };
    case 'stopping':
      return { ...state, stopping: true };
    case 'stopAsked':
      return appendLog({ ...state, stopAsked: true }, 'info', { key: 'log.stopping' }, message.at);
    case 'stopAnswered':
      return stopAnswered(state, message);
  }
}

/** Tells the stop's answer, then the end if it came first: the order things happened in. */
function stopAnswered(state: LiveState, answer: { kind: LogKind; text: LogText | null; at: string } | null): LiveState {
  if (!state.stopAsked && state.heldEnd === null) return state;
  let next: LiveState = { ...state, stopAsked: false, heldEnd: null };
  if (answer !== null && answer.text !== null) next = appendLog(next, answer.kind, answer.text, answer.at);
  if (state.heldEnd !== null) next = appendLog(next, 'info', state.heldEnd.text, state.heldEnd.at);
  return next;
}

/**
 * Goes live again with everything held applied in one fold; or, when some
 * were let go, with the table as it was: the stream then loads it afresh.
 */
function resume(state: LiveState, at: string): LiveState {
  if (!state.paused) return state;
  const { held } = state;
  const live: LiveState = { ...state, paused: false, held: nothingHeld(held.limit) };
  if (held.dropped > 0) return appendLog(live, 'info', { key: 'log.resync', params: { count: held.dropped } }, at);
  return reduceAll(live, heldInOrder(held));
}

/**
 * Folds a batch of messages, as `reduce` would one by one, but with one copy
 * of the rows per run of changes rather than one per change: the page calls
 * this once per animation frame with everything that arrived meanwhile.
 */
export function reduceAll(state: LiveState, messages: readonly Message[]): LiveState {
  let next = state;
  let run: ChangeRun | null = null;
  // Changes that came while paused, held as one run.
  let holding: ChangeEvent[] | null = null;
  for (const message of messages) {
    if (isChange(message)) {
      if (next.paused) {
        (holding ??= []).push(message);
      } else {
        run ??= new ChangeRun(next);
        run.apply(message);
      }
      continue;
    }
    // A heartbeat does not end a run: a sorted view can then follow the
    // frame's changes as one edit instead of sorting the table again.
    if (message.type === 'heartbeat' && run !== null) {
      run.heartbeat(message.timestamp);
      continue;
    }
    if (run !== null) {
      next = run.finish();
      run = null;
    }
    if (holding !== null) {
      next = { ...next, held: hold(next.held, holding) };
      holding = null;
    }
    next = reduce(next, message);
  }
  if (holding !== null) return { ...next, held: hold(next.held, holding) };
  return run === null ? next : run.finish();
}
