/**
 * The wire protocol shared by the server and the web app.
 * Every message is described in docs/protocol.md; keep the two in step.
 */

export const ROW_STATUSES = ['活跃', '离线', '忙碌'] as const;
export type RowStatus = (typeof ROW_STATUSES)[number];

export interface Row {
  id: number;
  name: string;
  age: number;
  city: string;
  score: number;
  status: RowStatus;
}

/** A row's fields other than its id: what `POST /api/rows` takes. */
export type RowFields = Omit<Row, 'id'>;

/** Row fields an update may change: any but the id. */
export type RowPatch = Partial<RowFields>;

/** What an update sends of a row: its id and only the fields that changed, with their new values. */
export type RowChange = Pick<Row, 'id'> & RowPatch;

export type ChangeType = 'add' | 'update' | 'delete' | 'batch_update';

interface ChangeBase {
  seq: number;
  message: string;
  timestamp: string;
  /** How many changes the originating session had made, this one included; 0 for a write through the API. */
  generation_count: number;
  /**
   * Which session made this change: a one-way mark of its id (`s-` and 12 hex
   * digits), the same as that session's streams give in `init`. Never the id
   * itself, which is the capability to stop the session and goes only to its
   * starter and its own streams. Null for a write through the API.
   */
  origin: string | null;
  /** Who wrote it through the API: the subject of their token. Only when the server checks tokens. */
  author?: string;
  /** Only on streams opened with `?full=1`: the whole table after this change. */
  table_data?: Row[];
}

export interface AddEvent extends ChangeBase {
  type: 'add';
  data: Row;
}
export interface UpdateEvent extends ChangeBase {
  type: 'update';
  data: RowChange;
}
export interface DeleteEvent extends ChangeBase {
  type: 'delete';
  data: Row;
}
export interface BatchUpdateEvent extends ChangeBase {
  type: 'batch_update';
  data: RowChange[];
}

export type ChangeEvent = AddEvent | UpdateEvent | DeleteEvent | BatchUpdateEvent;

export interface InitEvent {
  type: 'init';
  /** The session streamed, or null on the session-less watch stream (`GET /api/stream`). */
  session_id: string | null;
  /** The `origin` the session's changes carry, so a page can tell them from others'; null on the watch stream. */
  origin: string | null;
  data: Row[];
  /** The `seq` of the last change contained in `data`. */
  version: number;
  timestamp: string;
  /** Milliseconds between heartbeats, so a client can tell a dead stream. */
  heartbeat_interval: number;
}

export interface HeartbeatEvent {
  type: 'heartbeat';
  timestamp: string;
}

export type EndReason = 'stopped' | 'timeout';

export interface EndEvent {
  type: 'end';
  session_id: string;
  reason: EndReason;
  message: string;
  /** When the session ended (ISO 8601), like every other message's. */
  timestamp: string;
}

export type StreamEvent = InitEvent | ChangeEvent | HeartbeatEvent | EndEvent;

/** Every `type` a stream event can have, for code that checks messages at run time. */
export const STREAM_EVENT_TYPES = [
  'init',
  'add',
  'update',
  'delete',
  'batch_update',
  'heartbeat',
  'end',
] as const satisfies readonly StreamEvent['type'][];

// Fails to compile if a type of StreamEvent is missing from the list above.
const _everyStreamEventType: Exclude<StreamEvent['type'], (typeof STREAM_EVENT_TYPES)[number]> extends never
  ? true
  : never = true;

export interface ErrorBody {
  status: 'error';
  code: string;
  message: string;
  /** `invalid_row`: why each field named is refused. */
  fields?: Record<string, string>;
  /** `row_changed`: the row as it is now. */
  data?: Row;
  /** `too_few_rows` and `too_many_rows`: the bound the write would cross. */
  limit?: number;
}

/** `GET /api/rows/:id`. */
export interface RowResponse {
  status: 'success';
  data: Row;
}

/** `POST`, `PATCH` and `DELETE /api/rows…`: the row as written (or as it was, deleted) and the change's seq. */
export interface WriteResponse {
  status: 'success';
  data: Row;
  seq: number;
}

export interface StartResponse {
  status: 'success';
  session_id: string;
  message: string;
  /** Epoch milliseconds at which the session times out. */
  expires_at: number;
}

export type StopOutcome = 'stopped' | 'already_ended';

export interface StopResponse {
  status: 'success';
  session_id: string;
  /** What the stop did, for a client that words it itself: `message` says the same. */
  outcome: StopOutcome;
  message: string;
  /** When the server took the stop (ISO 8601): before the `end` it sends on the streams. */
  timestamp: string;
}

export interface DataResponse {
  status: 'success';
  data: Row[];
  version: number;
  timestamp: string;
  /** Milliseconds between heartbeats on the streams, as `init` gives it. */
  heartbeat_interval: number;
}

export interface MetricsResponse {
  active_sessions: number;
  total_connections: number;
  pending_messages: number;
  /** Streams closed because their reader fell more than --max-buffer behind. */
  slow_disconnects: number;
  table_records: number;
  version: number;
  memory_usage: { rss: number; heap_used: number };
  uptime: number;
}

export const SESSION_ID_PATTERN = /^[A-Za-z0-9]{16}$/;

/** The fields a row is written with, in the order forms show them. */
export const ROW_FIELDS = ['name', 'age', 'city', 'score', 'status'] as const satisfies readonly (keyof RowFields)[];
export type RowField = (typeof ROW_FIELDS)[number];

/** How long a name or a city may be, in characters. */
export const MAX_TEXT_LENGTH = 40;
export const MAX_AGE = 150;
export const MAX_SCORE = 100;

// Control characters, lone surrogates, line and paragraph separators, and
// the marks that reorder text (which could make a name display as another).
const UNPRINTABLE = /[\p{Cc}\p{Cs}\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/** Why `value` cannot be a row's `field`, in words for a person; undefined when it can. */
export function fieldProblem(field: RowField, value: unknown): string | undefined {
  switch (field) {
    case 'name':
    case 'city': {
      if (typeof value !== 'string') return 'must be text';
      if (UNPRINTABLE.test(value)) return 'must not contain control characters';
      const length = [...value].length;
      if (value.trim() === '' || length > MAX_TEXT_LENGTH) return `must be 1 to ${MAX_TEXT_LENGTH} characters`;
      return undefined;
    }
    case 'age':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_AGE) {
        return `must be a whole number from 0 to ${MAX_AGE}`;
      }
      return undefined;
    case 'score':
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_SCORE) {
        return `must be a number from 0 to ${MAX_SCORE}`;
      }
      // Exactly the number a one-decimal literal gives (90.1 is 901 / 10 as a
      // double), with no tolerance: 50.0000000001 would show as 50.0 and stay 50.0000000001.
      if (Math.round(value * 10) / 10 !== value) return 'must have at most one decimal';
      return undefined;
    case 'status':
      return (ROW_STATUSES as readonly unknown[]).includes(value)
        ? undefined
        : `must be one of ${ROW_STATUSES.join(', ')}`;
  }
}

/**
 * Checks a written row: every field of `input` must be a row field with a
 * valid value, and a whole row (`POST`) must have them all. Returns the
 * fields, or why each refused one is refused (unknown fields included).
 */
export function checkRowFields(
  input: Record<string, unknown>,
  whole: boolean,
): { fields: RowPatch; problems?: undefined } | { fields?: undefined; problems: Record<string, string> } {
  // No prototype: a field named `__proto__` is then a key like any other,
  // refused by name rather than lost by an assignment that sets a prototype.
  const problems: Record<string, string> = Object.create(null) as Record<string, string>;
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (!(ROW_FIELDS as readonly string[]).includes(key)) {
      problems[key] = key === 'id' ? 'is given by the server and cannot be written' : 'is not a field of a row';
      continue;
    }
    const problem = fieldProblem(key as RowField, value);
    if (problem !== undefined) problems[key] = problem;
    else fields[key] = value;
  }
  if (whole) for (const field of ROW_FIELDS) if (!(field in input)) problems[field] = 'is required';
  return Object.keys(problems).length > 0 ? { problems } : { fields: fields as RowPatch };
}

/** A field's name in change messages, in the original demo's language. */
export const FIELD_LABELS: Record<RowField, string> = {
  name: '姓名',
  age: '年龄',
  city: '城市',
  score: '分数',
  status: '状态',
};

/** The fields `patch` gives a value other than the row's, in column order. */
export function changedFields(before: Row, patch: RowPatch): RowField[] {
  return ROW_FIELDS.filter((field) => patch[field] !== undefined && patch[field] !== before[field]);
}

/**
 * The `message` of an update that says what changed: `更新了用户 张三 的分数: 85.5 → 90.1`,
 * each changed field in turn, separated by `，`; with nothing changed, `更新了用户 张三`.
 */
export function describeUpdate(before: Row, patch: RowPatch): string {
  const parts = changedFields(before, patch).map(
    (field) => `${FIELD_LABELS[field]}: ${before[field]} → ${patch[field]}`,
  );
  return parts.length === 0 ? `更新了用户 ${before.name}` : `更新了用户 ${before.name} 的${parts.join('，')}`;
}

/** The human-readable `message` of a change, in the words of the original demo. */
export function describeChange(type: ChangeType, data: Row | Row[]): string {
  if (Array.isArray(data)) return `批量更新了 ${data.length} 条记录`;
  switch (type) {
    case 'add':
      return `添加了新用户: ${data.name}`;
    case 'update':
      return `更新了用户 ${data.name}`;
    case 'delete':
      return `删除了用户: ${data.name}`;
    case 'batch_update':
      return `批量更新了 1 条记录`;
  }
}

/** The `message` of a start answer, in the words of the original demo. */
export const START_MESSAGE = '数据生成已开始';

export const STOP_MESSAGES: Record<StopOutcome, string> = {
  stopped: '数据生成已停止',
  already_ended: '会话早已结束',
};

export const END_MESSAGES: Record<EndReason, string> = {
  stopped: '数据生成已结束',
  timeout: '会话已超时，数据生成已结束',
};
