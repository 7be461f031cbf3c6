/// <reference lib="webworker" />
/**
 * The production peer worker plus one test hook: raw garbage on a data channel, sent beside
 * the transport on the very channel it uses (as a buggy or hostile peer would).
 */
import '../../worker/peer-worker.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;
/** Channels the page moved in (the transport gets the same objects). */
const raw = new Map<number, RTCDataChannel>();

/** Frames no correct peer sends, then a marker message the receiver must still get. */
function garbageFrames(): Array<string | ArrayBuffer> {
  const frames: Array<string | ArrayBuffer> = [
    new Uint8Array([0xff, 0xfe, 0x00, 0x01]).buffer, // binary
    'not a frame', // unknown tag
    '', // empty
    'mnot json {', // a message, but not JSON
    'm{"t":"route"}', // JSON, not a valid message
    'm{"t":"ping","seq":-1}', // invalid field
    'm{"t":"tx_vote","tx":{"__proto__":1}}',
    `m${JSON.stringify({ t: 'pong', seq: 1, member: true, pred: 'x', succs: [1, 2] })}`,
    `m${'['.repeat(50_000)}`, // deep nesting, unterminated
    `m${'['.repeat(50_000)}${']'.repeat(50_000)}`, // deep nesting, valid JSON
  ];
  for (let i = 0; i < 17; i++) frames.push(`f${'a'.repeat(16 * 1024)}`); // over the message limit
  frames.push('m}');
  return frames;
}

scope.addEventListener('message', (e: MessageEvent) => {
  const m = e.data as Record<string, unknown> | null;
  if (m?.['kind'] === 'channel' && typeof m['peer'] === 'number') raw.set(m['peer'], m['channel'] as RTCDataChannel);
  if (m?.['debug'] !== 'garbage') return;
  const peer = m['peer'] as number;
  const ch = raw.get(peer);
  let sent = 0;
  if (ch && ch.readyState === 'open') {
    for (const f of garbageFrames()) {
      ch.send(f as string);
      sent++;
    }
  }
  scope.postMessage({ debugReply: m['rpc'], sent });
});
