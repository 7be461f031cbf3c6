/**
 * Which stored identity a tab uses. Every peer needs its own IndexedDB database (tabs of one
 * origin share IndexedDB), and a reloaded tab must find its own again. So the databases are
 * numbered slots `tabring-<room>-<slot>`:
 * - a tab keeps its slot number in sessionStorage, which survives reloads and is per tab;
 * - a Web Lock per slot, held while the tab lives, makes sure two tabs never open one slot
 *   (a duplicated tab copies sessionStorage, so the number alone is not enough);
 * - a tab without a slot (new tab, or the browser was restarted) takes the lowest free one,
 *   so after every tab closed, reopened tabs find the identities and data of earlier ones.
 */
export interface Slot {
  readonly slot: number;
  readonly dbName: string;
  release(): void;
}

/** Slots tried at most; a tab beyond that gets an error rather than scanning forever. */
export const slots_max = 1024;
/** A reloading tab's old document may hold its lock a moment longer: wait this long (ms) for it. */
export const own_slot_wait_ms = 3_000;

export function slotDbName(room: string, slot: number): string {
  return `tabring-${room}-${slot}`;
}

export async function acquireSlot(room: string): Promise<Slot> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (locks === undefined) throw new Error('this browser has no Web Locks API (needed to give each tab its own storage)');
  const key = `tabring:${room}:slot`;
  const stored = Number(readSession(key));
  const preferred = Number.isInteger(stored) && stored >= 0 && stored < slots_max ? stored : null;
  if (preferred !== null) {
    const held = await hold(locks, room, preferred, own_slot_wait_ms);
    if (held) return done(key, room, preferred, held);
  }
  for (let slot = 0; slot < slots_max; slot++) {
    if (slot === preferred) continue;
    const held = await hold(locks, room, slot, 0);
    if (held) return done(key, room, slot, held);
  }
  throw new Error(`more than ${slots_max} tabs of room "${room}" in this browser profile`);
}

function done(key: string, room: string, slot: number, release: () => void): Slot {
  writeSession(key, String(slot));
  return { slot, dbName: slotDbName(room, slot), release };
}

/** Takes the lock of a slot and keeps it until release(); null if not free (within waitMs). */
function hold(locks: LockManager, room: string, slot: number, waitMs: number): Promise<(() => void) | null> {
  return new Promise((resolve, reject) => {
    let release: () => void = () => {};
    const kept = new Promise<void>((r) => (release = r));
    const name = `tabring:${room}:slot:${slot}`;
    const options: LockOptions = waitMs > 0 ? { signal: AbortSignal.timeout(waitMs) } : { ifAvailable: true };
    locks
      .request(name, options, async (lock) => {
        if (lock === null) return resolve(null);
        resolve(release);
        await kept; // held until release() or the tab goes away
      })
      .catch((e: unknown) => {
        if ((e as { name?: string }).name === 'TimeoutError' || (e as { name?: string }).name === 'AbortError') resolve(null);
        else reject(e);
      });
  });
}

function readSession(key: string): string | null {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null; // storage disabled: every load is a new tab
  }
}

function writeSession(key: string, value: string): void {
  try {
    sessionStorage.setItem(key, value);
  } catch {
    // Without sessionStorage a reload takes the lowest free slot, usually its own.
  }
}
