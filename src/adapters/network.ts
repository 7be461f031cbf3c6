import type { PeerId } from '../core/types.ts';

/**
 * Network adapter: how a running peer (not the simulator) exchanges encoded messages.
 * Implementations: MemoryNetwork (tests, one process), the browser worker's data-channel
 * transport, the Node peer's WebRTC transport. Every implementation passes
 * test/network-suite.ts.
 *
 * Delivery between two live, connected peers is in order and without loss (data channels
 * are reliable and ordered); anything else (unknown peer, closed link) is best effort:
 * send() never throws for those, the message is dropped and counted. The protocol above
 * copes with loss by timeouts and retries.
 */
export interface NetworkAdapter {
  readonly self: PeerId;
  /** Best effort. Opens a link lazily when none exists. Oversized messages are rejected with a NetworkError. */
  send(to: PeerId, data: string): void;
  onMessage(handler: (from: PeerId, data: string) => void): void;
  /** A link closed or failed (the other side may still be alive). */
  onLinkDown(handler: (peer: PeerId) => void): void;
  /** Peers with an open link now. */
  connectedPeers(): PeerId[];
  close(): Promise<void>;
}

/** Largest encoded message a transport carries; larger sends throw. 256 KiB leaves room for a value of 128 KiB. */
export const MESSAGE_BYTES_MAX = 256 * 1024;

export class NetworkError extends Error {
  readonly code: 'oversized' | 'closed';
  constructor(code: 'oversized' | 'closed', message: string) {
    super(message);
    this.name = 'NetworkError';
    this.code = code;
  }
}
