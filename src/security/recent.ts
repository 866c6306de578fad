/**
 * Keys seen within the last `ttlMs` (a replayed event's digest): a bounded map whose oldest entries
 * go first, so a flood cannot grow memory without end.
 */
export class SeenRecently {
  private readonly seenAt = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxKeys = 50_000,
  ) {}

  /** True when `key` was seen within the window; either way it counts as seen now. */
  check(key: string, now: number): boolean {
    const at = this.seenAt.get(key);
    const repeat = at !== undefined && now - at < this.ttlMs;
    if (!repeat) {
      this.seenAt.delete(key);
      this.seenAt.set(key, now);
    }
    this.prune(now);
    return repeat;
  }

  /** Forgets `key` (its handling failed, so a repeat must be taken). */
  forget(key: string): void {
    this.seenAt.delete(key);
  }

  private prune(now: number): void {
    for (const [key, at] of this.seenAt) {
      if (this.seenAt.size <= this.maxKeys && now - at < this.ttlMs) break;
      this.seenAt.delete(key);
    }
  }
}
