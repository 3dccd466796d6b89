import { derived, get, writable } from 'svelte/store';
import type { RowField } from '../../../shared/protocol';

/**
 * The languages the interface speaks. Starts, stops, changes and a
 * session's end are told in the page's own words (in Chinese the very words
 * the server sends); other server messages, such as errors, are shown as
 * sent (Chinese).
 */
export type Lang = 'zh' | 'en';

const zh = {
  'app.title': 'SSE 表格实时刷新',
  'app.subtitle': '服务器的每一次数据变化，通过 Server-Sent Events 实时推送到这里',
  'control.start': '🚀 开始生成数据',
  'control.stop': '⏹️ 停止生成',
  'control.lang': 'EN',
  'control.langLabel': 'Switch to English',
  'control.session': '会话',
  'control.pause': '⏸️ 暂停更新',
  'control.resume': '▶️ 继续（{count} 条待更新）',
  'chart.title': '最近 60 秒',
  'chart.rate': '每秒变化 {rate}',
  'chart.average': '平均分数 {average}',
  'table.filter': '筛选',
  'table.filterPlaceholder': '筛选任意列…',
  'table.export': '导出 CSV',
  'table.shown': '显示 {shown} / {total} 行',
  'connection.caption': '连接状态',
  'connection.disconnected': '未连接',
  'connection.connecting': '连接中',
  'connection.live': '实时',
  'connection.reconnecting': '重连中',
  'stats.records': '记录总数',
  'stats.updates': '更新次数',
  'stats.average': '平均分数',
  'table.title': '数据表格',
  'table.version': '版本',
  'table.empty': '暂无数据',
  'table.noMatch': '没有与 “{filter}” 匹配的行',
  'status.active': '活跃',
  'status.offline': '离线',
  'status.busy': '忙碌',
  'column.id': 'ID',
  'column.name': '姓名',
  'column.age': '年龄',
  'column.city': '城市',
  'column.score': '分数',
  'column.status': '状态',
  'log.title': '操作日志',
  'log.empty': '暂无日志',
  'log.loaded': '已加载 {count} 条记录',
  'log.synced': '已同步 {count} 条记录（版本 {version}）',
  'log.resuming': '正在恢复会话 {id}',
  'log.lost': '连接中断，正在自动重连…',
  'log.resumed': '连接已恢复',
  'log.stalled': '{seconds} 秒未收到任何消息，重新连接',
  'log.retry': '服务器暂不可达，{seconds} 秒后重试',
  'log.busy': '服务器连接数已满，{seconds} 秒后重试',
  'log.sessionGone': '会话已不存在，已断开连接',
  'log.gap': '数据缺失: 应收到 #{expected}，实际收到 #{seq}',
  'log.resync': '暂停期间有 {count} 条变更，重新加载整个表格',
  'log.badMessage': '收到无法解析的消息',
  'log.requestFailed': '请求失败（HTTP {status}）',
  'log.networkError': '网络错误，请求未能到达服务器',
  'log.loadFailed': '无法加载表格数据',
  'log.started': '数据生成已开始',
  'log.stopping': '正在停止数据生成…',
  'log.stopped': '数据生成已停止',
  'log.already_ended': '会话早已结束',
  'log.change.add': '添加了新用户: {name}',
  'log.change.update': '更新了用户 {name}',
  'log.change.updateFields': '更新了用户 {name} 的{fields}',
  'log.fieldSeparator': '，',
  'log.field': '{field}: {from} → {to}',
  'log.by.you': '你',
  'log.by.api': '接口',
  'log.by.label': '由谁写入',
  'edit.hint': '双击或按 Enter 编辑单元格，Delete 删除整行',
  'edit.editing': '正在编辑 {name} 的{field}：Enter 保存，Esc 取消',
  'edit.saving': '正在保存…',
  'edit.conflict': '保存前 {name} 的{field}已被他人改为 “{value}”。',
  'edit.conflictHelp': 'Enter 或“仍用我的值”覆盖，Esc 或“保留对方的值”放弃你的修改。',
  'edit.overwrite': '仍用我的值',
  'edit.keepTheirs': '保留对方的值',
  'edit.gone': '这一行已被删除，你的修改未保存',
  'edit.failed': '未保存：{message}',
  'edit.close': '关闭',
  'edit.rule': '{field}{rule}',
  'rule.name': '须为 1–40 个字符，不含控制字符',
  'rule.city': '须为 1–40 个字符，不含控制字符',
  'rule.age': '须为 0–150 的整数',
  'rule.score': '须为 0–100 的数，最多一位小数',
  'rule.status': '须为 活跃、离线 或 忙碌',
  'column.actions': '操作',
  'delete.button': '删除',
  'delete.label': '删除 {name}',
  'delete.title': '删除这一行？',
  'delete.body': '用户 {name}（ID {id}）将从所有人的表格中删除，无法撤销。',
  'delete.confirm': '删除',
  'delete.cancel': '取消',
  'delete.failed': '未删除：{message}',
  'add.title': '添加记录',
  'add.submit': '➕ 添加',
  'add.adding': '正在添加…',
  'add.added': '已添加 {name}（ID {id}）',
  'add.failed': '未添加：{message}',
  'log.change.delete': '删除了用户: {name}',
  'log.change.batch_update': '批量更新了 {count} 条记录',
  'log.end.stopped': '数据生成已结束',
  'log.end.timeout': '会话已超时，数据生成已结束',
} as const;

/** Every text the interface itself writes. */
export type MessageKey = keyof typeof zh;
export type MessageParams = Record<string, string | number>;

/** One field an update changed, as the log tells it. */
export interface FieldChange {
  field: RowField;
  from: string;
  to: string;
}

/**
 * A log line's text. A server message is shown as sent; a local one is a key,
 * translated when shown, with the fields an update changed (each named in
 * the page's language) filling its `{fields}`.
 */
export type LogText = string | { key: MessageKey; params?: MessageParams; fields?: FieldChange[] };

const en: Record<MessageKey, string> = {
  'app.title': 'Live table over SSE',
  'app.subtitle': 'Every change the server makes, streamed here live with Server-Sent Events',
  'control.start': '🚀 Start generating data',
  'control.stop': '⏹️ Stop',
  'control.lang': '中文',
  'control.langLabel': '切换到中文',
  'control.session': 'Session',
  'control.pause': '⏸️ Pause updates',
  'control.resume': '▶️ Resume ({count} waiting)',
  'chart.title': 'Last 60 s',
  'chart.rate': '{rate} changes/s',
  'chart.average': 'average score {average}',
  'table.filter': 'Filter',
  'table.filterPlaceholder': 'Filter any column…',
  'table.export': 'Export CSV',
  'table.shown': '{shown} of {total} rows',
  'connection.caption': 'Connection',
  'connection.disconnected': 'Disconnected',
  'connection.connecting': 'Connecting',
  'connection.live': 'Live',
  'connection.reconnecting': 'Reconnecting',
  'stats.records': 'Records',
  'stats.updates': 'Changes',
  'stats.average': 'Average score',
  'table.title': 'Data',
  'table.version': 'Version',
  'table.empty': 'No data yet',
  'table.noMatch': 'No rows match “{filter}”',
  'status.active': 'Active',
  'status.offline': 'Offline',
  'status.busy': 'Busy',
  'column.id': 'ID',
  'column.name': 'Name',
  'column.age': 'Age',
  'column.city': 'City',
  'column.score': 'Score',
  'column.status': 'Status',
  'log.title': 'Operation log',
  'log.empty': 'Nothing logged yet',
  'log.loaded': 'Loaded {count} records',
  'log.synced': 'Synced {count} records (version {version})',
  'log.resuming': 'Resuming session {id}',
  'log.lost': 'Connection lost, reconnecting…',
  'log.resumed': 'Connection restored',
  'log.stalled': 'No message for {seconds} s, reconnecting',
  'log.retry': 'Server unreachable, retrying in {seconds} s',
  'log.busy': 'The server has too many connections, retrying in {seconds} s',
  'log.sessionGone': 'The session no longer exists; disconnected',
  'log.gap': 'Missed changes: expected #{expected}, got #{seq}',
  'log.resync': '{count} changes while paused: reloading the whole table',
  'log.badMessage': 'Received a message that could not be read',
  'log.requestFailed': 'Request failed (HTTP {status})',
  'log.networkError': 'Network error: the request did not reach the server',
  'log.loadFailed': 'Could not load the table',
  'log.started': 'Data generation has started',
  'log.stopping': 'Stopping data generation…',
  'log.stopped': 'Data generation stopped',
  'log.already_ended': 'The session had already ended',
  'log.change.add': 'Added user: {name}',
  'log.change.update': 'Updated user {name}',
  'log.change.updateFields': 'Updated user {name}: {fields}',
  'log.fieldSeparator': ', ',
  'log.field': '{field} {from} → {to}',
  'log.by.you': 'You',
  'log.by.api': 'API',
  'log.by.label': 'Written by',
  'edit.hint': 'Double-click a cell or press Enter to edit it; Delete deletes the row',
  'edit.editing': 'Editing {field} of {name}: Enter saves, Escape cancels',
  'edit.saving': 'Saving…',
  'edit.conflict': 'Before you saved, someone else changed {field} of {name} to “{value}”.',
  'edit.conflictHelp': 'Enter or “Save mine” overwrites it; Escape or “Keep theirs” drops your edit.',
  'edit.overwrite': 'Save mine',
  'edit.keepTheirs': 'Keep theirs',
  'edit.gone': 'This row was deleted; your edit was not saved',
  'edit.failed': 'Not saved: {message}',
  'edit.close': 'Close',
  'edit.rule': '{field} {rule}',
  'rule.name': 'must be 1 to 40 characters, no control characters',
  'rule.city': 'must be 1 to 40 characters, no control characters',
  'rule.age': 'must be a whole number from 0 to 150',
  'rule.score': 'must be a number from 0 to 100, at most one decimal',
  'rule.status': 'must be one of 活跃, 离线, 忙碌',
  'column.actions': 'Actions',
  'delete.button': 'Delete',
  'delete.label': 'Delete {name}',
  'delete.title': 'Delete this row?',
  'delete.body': 'User {name} (ID {id}) will be deleted from everyone’s table. This cannot be undone.',
  'delete.confirm': 'Delete',
  'delete.cancel': 'Cancel',
  'delete.failed': 'Not deleted: {message}',
  'add.title': 'Add a row',
  'add.submit': '➕ Add',
  'add.adding': 'Adding…',
  'add.added': 'Added {name} (ID {id})',
  'add.failed': 'Not added: {message}',
  'log.change.delete': 'Deleted user: {name}',
  'log.change.batch_update': 'Batch-updated {count} records',
  'log.end.stopped': 'Data generation has ended',
  'log.end.timeout': 'The session timed out; data generation has ended',
};

const MESSAGES: Record<Lang, Record<MessageKey, string>> = { zh, en };
const HTML_LANG: Record<Lang, string> = { zh: 'zh-CN', en: 'en' };

/** Where the chosen language is remembered. */
export const LANG_STORAGE_KEY = 'livetable.lang';

/** The text of `key` in `lang`, with `{name}` placeholders filled from `params`. */
export function translate(lang: Lang, key: MessageKey, params?: MessageParams): string {
  const text = MESSAGES[lang][key];
  if (params === undefined) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** A log line's text in `lang`. */
export function logLine(lang: Lang, text: LogText): string {
  if (typeof text === 'string') return text;
  if (text.fields === undefined) return translate(lang, text.key, text.params);
  const fields = text.fields
    .map(({ field, from, to }) => translate(lang, 'log.field', { field: translate(lang, `column.${field}`), from, to }))
    .join(translate(lang, 'log.fieldSeparator'));
  return translate(lang, text.key, { ...text.params, fields });
}

/** A saved choice wins; otherwise any Chinese browser locale gets zh and everyone else en. */
export function detectLanguage(saved: string | null, browserLanguage: string | undefined): Lang {
  if (saved === 'zh' || saved === 'en') return saved;
  return browserLanguage?.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

export const lang = writable<Lang>('zh');

/** `$t('stats.records')`: the translator for the current language. */
export const t = derived(lang, ($lang) => (key: MessageKey, params?: MessageParams) => translate($lang, key, params));

/** `$line(entry.text)`: a log line's text in the current language. */
export const line = derived(lang, ($lang) => (text: LogText) => logLine($lang, text));

function readSaved(): string | null {
  try {
    return localStorage.getItem(LANG_STORAGE_KEY);
  } catch {
    return null; // storage can be disabled; the choice is then not remembered
  }
}

function apply(next: Lang): void {
  lang.set(next);
  document.documentElement.lang = HTML_LANG[next];
  document.title = `Livetable · ${translate(next, 'app.title')}`;
}

/** Picks the first language (saved choice, else the browser's) and applies it to the page. */
export function initLanguage(): void {
  apply(detectLanguage(readSaved(), navigator.language));
}

/** Switches between zh and en and remembers the choice. */
export function toggleLanguage(): void {
  const next: Lang = get(lang) === 'zh' ? 'en' : 'zh';
  apply(next);
  try {
    localStorage.setItem(LANG_STORAGE_KEY, next);
  } catch {
    // not remembered, still switched
  }
}
