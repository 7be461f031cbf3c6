/**
 * Two connected in-process ports with the shape of a Worker and its global scope.
 *
 * The browser splits a peer across two threads: the page negotiates WebRTC
 * (src/browser/connections.ts: ConnectionManager) and the worker carries frames
 * (worker/channel-transport.ts: ChannelTransport). Node has RTCPeerConnection (from
 * @roamhq/wrtc) in the same thread as the peer, so the Node peer runs both halves
 * unchanged and joins them with this pair instead of a Worker: same framing, same signal
 * envelope, same link bookkeeping as a tab, by construction.
 *
 * Messages are passed by reference (a data channel is not cloneable in Node) and delivered
 * in order in a later microtask, never synchronously: both halves were written for
 * postMessage, whose delivery never re-enters the sender.
 */
import type { WorkerPort } from '../browser/connections.ts';
import type { PagePort, PageToWorker, WorkerToPage } from '../../worker/channel-transport.ts';

type Listener = (event: MessageEvent) => void;

class LocalEnd<Out> {
  private readonly listeners = new Set<Listener>();
  other: LocalEnd<unknown> | null = null;
  private closed = false;

  postMessage(message: Out): void {
    const to = this.other;
    if (this.closed || to === null) return;
    queueMicrotask(() => to.deliver(message));
  }

  addEventListener(_type: 'message', listener: Listener): void {
    this.listeners.add(listener);
  }

  removeEventListener(_type: 'message', listener: Listener): void {
    this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
  }

  private deliver(data: unknown): void {
    if (this.closed) return;
    // Only `data` is read by either half.
    const event = { data } as MessageEvent;
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (e) {
        // Like a throwing onmessage handler: reported, the port keeps working.
        setTimeout(() => {
          throw e;
        }, 0);
      }
    }
  }
}

export interface LocalPortPair {
  /** The ConnectionManager's end (it talks to "the worker"). */
  page: WorkerPort & { close(): void };
  /** The ChannelTransport's end (it talks to "the page"). */
  worker: PagePort & { close(): void };
}

export function localPortPair(): LocalPortPair {
  const page = new LocalEnd<PageToWorker>();
  const worker = new LocalEnd<WorkerToPage>();
  page.other = worker as LocalEnd<unknown>;
  worker.other = page as LocalEnd<unknown>;
  return { page, worker };
}
