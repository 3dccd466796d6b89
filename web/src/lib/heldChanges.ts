/**
 * Changes held back while the viewer has paused live updates, oldest first,
 * at most `max` of them. Past that they are let go but still counted: the
 * caller then loads the table afresh instead of replaying them, so a long
 * pause cannot fill the page's memory.
 */
export class HeldChanges<T> {
  private held: T[] = [];
  private dropped = 0;

  constructor(private readonly max: number) {}

  hold(change: T): void {
    if (this.dropped === 0 && this.held.length < this.max) {
      this.held.push(change);
    } else {
      this.dropped += this.held.length + 1;
      this.held = [];
    }
  }

  /** Changes held or let go since the last `take`. */
  get count(): number {
    return this.held.length + this.dropped;
  }

  /** Hands over what is held (nothing once some were let go) and how many were let go; starts afresh. */
  take(): { messages: T[]; dropped: number } {
    const taken = { messages: this.held, dropped: this.dropped };
    this.held = [];
    this.dropped = 0;
    return taken;
  }
}
