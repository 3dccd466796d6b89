import { derived, get, writable } from 'svelte/store';

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
  'log.gap': '数据缺失：应收到 #{expected}，实际收到 #{seq}',
  'log.resync': '暂停期间有 {count} 条变更，重新加载整个表格',
  'log.badMessage': '收到无法解析的消息',
  'log.requestFailed': '请求失败（HTTP {status}）',
  'log.networkError': '网络错误，请求未能到达服务器',
  'log.loadFailed': '无法加载表格数据',
  'log.started': '数据生成已开始',
  'log.stopped': '数据生成已停止',
  'log.already_ended': '会话早已结束',
  'log.change.add': '添加了新用户: {name}',
  'log.change.update': '更新了用户 {name}',
  'log.change.delete': '删除了用户: {name}',
  'log.change.batch_update': '批量更新了 {count} 条记录',
  'log.end.stopped': '数据生成已结束',
  'log.end.timeout': '会话已超时，数据生成已结束',
} as const;

/** Every text the interface itself writes. */
export type MessageKey = keyof typeof zh;
export type MessageParams = Record<string, string | number>;

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
  'stats.updates': 'Updates',
  'stats.average': 'Average score',
  'table.title': 'Data',
  'table.version': 'Version',
  'table.empty': 'No data yet',
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
  'log.stopped': 'Data generation stopped',
  'log.already_ended': 'The session had already ended',
  'log.change.add': 'Added user: {name}',
  'log.change.update': 'Updated user {name}',
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

/** A saved choice wins; otherwise any Chinese browser locale gets zh and everyone else en. */
export function detectLanguage(saved: string | null, browserLanguage: string | undefined): Lang {
  if (saved === 'zh' || saved === 'en') return saved;
  return browserLanguage?.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

export const lang = writable<Lang>('zh');

/** `$t('stats.records')`: the translator for the current language. */
export const t = derived(lang, ($lang) => (key: MessageKey, params?: MessageParams) => translate($lang, key, params));

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
