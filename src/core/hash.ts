import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import type { PeerId } from './types.ts';



/**
 * Position of a key on the identifier circle: the first 52 bits of SHA-256 of its UTF-8
 * bytes. A cryptographic hash keeps positions uniform whatever keys applications choose
 * (sequential names would cluster with a weak hash and overload a few peers); the key
 * itself stays the storage key, so collisions of positions never merge two keys.
 */
export function keyPosition(key: string): PeerId {
  const h = sha256(utf8ToBytes(key));
  // 6.5 bytes = 52 bits; each term is exact in a double.
  return (
    h[0]! * 2 ** 44 + h[1]! * 2 ** 36 + h[2]! * 2 ** 28 + h[3]! * 2 ** 20 + h[4]! * 2 ** 12 + h[5]! * 2 ** 4 + (h[6]! >>> 4)
  );
}
