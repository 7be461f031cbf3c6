/**
 * Runs fn in a later task of the event loop (not a microtask): every input already queued
 * (data-channel messages, worker requests) is handled first. The driver defers its drain
 * this way so that a burst of inputs shares one drain: one storage batch, one frame per
 * destination.
 *
 * Node: setImmediate. Browsers and workers: a MessageChannel post (setTimeout(0) would be
 * clamped to 4 ms once nested).
 */
export function taskScheduler(): { schedule(fn: () => void): void; close(): void } {
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
  if (typeof g.setImmediate === 'function') {
    const setImmediate = g.setImmediate;
    return { schedule: (fn) => void setImmediate(fn), close: () => {} };
  }
  const queue: Array<() => void> = [];
  const channel = new MessageChannel();
  channel.port1.onmessage = () => {
    const fn = queue.shift();
    fn?.();
  };
  return {
    schedule: (fn) => {
      queue.push(fn);
      channel.port2.postMessage(null);
    },
    close: () => {
      queue.length = 0;
      channel.port1.close();
      channel.port2.close();
    },
  };
}
