import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU accounting of a browser under test, from Linux /proc (empty/null elsewhere). Why: on a
 * 2-core machine shared with other jobs, throughput swings with the load, but the CPU a run
 * spends per transaction does not, so benchmarks report both.
 */

/** USER_HZ is 100 on Linux: one clock tick is 10 ms. */
const MS_PER_TICK = 10;

/** Fields of a /proc stat line after the command name (which may hold spaces and parentheses). */
function statFields(path: string): string[] {
  const stat = readFileSync(path, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of a stat line's fields, in ms. */
const cpuMs = (fields: string[]): number => (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;

/**
 * Every process whose command line names one of `marks` (a browser's profile directory) and
 * all their descendants (renderers, GPU, network and storage services): pid -> command line.
 */
function processTree(marks: readonly string[]): Map<string, string> | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  const parent = new Map<string, string>();
  const cmd = new Map<string, string>();
  const roots = new Set<string>();
  for (const pid of pids) {
    try {
      parent.set(pid, statFields(`/proc/${pid}/stat`)[1]!);
      const c = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      cmd.set(pid, c);
      if (marks.some((m) => c.includes(m))) roots.add(pid);
    } catch {
      // The process ended meanwhile.
    }
  }
  const tree = new Map<string, string>();
  for (const [pid, c] of cmd) {
    for (let p: string | undefined = pid; p !== undefined && p !== '0' && p !== '1'; p = parent.get(p)) {
      if (roots.has(p)) {
        tree.set(pid, c);
        break;
      }
    }
  }
  return tree;
}

/** CPU time (ms, user + system) used so far by the process tree of `marks`. */
export function processTreeCpuMs(marks: readonly string[]): number | null {
  const tree = processTree(marks);
  if (tree === null) return null;
  let total = 0;
  for (const pid of tree.keys()) {
    try {
      total += cpuMs(statFields(`/proc/${pid}/stat`));
    } catch {
      // ended
    }
  }
  return total;
}

/**
 * CPU time (ms) per "process type / thread name" in the same process tree (e.g.
 * "renderer/DedicatedWorker", "utility:NetworkService/Chrome_ChildIOT"): where a run's CPU
 * goes, for `--threads` in bench:browser.
 */
export function threadCpuMs(marks: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const [pid, c] of processTree(marks) ?? []) {
    const type = /--type=([^\s\0]+)/.exec(c)?.[1] ?? 'browser';
    const sub = /--utility-sub-type=([^\s\0]+)/.exec(c)?.[1]?.split('.').pop();
    const kind = sub ? `${type}:${sub}` : type;
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[0-9]+$/, '');
        const key = `${kind}/${name}`;
        out.set(key, (out.get(key) ?? 0) + cpuMs(stat.slice(stat.lastIndexOf(')') + 2).split(' ')));
      } catch {
        // ended
      }
    }
  }
  return out;
}
