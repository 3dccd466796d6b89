/** The Redis keys of one Livetable table, all under one prefix (`livetable:` unless --redis-prefix says otherwise). */
export interface RedisKeys {
  meta: string;
  rows: string;
  rowVersions: string;
  log: string;
  /** Running sessions, scored by deadline: the cluster's count. */
  sessions: string;
  session(id: string): string;
  lease(id: string): string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    meta: `${prefix}meta`,
    rows: `${prefix}rows`,
    rowVersions: `${prefix}rowv`,
    log: `${prefix}log`,
    sessions: `${prefix}sessions`,
    session: (id) => `${prefix}session:${id}`,
    lease: (id) => `${prefix}lease:${id}`,
  };
}
