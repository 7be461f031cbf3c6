import { NotJoinedError, UnavailableError } from '../../src/api/index.ts';

/** How long an operation is retried while its replicas are unreachable (a ring re-forming, a peer restarting). */
export const unavailable_retry_ms = 20_000;
const backoff_first_ms = 250;
const backoff_max_ms = 2_000;

/**
 * Run op, and again after a growing pause while it fails because too few replicas answer:
 * right after tabs (re)join, their ranges are repaired before they answer. Other errors,
 * and the last unavailable one, are passed on.
 */
export async function retryUnavailable<T>(op: () => Promise<T>, onWait?: (attempt: number) => void, limitMs = unavailable_retry_ms): Promise<T> {
  const end = Date.now() + limitMs;
  for (let attempt = 1, pause = backoff_first_ms; ; attempt++, pause = Math.min(backoff_max_ms, pause * 2)) {
    try {
      return await op();
    } catch (e) {
      if (!(e instanceof UnavailableError || e instanceof NotJoinedError) || Date.now() + pause > end) throw e;
      onWait?.(attempt);
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}
