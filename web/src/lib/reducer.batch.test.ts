import { describe, expect, it } from 'vitest';
import type { ChangeEvent, Row } from '../../../shared/protocol';
import {
  FLASH_LIMIT,
  LOG_LIMIT,
  averageScore,
  initialState,
  reduce,
  reduceAll,
  type LiveState,
  type Message,
} from './reducer';
import { heldInOrder } from './heldChanges';

const T0 = Date.parse('2025-01-01T12:00:00.000Z');
const at = (seq: number) => new Date(T0 + seq * 1000).toISOString();
const row = (id: number, score = 80): Row => ({ id, name: `用户${id}`, age: 30, city: '北京', score, status: '活跃' });
const meta = (seq: number) => ({ seq, timestamp: at(seq), generation_count: seq, origin: 's-0123456789ab' });

function change(type: ChangeEvent['type'], seq: number, data: Row | Row[]): ChangeEvent {
  const message = `${type} #${seq}`;
  if (type === 'batch_update') return { type, data: data as Row[], message, ...meta(seq) };
  if (type === 'update') return { type, data: data as Row, message, ...meta(seq) };
  return { type, data: data as Row, message, ...meta(seq) };
}

const seeded = (count: number): LiveState =>
  reduce(initialState(), {
    type: 'init',
    session_id: 'AAAAAAAAAAAAAAAA',
    origin: 's-0123456789ab',
    data: Array.from({ length: count }, (_, i) => row(i + 1)),
    version: 0,
    timestamp: at(0),
    heartbeat_interval: 1000,
  });

/** A small deterministic PRNG, so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * A stream the way the server makes it, with duplicates, gaps and the odd
 * local action mixed in; with `holdLimit`, pauses and resumes too.
 */
function stream(seed: number, length: number, firstId: number, holdLimit?: number): Message[] {
  const rnd = random(seed);
  let paused = false;
  const ids = Array.from({ length: firstId - 1 }, (_, i) => i + 1);
  let nextId = firstId;
  let seq = 0;
  const out: Message[] = [];
  const pick = () => ids[Math.floor(rnd() * ids.length)] ?? 1;
  for (let i = 0; i < length; i++) {
    const r = rnd();
    if (holdLimit !== undefined && r > 0.98) {
      out.push(paused ? { type: 'resume', at: at(seq) } : { type: 'pause', limit: holdLimit });
      paused = !paused;
      continue;
    }
    if (r < 0.03) {
      out.push({ type: 'heartbeat', timestamp: at(seq) });
      continue;
    }
    if (r < 0.05 && seq > 2) {
      out.push(out.find((m) => m.type !== 'heartbeat') ?? { type: 'heartbeat', timestamp: at(seq) }); // duplicate
      continue;
    }
    seq += r < 0.07 ? 2 : 1; // an occasional gap
    if (r < 0.3) {
      const id = nextId++;
      ids.push(id);
      out.push(change('add', seq, row(id, rnd() * 100)));
    } else if (r < 0.4 && ids.length > 1) {
      const id = pick();
      ids.splice(ids.indexOf(id), 1);
      out.push(change('delete', seq, row(id)));
    } else if (r < 0.5) {
      const batch = Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => row(pick(), rnd() * 100));
      out.push(change('batch_update', seq, batch));
    } else {
      out.push(change('update', seq, row(pick(), rnd() * 100)));
    }
  }
  return out;
}

const oneByOne = (state: LiveState, messages: Message[]) => messages.reduce(reduce, state);
/** A state with its rows and held changes as plain arrays: two folds may chunk them differently. */
const plain = (state: LiveState) => ({
  ...state,
  rows: [...state.rows],
  held: { ...state.held, newest: heldInOrder(state.held) },
});

describe('reduceAll', () => {
  it('leaves the same state as reducing the messages one by one', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const start = seeded(50);
      const messages = stream(seed, 400, 51);
      expect(plain(reduceAll(start, messages)), `seed ${seed}`).toEqual(plain(oneByOne(start, messages)));
    }
  });

  it('with pauses and resumes mixed in, the same as one by one, past the hold limit or not', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const start = seeded(50);
      const messages = stream(seed, 400, 51, seed % 2 === 0 ? 10 : 1000);
      expect(messages.some((m) => m.type === 'resume')).toBe(true);
      expect(plain(reduceAll(start, messages)), `seed ${seed}`).toEqual(plain(oneByOne(start, messages)));
    }
  });

  it('is the same however the stream is cut into frames', () => {
    const messages = stream(7, 600, 21);
    let framed = seeded(20);
    for (let i = 0; i < messages.length; i += 17) framed = reduceAll(framed, messages.slice(i, i + 17));
    expect(plain(framed)).toEqual(plain(oneByOne(seeded(20), messages)));
  });

  it('keeps the score sum, and so the average, of exactly the rows it holds', () => {
    let state = seeded(30);
    const messages = stream(11, 2000, 31);
    for (let i = 0; i < messages.length; i += 23) state = reduceAll(state, messages.slice(i, i + 23));
    const exact = state.rows.slice().reduce((sum, r) => sum + Math.round(r.score * 10), 0);
    expect(state.scoreSum).toBe(exact);
    expect(averageScore(state)).toBe((exact / 10 / state.rows.length).toFixed(1));
  });

  it('averages to one decimal, or shows a dash for no rows', () => {
    const rows = [row(1, 80), row(2, 85.5), row(3, 90.1)];
    const state = reduce(initialState(), {
      type: 'init',
      session_id: 'AAAAAAAAAAAAAAAA',
      origin: 's-0123456789ab',
      data: rows,
      version: 0,
      timestamp: at(0),
      heartbeat_interval: 1000,
    });
    expect(averageScore(state)).toBe('85.2');
    expect(averageScore(initialState())).toBe('—');
  });

  it('keeps id order when an add lands below rows it already holds', () => {
    const state = reduceAll(seeded(3), [
      change('delete', 1, row(2)),
      change('add', 2, row(2, 50)),
      change('add', 3, row(0)),
    ]);
    expect(state.rows.slice().map((r) => r.id)).toEqual([0, 1, 2, 3]);
    expect(state.rows.at(2)?.score).toBe(50);
  });

  it('shares what it did not touch and does not change the state it was given', () => {
    const start = seeded(1000);
    const frozen = structuredClone(plain(start));
    const next = reduceAll(start, [
      change('update', 1, row(5, 1)),
      change('update', 2, row(6, 2)),
      change('add', 3, row(1001)),
    ]);
    expect(plain(start)).toEqual(frozen);
    expect(next.rows).not.toBe(start.rows);
    expect(next.rows).toHaveLength(1001);
    // Untouched rows are shared, not cloned.
    expect(next.rows.at(0)).toBe(start.rows.at(0));
  });

  it('returns the very same state for an empty batch or only duplicates', () => {
    const start = reduceAll(seeded(5), [change('update', 1, row(1, 10))]);
    expect(reduceAll(start, [])).toBe(start);
    expect(reduceAll(start, [change('update', 1, row(1, 99))])).toBe(start);
  });

  it(`keeps the log and the highlights bounded over a batch far larger than ${LOG_LIMIT}`, () => {
    const messages = Array.from({ length: 5 * LOG_LIMIT }, (_, i) => change('update', i + 1, row((i % 300) + 1, i)));
    const state = reduceAll(seeded(300), messages);
    expect(state.log).toHaveLength(LOG_LIMIT);
    // The newest entry tells of the last change, naming the row it updated.
    expect(state.log.at(-1)?.text).toMatchObject({
      key: 'log.change.updateFields',
      params: { name: `用户${((5 * LOG_LIMIT - 1) % 300) + 1}` },
    });
    expect(state.flash.size).toBe(FLASH_LIMIT);
    expect(plain(state)).toEqual(plain(oneByOne(seeded(300), messages)));
  });

  it('applies local actions between changes in order', () => {
    const messages: Message[] = [
      change('update', 1, row(1, 1)),
      { type: 'connection', state: 'reconnecting' },
      change('update', 2, row(1, 2)),
      { type: 'end', session_id: 'AAAAAAAAAAAAAAAA', reason: 'stopped', message: 'done', timestamp: at(0) },
    ];
    const state = reduceAll(seeded(2), messages);
    expect(plain(state)).toEqual(plain(oneByOne(seeded(2), messages)));
    expect(state.connection).toBe('disconnected');
    expect(state.rows.at(0)?.score).toBe(2);
  });
});
