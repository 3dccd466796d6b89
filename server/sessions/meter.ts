/** What the session layer reports for metrics; server.ts gives it the Prometheus ones. */
export interface Meter {
  /** One change committed by this node, which took `seconds`. */
  committed(seconds: number): void;
  /** `changes` written to `streams` streams, `bytes` in all. */
  delivered(changes: number, streams: number, bytes: number): void;
  /** Seconds from a change's commit to its write to this node's sockets. */
  lag(seconds: number): void;
}

export const NO_METER: Meter = { committed() {}, delivered() {}, lag() {} };
