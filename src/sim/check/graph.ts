/**
 * A small labelled digraph for the dependency checkers: edges carry a bit mask of types
 * (ww, wr, rw, rt), Tarjan's strongly connected components and breadth-first paths,
 * both restricted to a mask of allowed types. Iterative, so thousands of nodes cannot
 * overflow the call stack.
 */

export const WW = 1;
export const WR = 2;
export const RW = 4;
export const RT = 8;
export const edge_type_names: Record<number, string> = { [WW]: 'ww', [WR]: 'wr', [RW]: 'rw', [RT]: 'realtime' };

export class TypedGraph {
  readonly size: number;
  /** out[u]: target -> mask of edge types. */
  private readonly out: Array<Map<number, number>>;

  constructor(size: number) {
    this.size = size;
    this.out = Array.from({ length: size }, () => new Map<number, number>());
  }

  /** Adds an edge; returns true when this type was new for the pair. */
  add(from: number, to: number, type: number): boolean {
    // A transaction never depends on itself; a self-loop would read as a one-node cycle.
    if (from === to) return false;
    const m = this.out[from];
    const old = m.get(to) ?? 0;
    if (old & type) return false;
    m.set(to, old | type);
    return true;
  }

  mask(from: number, to: number): number {
    return this.out[from].get(to) ?? 0;
  }

  successors(from: number): Map<number, number> {
    return this.out[from];
  }

  /**
   * Strongly connected components with at least two nodes, using only edges whose type is
   * in `allowed`. `comp[v]` is the component's index in the returned list, or -1.
   */
  sccs(allowed: number): { components: number[][]; comp: Int32Array } {
    const n = this.size;
    const index = new Int32Array(n).fill(-1);
    const low = new Int32Array(n);
    const onStack = new Uint8Array(n);
    const stack: number[] = [];
    const comp = new Int32Array(n).fill(-1);
    const components: number[][] = [];
    let counter = 0;
    // Explicit DFS frames: node plus an iterator over its successors.
    const frames: Array<{ v: number; it: Iterator<[number, number]> }> = [];
    for (let root = 0; root < n; root++) {
      if (index[root] !== -1) continue;
      index[root] = low[root] = counter++;
      stack.push(root);
      onStack[root] = 1;
      frames.push({ v: root, it: this.out[root].entries() });
      while (frames.length > 0) {
        const frame = frames[frames.length - 1];
        const step = frame.it.next();
        if (!step.done) {
          const [w, mask] = step.value;
          if ((mask & allowed) === 0) continue;
          if (index[w] === -1) {
            index[w] = low[w] = counter++;
            stack.push(w);
            onStack[w] = 1;
            frames.push({ v: w, it: this.out[w].entries() });
          } else if (onStack[w]) {
            low[frame.v] = Math.min(low[frame.v], index[w]);
          }
          continue;
        }
        frames.pop();
        const v = frame.v;
        if (frames.length > 0) {
          const parent = frames[frames.length - 1].v;
          low[parent] = Math.min(low[parent], low[v]);
        }
        if (low[v] === index[v]) {
          const members: number[] = [];
          let w: number;
          do {
            w = stack.pop()!;
            onStack[w] = 0;
            members.push(w);
          } while (w !== v);
          if (members.length > 1) {
            for (const m of members) comp[m] = components.length;
            components.push(members.sort((a, b) => a - b));
          }
        }
      }
    }
    return { components, comp };
  }

  /**
   * Shortest path from `from` to `to` over edges of `allowed` types staying inside
   * component `c` of `comp`. Returns the node list (from ... to) or null. `budget.left`
   * counts edge visits and the search stops (null) when it runs out.
   */
  path(
    from: number,
    to: number,
    allowed: number,
    comp: Int32Array,
    c: number,
    budget: { left: number },
  ): number[] | null {
    if (from === to) return [from];
    const parent = new Map<number, number>([[from, -1]]);
    let frontier = [from];
    while (frontier.length > 0) {
      const nextFrontier: number[] = [];
      for (const u of frontier) {
        for (const [w, mask] of this.out[u]) {
          if (--budget.left < 0) return null;
          if ((mask & allowed) === 0 || comp[w] !== c || parent.has(w)) continue;
          parent.set(w, u);
          if (w === to) {
            const p = [w];
            for (let x = u; x !== -1; x = parent.get(x)!) p.push(x);
            return p.reverse();
          }
          nextFrontier.push(w);
        }
      }
      frontier = nextFrontier;
    }
    return null;
  }
}
