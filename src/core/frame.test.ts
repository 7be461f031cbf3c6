import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encode } from './codec.ts';
import { decodeFrame, frame_chars_max, packFrames } from './frame.ts';
import { frame_messages_max } from './limits.ts';
import type { Msg } from './messages.ts';

const ping = (seq: number): Msg => ({ t: 'ping', seq });

describe('frames', () => {
  it('a frame of one message is the message itself', () => {
    const text = encode(ping(1));
    expect(packFrames([text])).toEqual([text]);
    expect(decodeFrame(text)).toEqual({ msgs: [ping(1)], dropped: [] });
  });

  it('packs messages in order and decodes them back, within the limits', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(1_000_000), { minLength: 1, maxLength: 1500 }), (seqs) => {
        const msgs: Msg[] = seqs.map(ping);
        const texts = msgs.map(encode);
        const frames = packFrames(texts);
        const back: Msg[] = [];
        for (const f of frames) {
          expect(f.length).toBeLessThanOrEqual(Math.max(frame_chars_max, ...texts.map((t) => t.length)));
          const r = decodeFrame(f);
          expect(r.dropped).toEqual([]);
          expect(r.msgs.length).toBeLessThanOrEqual(frame_messages_max);
          back.push(...r.msgs);
        }
        expect(back).toEqual(msgs);
        expect(frames.length).toBe(Math.ceil(msgs.length / frame_messages_max));
      }),
      { numRuns: 50 },
    );
  });

  it('splits on the character budget; a message longer than the budget travels alone', () => {
    const big = 'x'.repeat(frame_chars_max);
    const texts = [encode(ping(1)), big, encode(ping(2)), encode(ping(3))];
    const frames = packFrames(texts);
    expect(frames).toEqual([texts[0], big, `[${texts[2]},${texts[3]}]`]);
  });

  it('drops bad messages one by one, keeping the good ones of the frame', () => {
    const r = decodeFrame(`[${encode(ping(1))},{"t":"nope"},7,${encode(ping(2))}]`);
    expect(r.msgs).toEqual([ping(1), ping(2)]);
    expect(r.dropped.map((d) => d.reason)).toEqual(['invalid', 'invalid']);
  });

  it('refuses malformed frames as a whole, with a reason', () => {
    expect(decodeFrame('[1').dropped[0]?.reason).toBe('malformed');
    expect(decodeFrame('[]').dropped[0]?.reason).toBe('malformed');
    expect(decodeFrame(`[${encode(ping(1))}]`).dropped[0]?.reason).toBe('malformed'); // a frame of one is the bare message
    const many = `[${Array.from({ length: frame_messages_max + 1 }, (_, i) => encode(ping(i))).join(',')}]`;
    expect(decodeFrame(many)).toMatchObject({ msgs: [], dropped: [{ reason: 'malformed' }] });
    expect(decodeFrame(`[${'1,'.repeat(200_000)}1]`).dropped[0]?.reason).toBe('oversized');
    expect(decodeFrame(42).dropped[0]?.reason).toBe('malformed');
  });
});
