import { TabringError } from '../../src/api/index.ts';

/** A sentence a person can act on, for any error the store or a demo throws. */
export function describeError(e: unknown): string {
  if (e instanceof TabringError) {
    switch (e.code) {
      case 'aborted':
        return 'Another tab changed the same data at the same moment; nothing was saved. Try again.';
      case 'commit_unknown':
        return 'The ring did not confirm in time whether the change was saved. It may still appear; check before repeating it.';
      case 'unavailable':
        return 'Not enough peers holding this data are reachable right now (a majority of its 4 replicas is needed). Tabs that were closed bring their data back when they are opened again; a ring that is re-forming answers again in a moment.';
      case 'not_joined':
        return 'This tab is not (yet) part of the ring. Wait a moment for it to join.';
      case 'limit':
        return `Too large for the store: ${e.message}.`;
      default:
        return e.message;
    }
  }
  if (e instanceof Error) return e.message;
  return String(e);
}
