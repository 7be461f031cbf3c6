import { crc32 } from 'node:zlib';

/**
 * Record framing for FileStorage's log and snapshot files:
 *
 *   [u32le payload length][u32le crc32(length bytes ++ payload)][payload: UTF-8 JSON]
 *
 * The checksum covers the length too, so a corrupted length is caught rather than used to
 * skip over good data. node:zlib's crc32 (Node >= 20.15, checked on 20.20) needs no package.
 */
export const FRAME_HEADER_BYTES = 8;
/** Largest payload a reader accepts; a bigger length field means corruption, not data. */
export const FRAME_PAYLOAD_BYTES_MAX = 256 * 1024 * 1024;

export function encodeFrame(json: string): Buffer {
  const payload = Buffer.from(json, 'utf8');
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  payload.copy(frame, FRAME_HEADER_BYTES);
  frame.writeUInt32LE(crc32(payload, crc32(frame.subarray(0, 4))), 4);
  return frame;
}

export interface DecodedFrames {
  /** Parsed payloads of every good frame, in order. */
  readonly values: unknown[];
  /** Bytes covered by good frames; everything after is a torn or corrupt tail. */
  readonly validBytes: number;
  /** Why reading stopped before the end, if it did. */
  readonly stopReason?: string;
}

/** Reads frames until the end or the first bad frame. Never returns data from a bad frame. */
export function decodeFrames(buf: Buffer): DecodedFrames {
  const values: unknown[] = [];
  let offset = 0;
  const stop = (reason: string): DecodedFrames => ({ values, validBytes: offset, stopReason: `${reason} at byte ${offset}` });
  while (offset < buf.length) {
    if (buf.length - offset < FRAME_HEADER_BYTES) return stop('torn frame header');
    const length = buf.readUInt32LE(offset);
    if (length > FRAME_PAYLOAD_BYTES_MAX) return stop(`implausible frame length ${length}`);
    const end = offset + FRAME_HEADER_BYTES + length;
    if (end > buf.length) return stop('torn frame payload');
    const payload = buf.subarray(offset + FRAME_HEADER_BYTES, end);
    const expected = buf.readUInt32LE(offset + 4);
    if (crc32(payload, crc32(buf.subarray(offset, offset + 4))) !== expected) return stop('checksum mismatch');
    let value: unknown;
    try {
      value = JSON.parse(payload.toString('utf8'));
    } catch {
      return stop('unparseable frame');
    }
    values.push(value);
    offset = end;
  }
  return { values, validBytes: offset };
}
