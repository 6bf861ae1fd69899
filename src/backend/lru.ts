/** A small least-recently-used map; `onEvict` runs for each entry pushed out. */
export class LRU<K, V> {
  private map = new Map<K, V>();
  constructor(
    public limit: number,
    private onEvict?: (v: V, k: K) => void,
  ) {}

  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }

  set(k: K, v: V): void {
    this.map.delete(k);
    this.map.set(k, v);
    this.trim();
  }

  /** Changes the limit, evicting the least recently used entries beyond it. */
  setLimit(limit: number): void {
    this.limit = limit;
    this.trim();
  }

  private trim(): void {
    while (this.map.size > this.limit) {
      const [oldK, oldV] = this.map.entries().next().value as [K, V];
      this.map.delete(oldK);
      this.onEvict?.(oldV, oldK);
    }
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    for (const [k, v] of this.map) this.onEvict?.(v, k);
    this.map.clear();
  }
}
