/**
 * The protocol and the real-time driver alone, in one Node process: N drivers over the
 * in-process MemoryNetwork and MemoryStorage (no WebRTC, no disk), clients incrementing
 * their own keys in read-modify-write transactions, as bench:browser does. It measures what
 * the browsers' figures cannot separate: the CPU one transaction costs in protocol, codec
 * and driver code, and how many messages, frames and drains it takes.
 *
 *   npm run bench:driver -- --json [--peers 4] [--clients 40] [--seconds 10]
 *
 * cpuMsPerTx is process CPU (user + system) per committed transaction, warm-up excluded;
 * it bounds what one core can do (1000 / cpuMsPerTx tx/s) whatever the machine's load.
 */
import { loadavg } from 'node:os';
import { MemoryNetwork } from '../src/adapters/memory-network.ts';
import { MemoryStorage, MemoryVolume } from '../src/adapters/memory-storage.ts';
import { Db } from '../src/api/db.ts';
import { chooseJoinId } from '../src/replication/replicas.ts';
import { Driver, driverLink } from '../src/runtime/driver.ts';
import { args } from './args.ts';

const a = args();
const peers = a.num('peers', 4);
const clients = a.num('clients', 40);
const seconds = a.num('seconds', 10);
const warmupS = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const hub = new MemoryNetwork();
const volume = new MemoryVolume();
const drivers: Driver[] = [];
for (let i = 0; i < peers; i++) {
  const known = drivers.map((d) => d.id);
  const d = await Driver.open({ storage: new MemoryStorage(`p${i}`, { volume }), network: (id) => hub.adapter(id), chooseId: () => chooseJoinId(known, Math.random) });
  drivers.push(d);
  d.start(i === 0 ? [] : [drivers[0]!.id]);
  while (d.ringStatus !== 'in') await sleep(10);
}
while (!drivers.every((d) => d.peer.store.empty.empty && d.peer.store.stale.empty)) await sleep(20);

let measuring = false;
let stop = false;
let done = 0;
let failed = 0;
const lat: number[] = [];
const sum = (f: (s: Driver['stats']) => number) => drivers.reduce((s, d) => s + f(d.stats), 0);
let before = { msgs: 0, frames: 0, drains: 0, cpu: process.cpuUsage(), t: 0 };
const loops = Array.from({ length: clients }, async (_, c) => {
  const db = new Db(driverLink(drivers[c % peers]!));
  while (!stop) {
    const t0 = performance.now();
    try {
      await db.addOnNr(`inc${c}`, 1);
      if (measuring) (done++, lat.push(performance.now() - t0));
    } catch {
      if (measuring) failed++;
    }
  }
});
await sleep(warmupS * 1000);
before = { msgs: sum((s) => s.messages_out + s.messages_local), frames: sum((s) => s.frames_out), drains: sum((s) => s.flushes), cpu: process.cpuUsage(), t: performance.now() };
measuring = true;
await sleep(seconds * 1000);
measuring = false;
const wallS = (performance.now() - before.t) / 1000;
const cpu = process.cpuUsage(before.cpu);
stop = true;
await Promise.all(loops);
lat.sort((x, y) => x - y);
const at = (q: number) => Math.round((lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] ?? NaN) * 100) / 100;
const per = (x: number) => Math.round((x / Math.max(1, done)) * 10) / 10;
const out = {
  bench: 'driver',
  peers,
  clients,
  seconds,
  incrementTxPerSec: Math.round(done / wallS),
  latencyMs: { p50: at(0.5), p99: at(0.99) },
  failed,
  cpuMsPerTx: Math.round(((cpu.user + cpu.system) / 1000 / Math.max(1, done)) * 1000) / 1000,
  cpuShare: Math.round(((cpu.user + cpu.system) / 1e6 / wallS) * 100) / 100,
  messagesPerTx: per(sum((s) => s.messages_out + s.messages_local) - before.msgs),
  framesPerTx: per(sum((s) => s.frames_out) - before.frames),
  drainsPerTx: per(sum((s) => s.flushes) - before.drains),
  loadAverage: Math.round(loadavg()[0]! * 10) / 10,
};
console.log(a.json ? JSON.stringify(out) : out);
await Promise.all(drivers.map((d) => d.close()));
process.exit(0);
