/**
 * Where the stream's messages wait for the next frame, to be folded in one
 * go: one new state and one render per frame, however many came. Anything
 * else that changes the state flushes first, so the order holds.
 */
export class FrameQueue<T> {
  private queue: T[] = [];
  private scheduled = false;

  /**
   * @param fold applies a batch, oldest first.
   * @param schedule runs its callback soon, once (the next animation frame);
   *   without it (tests) each message is folded at once.
   */
  constructor(
    private readonly fold: (batch: T[]) => void,
    private readonly schedule?: (run: () => void) => void,
  ) {}

  push(item: T): void {
    this.queue.push(item);
    if (this.schedule === undefined) {
      this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Folds whatever waits now (a frame that comes later finds nothing). */
  flush(): void {
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.fold(batch);
  }
}
