/**
 * An incremental hash of everything that happened in a run (event kind, time, peers,
 * message type). Two runs of one seed must give the same value; printing it makes any
 * divergence visible at once. Two 32-bit FNV-1a style lanes give a 64-bit digest.
 */
export class TraceHash {
  private a = 0x811c9dc5;
  private b = 0x01000193 ^ 0x5bd1e995;
  events = 0;

  add(time: number, kind: number, x: number, y: number, z: number): void {
    this.events++;
    this.mix(kind);
    this.mix(Math.floor(time * 1000) % 0x7fffffff);
    this.mix(x % 0x7fffffff);
    this.mix(Math.floor(x / 0x7fffffff));
    this.mix(y % 0x7fffffff);
    this.mix(Math.floor(y / 0x7fffffff));
    this.mix(z);
  }

  private mix(v: number): void {
    this.a = Math.imul(this.a ^ (v & 0xffffffff), 0x01000193);
    this.b = Math.imul(this.b ^ ((v >>> 16) | (v << 16)), 0x5bd1e995) ^ (this.b >>> 13);
  }

  digest(): string {
    return (this.a >>> 0).toString(16).padStart(8, '0') + (this.b >>> 0).toString(16).padStart(8, '0');
  }
}
