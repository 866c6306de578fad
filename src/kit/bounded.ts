/**
 * A map that holds at most `max` entries and forgets the oldest first (a Map keeps insertion
 * order; setting a key again makes it the newest). Used where a process remembers what it has
 * seen (ended calls, sent commands) and a flood must not grow memory without end.
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): this {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next();
      if (oldest.done === true) break;
      this.map.delete(oldest.value);
    }
    return this;
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }
}

/** A set on the same terms: at most `max` members, the oldest forgotten first. */
export class BoundedSet<K> {
  private readonly map: BoundedMap<K, true>;

  constructor(max: number) {
    this.map = new BoundedMap(max);
  }

  add(key: K): this {
    this.map.set(key, true);
    return this;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }
}
