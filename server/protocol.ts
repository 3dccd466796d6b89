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

/** Row fields an update may change. */
export type RowPatch = Partial<Pick<Row, 'age' | 'score' | 'status'>>;

/** What an update sends of a row: its id and only the fields that changed, with their new values. */
export type RowChange = Pick<Row, 'id'> & RowPatch;

export type ChangeType = 'add' | 'update' | 'delete' | 'batch_update';

interface ChangeBase {
  seq: number;
  message: string;
  timestamp: string;
  /** How many changes the originating session had made, this one included. */
  generation_count: number;
  /**
   * Which session made this change: a one-way mark of its id (`s-` and 12 hex
   * digits), the same as that session's streams give in `init`. Never the id
   * itself, which is the capability to stop the session and goes only to its
   * starter and its own streams.
   */
  origin: string;
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
