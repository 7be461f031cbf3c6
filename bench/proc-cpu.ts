import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time (ms, user + system) used so far by every process whose command line names one of
 * `marks` (a browser's profile directory), and by all their descendants (renderers, GPU,
 * network and storage services). Linux /proc only; null elsewhere. Why: on a 2-core machine
 * shared with other jobs, throughput swings with the load, but the CPU a run spends per
 * transaction does not, so benchmarks report both.
 */
export function processTreeCpuMs(marks: readonly string[]): number | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  const parent = new Map<string, string>();
  const ticks = new Map<string, number>();
  const roots = new Set<string>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces and parentheses).
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(pid, rest[1]!);
      ticks.set(pid, Number(rest[11]) + Number(rest[12]));
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (marks.some((m) => cmdline.includes(m))) roots.add(pid);
    } catch {
      // The process ended meanwhile.
    }
  }
  let total = 0;
  for (const pid of ticks.keys()) {
    for (let p: string | undefined = pid; p !== undefined && p !== '0' && p !== '1'; p = parent.get(p)) {
      if (roots.has(p)) {
        total += ticks.get(pid)!;
        break;
      }
    }
  }
  // USER_HZ is 100 on Linux.
  return total * 10;
}

/**
 * CPU time (ms) per "process type / thread name" in the same process trees (e.g.
 * "renderer/DedicatedWorker th", "utility:NetworkService/ThreadPoolForeg"): where a run's
 * CPU goes, for `--threads` in bench:browser. Linux /proc only; empty elsewhere.
 */
export function threadCpuMs(marks: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  const parent = new Map<string, string>();
  const cmd = new Map<string, string>();
  const roots = new Set<string>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parent.set(pid, stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]!);
      const c = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      cmd.set(pid, c);
      if (marks.some((m) => c.includes(m))) roots.add(pid);
    } catch {
      // ended
    }
  }
  const inTree = (pid: string): boolean => {
    for (let p: string | undefined = pid; p !== undefined && p !== '0' && p !== '1'; p = parent.get(p)) if (roots.has(p)) return true;
    return false;
  };
  for (const pid of cmd.keys()) {
    if (!inTree(pid)) continue;
    const c = cmd.get(pid)!;
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
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const key = `${kind}/${name}`;
        out.set(key, (out.get(key) ?? 0) + (Number(rest[11]) + Number(rest[12])) * 10);
      } catch {
        // ended
      }
    }
  }
  return out;
}
