import { describe, expect, it } from 'vitest';
import { FrameQueue } from './frameQueue';

function frames() {
  const pending: (() => void)[] = [];
  return {
    schedule: (run: () => void) => void pending.push(run),
    next: () => pending.splice(0).forEach((run) => run()),
    get waiting() {
      return pending.length;
    },
  };
}

describe('FrameQueue', () => {
  it('folds everything that came before a frame in one batch, asking for one frame', () => {
    const frame = frames();
    const batches: number[][] = [];
    const queue = new FrameQueue<number>((batch) => batches.push(batch), frame.schedule);
    queue.push(1);
    queue.push(2);
    queue.push(3);
    expect(frame.waiting).toBe(1);
    expect(batches).toEqual([]);
    frame.next();
    expect(batches).toEqual([[1, 2, 3]]);
    queue.push(4);
    frame.next();
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it('a flush before the frame folds at once, and the frame then finds nothing', () => {
    const frame = frames();
    const batches: number[][] = [];
    const queue = new FrameQueue<number>((batch) => batches.push(batch), frame.schedule);
    queue.push(1);
    queue.flush();
    expect(batches).toEqual([[1]]);
    frame.next();
    expect(batches).toEqual([[1]]);
  });

  it('without a scheduler folds each item as it comes', () => {
    const batches: number[][] = [];
    const queue = new FrameQueue<number>((batch) => batches.push(batch));
    queue.push(1);
    queue.push(2);
    expect(batches).toEqual([[1], [2]]);
  });
});
