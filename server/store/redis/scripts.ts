/**
 * The Lua scripts that make every write to the shared table atomic on
 * Redis. Keys (under a prefix, `livetable:` by default):
 *
 * - `meta` (hash): `epoch`, `seq` (last change), `next_id`, `count` (rows)
 * - `rows` (hash): row id → the row as JSON
 * - `rowv` (hash): row id → seq of the row's last change
 * - `log` (stream): change `<seq>-0` → `c` (the change as JSON), `e` (epoch);
 *   a session's end `<seq>-n` → `end` (session id), `reason`, `e`
 * - `session:<id>` (hash), `sessions` (zset by deadline), `lease:<id>` (string):
 *   see redisSessions.ts
 */

/**
 * Makes a new table unless one is there: the epoch, the rows and their ids.
 * KEYS: meta, rows, rowv, log. ARGV: epoch, next id, seq floor (the new table's
 * version), then id and JSON per row.
 * Returns 1 when it made the table, 0 when one was already there.
 */
export const INIT_TABLE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
local count = 0
for i = 4, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('HSET', KEYS[3], ARGV[i], 0)
  count = count + 1
end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'seq', ARGV[3], 'next_id', ARGV[2], 'count', count)
return 1
`;

/**
 * The table as it is now, in one atomic read: meta, the rows with their
 * versions, and the newest log entries (newest first).
 * KEYS: meta, rows, rowv, log. ARGV: how many log entries.
 */
export const SNAPSHOT = `
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'seq', 'next_id')
if not meta[1] then return false end
return {meta, redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]),
  redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', ARGV[1])}
`;

/**
 * Commits one change. The checks come first and a failed one changes
 * nothing; then the next seq, the row writes and the log entry. The change's
 * JSON is sent in pieces around its seq (and an added row's id), which only
 * this script knows.
 *
 * KEYS: meta, rows, rowv, log, session (or an unused key), lease (likewise).
 * ARGV: [1] epoch the node holds, [2] node id ('' when no session),
 * [3] min rows, [4] max rows, [5] log length kept, [6] type,
 * [7] JSON before the seq, [8] JSON after the seq (before the id for an add),
 * [9] JSON after an add's id, [10] an added row's JSON after its id,
 * [11] n reads, then n × (id, version), then the written rows as (id, JSON).
 * Returns {'ok', seq, id} or {'no', reason}.
 */
export const COMMIT = `
local meta, rows, rowv, log = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('HGET', meta, 'epoch') ~= ARGV[1] then return {'no', 'epoch'} end
if ARGV[2] ~= '' then
  local deadline = redis.call('HGET', KEYS[5], 'deadline')
  if not deadline or redis.call('HEXISTS', KEYS[5], 'ended') == 1 then return {'no', 'session_ended'} end
  -- Past its deadline by Redis's clock: a node paused past it commits nothing.
  local now = redis.call('TIME')
  if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) >= tonumber(deadline) then
    return {'no', 'session_ended'}
  end
  if redis.call('GET', KEYS[6]) ~= ARGV[2] then return {'no', 'session_ended'} end
end
local kind = ARGV[6]
local reads = tonumber(ARGV[11])
for i = 12, 11 + 2 * reads, 2 do
  local version = redis.call('HGET', rowv, ARGV[i])
  if not version then return {'no', 'row_not_found'} end
  if version ~= ARGV[i + 1] then return {'no', 'row_changed'} end
end
local count = tonumber(redis.call('HGET', meta, 'count'))
if kind == 'add' and count >= tonumber(ARGV[4]) then return {'no', 'too_many_rows'} end
if kind == 'delete' and count <= tonumber(ARGV[3]) then return {'no', 'too_few_rows'} end

-- Lua writes a number past 1e14 in exponent form: seqs go into text as
-- digits, formatted explicitly.
local seq = string.format('%.0f', redis.call('HINCRBY', meta, 'seq', 1))
local json
local id = '0'
if kind == 'add' then
  id = string.format('%.0f', redis.call('HINCRBY', meta, 'next_id', 1) - 1)
  redis.call('HSET', rows, id, '{"id":' .. id .. ARGV[10])
  redis.call('HSET', rowv, id, seq)
  redis.call('HINCRBY', meta, 'count', 1)
  json = ARGV[7] .. seq .. ARGV[8] .. id .. ARGV[9]
elseif kind == 'delete' then
  redis.call('HDEL', rows, ARGV[12])
  redis.call('HDEL', rowv, ARGV[12])
  redis.call('HINCRBY', meta, 'count', -1)
  json = ARGV[7] .. seq .. ARGV[8]
else
  for i = 12 + 2 * reads, #ARGV, 2 do
    redis.call('HSET', rows, ARGV[i], ARGV[i + 1])
    redis.call('HSET', rowv, ARGV[i], seq)
  end
  json = ARGV[7] .. seq .. ARGV[8]
end
redis.call('XADD', log, 'MAXLEN', '~', ARGV[5], seq .. '-0', 'c', json, 'e', ARGV[1])
if ARGV[2] ~= '' then redis.call('HINCRBY', KEYS[5], 'generated', 1) end
return {'ok', seq, id}
`;

/**
 * Ends the sessions past their deadline that no node ended (their nodes
 * died): the same steps as END_SESSION. Used before sessions are counted.
 */
const REAP = `
local function finish(id, reason, now)
  local key = prefix .. 'session:' .. id
  local address = redis.call('HGET', key, 'address')
  redis.call('HSET', key, 'ended', reason, 'ended_at', now)
  redis.call('PEXPIRE', key, remember)
  redis.call('ZREM', prefix .. 'sessions', id)
  if address and address ~= '' then redis.call('ZREM', prefix .. 'addr:' .. address, id) end
  redis.call('DEL', prefix .. 'lease:' .. id)
  local epoch, seq = unpack(redis.call('HMGET', prefix .. 'meta', 'epoch', 'seq'))
  redis.call('XADD', prefix .. 'log', 'MAXLEN', '~', history, (seq or 0) .. '-*',
    'end', id, 'reason', reason, 'e', epoch or '')
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', prefix .. 'sessions', '-inf', now)) do
  finish(id, 'timeout', now)
end
`;

/** The arguments every session script starts with. */
const SESSION_ARGS = `
local prefix, now, remember, history = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
`;

/**
 * Starts a session unless a limit says no. ARGV: prefix, now, remember ms,
 * history, id, deadline, started at, address, owner, max sessions, max per address.
 * Returns {'ok'} or {'all' | 'address', running, first deadline}.
 */
export const START_SESSION = `${SESSION_ARGS}${REAP}
local id, deadline, address = ARGV[5], ARGV[6], ARGV[8]
local running = redis.call('ZCARD', prefix .. 'sessions')
if running >= tonumber(ARGV[10]) then
  return {'all', running, redis.call('ZRANGE', prefix .. 'sessions', 0, 0, 'WITHSCORES')[2]}
end
if address ~= '' then
  local own = redis.call('ZCARD', prefix .. 'addr:' .. address)
  if own >= tonumber(ARGV[11]) then
    return {'address', own, redis.call('ZRANGE', prefix .. 'addr:' .. address, 0, 0, 'WITHSCORES')[2]}
  end
  redis.call('ZADD', prefix .. 'addr:' .. address, deadline, id)
end
redis.call('HSET', prefix .. 'session:' .. id, 'started_at', ARGV[7], 'deadline', deadline,
  'generated', 0, 'address', address, 'owner', ARGV[9])
redis.call('ZADD', prefix .. 'sessions', deadline, id)
return {'ok'}
`;

/**
 * Ends a session: marks it, forgets its lease and appends its end to the
 * log, after every change it made. ARGV: prefix, now, remember ms, history, id, reason.
 * Returns 'stopped', 'already_ended' or 'unknown'.
 */
export const END_SESSION = `${SESSION_ARGS}${REAP}
local key = prefix .. 'session:' .. ARGV[5]
if redis.call('HEXISTS', key, 'ended') == 1 then return 'already_ended' end
if redis.call('EXISTS', key) == 0 then return 'unknown' end
finish(ARGV[5], ARGV[6], now)
return 'stopped'
`;

/** Running sessions and ended ones after reaping. ARGV: prefix, now, remember ms, history. */
export const COUNT_SESSIONS = `${SESSION_ARGS}${REAP}
return redis.call('ZCARD', prefix .. 'sessions')
`;

/**
 * Takes or renews a session's lease for this node while the session runs.
 * KEYS: lease, session. ARGV: node, ttl ms. Returns 1 when held.
 */
export const LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
if redis.call('HEXISTS', KEYS[2], 'ended') == 1 or redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/** Gives a lease up if this node holds it. KEYS: lease. ARGV: node. */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`;
