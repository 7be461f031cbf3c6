import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, resolveLimits, TokenBucket } from './limits.ts';
import { checkSignalData, parseClientMessage, parseServerMessage, utf8Bytes } from './protocol.ts';

describe('protocol parsers', () => {
  it('accepts every valid client message and drops unknown fields', () => {
    expect(parseClientMessage('{"type":"join","room":"My.app_1-x","peerId":0,"extra":1}')).toEqual({
      ok: true,
      value: { type: 'join', room: 'My.app_1-x', peerId: 0 },
    });
    expect(parseClientMessage(`{"type":"join","room":"${'a'.repeat(64)}","peerId":${2 ** 52 - 1}}`).ok).toBe(true);
    expect(parseClientMessage('{"type":"signal","to":5,"data":{"sdp":"x","c":[1,null,true]}}')).toEqual({
      ok: true,
      value: { type: 'signal', to: 5, data: { sdp: 'x', c: [1, null, true] } },
    });
    expect(parseClientMessage('{"type":"peers"}')).toEqual({ ok: true, value: { type: 'peers' } });
    expect(parseClientMessage('{"type":"ping"}')).toEqual({ ok: true, value: { type: 'ping' } });
  });

  it('classifies bad client input', () => {
    expect(parseClientMessage('nope')).toMatchObject({ ok: false, code: 'invalid-json' });
    expect(parseClientMessage('"join"')).toMatchObject({ ok: false, code: 'invalid-message' });
    expect(parseClientMessage('{"type":"join","room":"a/b","peerId":1}')).toMatchObject({ ok: false, code: 'invalid-message' });
    expect(parseClientMessage('{"type":"signal","to":1}')).toMatchObject({ ok: false, code: 'invalid-message' });
    const big = JSON.stringify({ type: 'signal', to: 1, data: 'x'.repeat(DEFAULT_LIMITS.message_bytes_max) });
    expect(parseClientMessage(big)).toMatchObject({ ok: false, code: 'oversized' });
    const bigData = JSON.stringify({ type: 'signal', to: 1, data: 'x'.repeat(DEFAULT_LIMITS.signal_data_bytes_max) });
    expect(parseClientMessage(bigData)).toMatchObject({ ok: false, code: 'oversized' });
  });

  it('parses server messages, keeping unknown error codes', () => {
    expect(parseServerMessage('{"type":"joined","peers":[1,2]}')).toEqual({ ok: true, value: { type: 'joined', peers: [1, 2] } });
    expect(parseServerMessage('{"type":"joined","peers":[1,-2]}')).toMatchObject({ ok: false, code: 'invalid-message' });
    expect(parseServerMessage('{"type":"error","code":"from-the-future","message":"m","re":"signal","peer":3}')).toEqual({
      ok: true,
      value: { type: 'error', code: 'from-the-future', message: 'm', re: 'signal', peer: 3 },
    });
    expect(parseServerMessage('{"type":"error","code":"x","message":"m","re":"bogus"}')).toEqual({
      ok: true,
      value: { type: 'error', code: 'x', message: 'm' },
    });
    expect(parseServerMessage('{"type":"signal","from":1}')).toMatchObject({ ok: false, code: 'invalid-message' });
  });

  it('checks signal data depth iteratively and size in UTF-8 bytes', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 20_000; i++) deep = [deep];
    expect(checkSignalData(deep)).toMatchObject({ code: 'invalid-message' });
    expect(checkSignalData(undefined)).toMatchObject({ code: 'invalid-message' });
    expect(checkSignalData(Number.NaN)).toMatchObject({ code: 'invalid-message' });
    expect(checkSignalData('é'.repeat(8191))).toBeNull(); // 16382 + 2 quotes = 16384 bytes
    expect(checkSignalData('é'.repeat(8192))).toMatchObject({ code: 'oversized' });
    for (const s of ['', 'abc', 'é', '€', '😀', 'a😀b', '\ud800x', 'x\udc00']) {
      expect(utf8Bytes(s), JSON.stringify(s)).toBe(Buffer.byteLength(s, 'utf8'));
    }
  });
});

describe('limits', () => {
  it('token bucket allows the burst, then the rate', () => {
    const bucket = new TokenBucket(3, 10, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, true, false]);
    expect(bucket.take(50)).toBe(false); // half a token
    expect(bucket.take(100)).toBe(true); // one token after 100 ms at 10/s
    expect(bucket.take(100)).toBe(false);
    expect([1, 2, 3, 4].map(() => bucket.take(10_000))).toEqual([true, true, true, false]); // capped at capacity
  });

  it('resolveLimits fills defaults and rejects values that disable a bound', () => {
    expect(resolveLimits({ room_peers_max: 3 })).toMatchObject({ room_peers_max: 3, rooms_max: DEFAULT_LIMITS.rooms_max });
    expect(() => resolveLimits({ messages_per_second_max: 0 })).toThrow(/messages_per_second_max/);
    expect(() => resolveLimits({ idle_timeout_ms: Number.POSITIVE_INFINITY })).toThrow(/idle_timeout_ms/);
    expect(() => resolveLimits({ frame_bytes_max: 1024 })).toThrow(/frame_bytes_max/);
  });
});
