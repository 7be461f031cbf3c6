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
    this.mix(modM(Math.floor(time * 1000)));
    this.mix(modM(x));
    this.mix(Math.floor(x / 0x7fffffff));
    this.mix(modM(y));
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

/**
 * x % 0x7fffffff, exactly, without a floating-point remainder (a library call, and x is a
 * 52-bit peer id on every event): 2^31 = 1 modulo 2^31 - 1, so for an integer
 * x = a * 2^31 + b, x and a + b have the same remainder. Anything but a non-negative safe
 * integer takes the plain operator.
 */
function modM(x: number): number {
  if (x >= 0 && x < 0x7fffffff && (x | 0) === x) return x;
  if (!(x >= 0 && x <= Number.MAX_SAFE_INTEGER && Number.isInteger(x))) return x % 0x7fffffff;
  const a = Math.floor(x / 2147483648);
  let r = a + (x - a * 2147483648);
  while (r >= 0x7fffffff) r -= 0x7fffffff;
  return r;
}
