import { describe, expect, it } from 'vitest';
import { Rng } from '../sim/rng.ts';
import { Timers } from './timers.ts';

/** Timers against a naive model: random schedules, cancels (also of the earliest and from inside a timer) and runs. */
describe('Timers', () => {
  it('runs due timers in (deadline, scheduling) order, skips cancelled ones, and reports the earliest deadline', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const rng = new Rng(seed);
      const timers = new Timers();
      const model = new Map<number, { at: number; seq: number }>();
      const ran: number[] = [];
      let now = 0;
      let seq = 0;
      const schedule = () => {
        const at = now + rng.int(0, 20);
        const s = ++seq;
        const h = timers.schedule(at, () => {
          ran.push(s);
          // Timers that schedule and cancel from inside a callback.
          if (rng.chance(0.2)) schedule();
          if (rng.chance(0.2) && model.size > 0) cancel();
        });
        model.set(h, { at, seq: s });
      };
      const cancel = () => {
        const handles = [...model.keys()];
        // Often the earliest one (the heap's top), else any.
        const earliest = handles.reduce((a, b) => (model.get(a)!.at < model.get(b)!.at ? a : b));
        const h = rng.chance(0.5) ? earliest : rng.pick(handles);
        timers.cancel(h);
        model.delete(h);
      };
      for (let step = 0; step < 300; step++) {
        const r = rng.next();
        if (r < 0.5) schedule();
        else if (r < 0.7 && model.size > 0) cancel();
        else {
          now += rng.int(0, 10);
          // The model: everything due before the run runs, earliest first (ties by scheduling
          // order), minus what callbacks cancel; callbacks may add more.
          ran.length = 0;
          const before = new Map([...model.values()].map((t) => [t.seq, t.at]));
          timers.runDue(now);
          for (const [h, t] of [...model]) if (ran.includes(t.seq)) model.delete(h);
          for (const t of model.values()) expect(t.at).toBeGreaterThan(now);
          const old = ran.filter((x) => before.has(x));
          const sorted = old.slice().sort((a, b) => before.get(a)! - before.get(b)! || a - b);
          expect(old).toEqual(sorted);
        }
        const min = model.size === 0 ? null : Math.min(...[...model.values()].map((t) => t.at));
        expect(timers.nextAt()).toBe(min);
        expect(timers.size).toBe(model.size);
      }
    }
  });

  it('ties run in scheduling order', () => {
    const timers = new Timers();
    const ran: number[] = [];
    for (let i = 0; i < 20; i++) timers.schedule(5, () => ran.push(i));
    timers.runDue(5);
    expect(ran).toEqual([...Array(20).keys()]);
  });
});
