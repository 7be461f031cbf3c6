import { AbortedError, CommitUnknownError, type Json } from '../../src/api/index.ts';
import { keyPosition } from '../../src/core/hash.ts';
import type { DemoClient, PeerStatus, ReplicaInfo, RingSummary } from '../shared/client.ts';
import { el } from '../shared/dom.ts';
import { describeError } from '../shared/errors.ts';
import { formatBytes, formatMs, shortId } from '../shared/format.ts';
import { startPage } from '../shared/page.ts';
import { retryUnavailable } from '../shared/retry.ts';
import { Plot } from './plot.ts';
import { knownPeers, legend, ringSvg, type RingPicture } from './ring-view.ts';
import { attachSampler, OpLog, StatsHistory } from './stats.ts';
import './console.css';

/** Probe reads keep the latency plot alive when nothing else happens. */
const probe_interval_ms = 2000;

void startPage('console', (client: DemoClient, main: HTMLElement) => {
  const ops = new OpLog();
  const history = new StatsHistory();
  const picture: RingPicture = { status: null, connected: [], key: null };

  // ---------------------------------------------------------------- ring
  const ringBox = el('div', { class: 'ring-box', 'data-testid': 'ring' });
  const peersTable = el('table', { class: 'data small', 'data-testid': 'peers' });
  const drawRing = () => {
    ringBox.replaceChildren(ringSvg(picture));
    const roles = knownPeers(picture);
    peersTable.replaceChildren(
      el('tr', {}, [el('th', {}, ['Peer']), el('th', {}, ['Position']), el('th', {}, ['Roles'])]),
      ...[...roles]
        .sort(([a], [b]) => a - b)
        .map(([id, r]) =>
          el('tr', { 'data-peer': id }, [el('td', { class: 'mono' }, [shortId(id)]), el('td', { class: 'mono' }, [`${((id / 2 ** 52) * 100).toFixed(1)}%`]), el('td', {}, [[...r].join(', ')])]),
        ),
    );
  };

  // ---------------------------------------------------------------- key tool
  const keyIn = el('input', { type: 'text', placeholder: 'key', value: 'hello', 'data-testid': 'key' });
  const valueIn = el('input', { type: 'text', placeholder: 'value (JSON or text)', value: '"world"', class: 'grow', 'data-testid': 'value' });
  const storeBtn = el('button', { class: 'primary', 'data-testid': 'store' }, ['Store']);
  const lookBtn = el('button', { 'data-testid': 'lookup' }, ['Look up']);
  const keyResult = el('div', { 'data-testid': 'key-result' });
  const parseValue = (s: string): Json => {
    try {
      return JSON.parse(s) as Json;
    } catch {
      return s;
    }
  };
  const lookup = async () => {
    const key = keyIn.value;
    keyResult.replaceChildren(el('p', { class: 'muted' }, ['Looking up…']));
    try {
      const t0 = performance.now();
      const v = await retryUnavailable(() => client.readVersioned(key));
      const value = v ?? { found: (await client.db.get(key)) !== undefined, value: await client.db.get(key), version: NaN };
      ops.read(performance.now() - t0);
      const replicas = await client.replicas(key).catch(() => null);
      picture.key = replicas ? { name: key, position: keyPosition(key), replicas } : null;
      drawRing();
      keyResult.replaceChildren(
        el('p', {}, [
          value.found ? 'Value: ' : 'Not found. ',
          value.found ? el('code', { 'data-testid': 'key-value' }, [JSON.stringify(value.value)]) : null,
          Number.isFinite(value.version) ? el('span', { class: 'muted' }, [` · version ${value.version} (majority of replicas)`]) : null,
        ]),
        replicas ? replicaTable(replicas, Number.isFinite(value.version) ? value.version : null, knownPeers(picture).size) : el('p', { class: 'muted small' }, ['This runtime does not tell where replicas are.']),
      );
    } catch (e) {
      keyResult.replaceChildren(el('p', { class: 'notice error' }, [describeError(e)]));
    }
  };
  storeBtn.onclick = async () => {
    const t0 = performance.now();
    storeBtn.disabled = true;
    try {
      const waiting = () => keyResult.replaceChildren(el('p', { class: 'muted' }, ['Waiting for the replicas of this key to answer…']));
      await retryUnavailable(() => client.db.write(keyIn.value, parseValue(valueIn.value)), waiting);
      ops.commit(performance.now() - t0);
      ops.committed++;
      await lookup();
    } catch (e) {
      if (e instanceof AbortedError) ops.aborted++;
      if (e instanceof CommitUnknownError) ops.unknown++;
      keyResult.replaceChildren(el('p', { class: 'notice error' }, [describeError(e)]));
    } finally {
      storeBtn.disabled = false;
    }
  };
  lookBtn.onclick = () => void lookup();

  // ---------------------------------------------------------------- load generator
  const loadBtn = el('button', { 'data-testid': 'load' }, ['Start load']);
  let loading = false;
  loadBtn.onclick = async () => {
    loading = !loading;
    loadBtn.textContent = loading ? 'Stop load' : 'Start load';
    // Every console increments one shared counter: transactions conflict, as real ones do.
    while (loading) {
      const t0 = performance.now();
      try {
        await client.db.transact(async (tx) => {
          const n = ((await tx.get('console:counter')) as number | undefined) ?? 0;
          tx.write('console:counter', n + 1);
        });
        ops.commit(performance.now() - t0);
        ops.committed++;
      } catch (e) {
        if (e instanceof AbortedError) ops.aborted++;
        else if (e instanceof CommitUnknownError) ops.unknown++;
        else {
          loading = false;
          loadBtn.textContent = 'Start load';
          keyResult.replaceChildren(el('p', { class: 'notice error' }, [`Load stopped: ${describeError(e)}`]));
        }
      }
    }
  };
  setInterval(() => {
    if (loading) return;
    const t0 = performance.now();
    void client.db.get('console:probe').then(() => ops.read(performance.now() - t0), () => {});
  }, probe_interval_ms);

  // ---------------------------------------------------------------- plots
  const plots = {
    msgs: new Plot('Messages per second', 'msg/s'),
    tx: new Plot('Transactions per second', 'tx/s'),
    latency: new Plot('Latency of this tab’s reads and commits (last 60 s)', 'ms'),
    items: new Plot('Stored on this peer', 'items', 'KiB'),
  };
  /** Totals since this console opened (the legend shows them next to the rates). */
  let lastCounters: Record<string, number> = {};
  const unknownTotal = { n: 0 };
  const drawPlots = () => {
    plots.msgs.draw([
      { label: 'in', colour: '#2f6fde', values: history.series('msgsIn') },
      { label: 'out', colour: '#dd6b20', values: history.series('msgsOut') },
    ]);
    const total = (k: string) => `(${(lastCounters[k] ?? 0).toLocaleString('en')} in all)`;
    plots.tx.draw([
      { label: 'committed', colour: '#1c8a4a', values: history.series('txCommitted'), note: total('tx.committed') },
      { label: 'aborted', colour: '#c53030', values: history.series('txAborted'), note: total('tx.aborted') },
      { label: 'unknown', colour: '#b7791f', values: history.series('opsUnknown'), note: `(${unknownTotal.n} in all)` },
    ]);
    plots.latency.draw([
      { label: 'read p50', colour: '#2f6fde', values: history.series('readP50') },
      { label: 'read p99', colour: '#90b4f0', values: history.series('readP99') },
      { label: 'commit p50', colour: '#805ad5', values: history.series('commitP50') },
      { label: 'commit p99', colour: '#c3a6ec', values: history.series('commitP99') },
    ]);
    plots.items.draw([
      { label: 'replica items', colour: '#1c8a4a', values: history.series('items') },
      { label: 'KiB in storage (right axis)', colour: '#5d6778', values: history.series('kib'), right: true },
    ]);
  };

  // ---------------------------------------------------------------- debug
  const debug = el('div', { class: 'debug', 'data-testid': 'debug' });
  const counterFilter = el('input', { type: 'search', placeholder: 'filter counters' });
  const drawDebug = (s: PeerStatus | null, summary: RingSummary) => {
    if (!s) {
      debug.replaceChildren(el('p', { class: 'muted' }, ['This runtime does not expose the peer’s status.']));
      return;
    }
    const ids = (xs: number[]) => (xs.length ? xs.map(shortId).join(' → ') : '—');
    const f = counterFilter.value.trim();
    const counters = Object.entries(s.counters).filter(([k]) => !f || k.includes(f));
    debug.replaceChildren(
      el('table', { class: 'data small' }, [
        row('Peer id', `${shortId(s.id)} (${s.id})`),
        row('Ring status', s.ring),
        row('Predecessor', shortId(s.pred)),
        row('Successor list', ids(s.succs)),
        row('Routing table (fingers)', ids(s.fingers)),
        row('Suspected', ids(s.suspected)),
        row('Connections', summary.connected.length ? summary.connected.map(shortId).join(', ') : '—'),
        row('Open transactions (as TM)', String(s.openTransactions)),
        row('Transactions as acceptor', String(s.acceptorTransactions)),
        row('Replica items', String(s.items)),
        row('Ranges without data / stale', `${JSON.stringify(s.emptyRanges)} / ${JSON.stringify(s.staleRanges)}`),
      ]),
      debugSection('Finger table', 'fingers', fingerTable(s)),
      debugSection('Open transactions (as TM)', 'open-txs', openTxTable(s)),
      debugSection('Latency percentiles', 'latency', latencyTable(summary)),
      debugSection('Connections', 'connections', connectionTable(s, summary)),
      el('details', {}, [
        el('summary', {}, [`Counters (${Object.keys(s.counters).length})`]),
        counterFilter,
        el('table', { class: 'data small mono' }, counters.map(([k, v]) => el('tr', {}, [el('td', {}, [k]), el('td', {}, [String(v)])]))),
      ]),
    );
  };

  main.classList.add('console');
  main.append(
    el('section', { class: 'panel ring-panel' }, [el('h2', {}, ['The ring']), ringBox, legend(), peersTable]),
    el('div', { class: 'right' }, [
      el('section', { class: 'panel' }, [
        el('h2', {}, ['Store and look up a key']),
        el('div', { class: 'row' }, [keyIn, valueIn, storeBtn, lookBtn]),
        el('p', { class: 'muted small' }, ['A key is stored on the 4 peers responsible for its 4 replica positions (symmetric replication); a read asks them all and takes the majority.']),
        keyResult,
      ]),
      el('section', { class: 'panel' }, [
        el('div', { class: 'row' }, [el('h2', { class: 'grow' }, ['Statistics']), loadBtn]),
        el('p', { class: 'muted small' }, [
          'Sampled every second from this tab’s peer. Transactions are those this peer decided as transaction manager (this tab’s own, and any it finished for a failed one); unknown are this console’s commits whose outcome did not come back. “Start load” has every console that runs it increment one shared counter, so their transactions conflict.',
        ]),
        el('div', { class: 'plots' }, Object.entries(plots).map(([name, p]) => ((p.element.dataset.testid = `plot-${name}`), p.element))),
      ]),
      el('section', { class: 'panel' }, [el('h2', {}, ['Debug']), debug]),
    ]),
  );
  counterFilter.oninput = () => void client.peerStatus().then((s) => client.summary().then((sum) => drawDebug(s, sum)));

  attachSampler(client, ops, history, (status, summary) => {
    lastCounters = status?.counters ?? {};
    unknownTotal.n = ops.unknownTotal;
    picture.status = status;
    picture.connected = summary.connected;
    drawRing();
    drawPlots();
    if (!(document.activeElement === counterFilter)) drawDebug(status, summary);
  });
  drawRing();
});

function row(label: string, value: string): HTMLElement {
  return el('tr', {}, [el('th', {}, [label]), el('td', { class: 'mono' }, [value])]);
}

function replicaTable(replicas: ReplicaInfo[], majorityVersion: number | null, ringSize: number): HTMLElement {
  const known = replicas.some((r) => r.version !== null);
  const answered = replicas.filter((r) => r.answered).length;
  const versions = new Set(replicas.filter((r) => r.answered && r.authoritative).map((r) => r.version));
  const version = (r: ReplicaInfo) => {
    if (!r.answered || r.version === null) return r.answered ? '?' : 'no answer';
    if (r.version === 0) return 'absent';
    return r.found ? String(r.version) : `${r.version} (deleted)`;
  };
  const authority = (r: ReplicaInfo) =>
    r.authority === null ? (r.answered && r.authoritative !== null ? (r.authoritative ? 'yes' : 'no') : '—') : ({ auth: 'yes', empty: 'no: no data yet', stale: 'no: unchecked since restart', other: 'no: not responsible' } as const)[r.authority];
  const behind = (r: ReplicaInfo) => majorityVersion !== null && r.version !== null && r.authoritative === true && r.version < majorityVersion;
  // Replicas are a quarter of the circle apart; a peer whose range spans more than a quarter
  // holds two of them, and its loss then takes a majority's worth of copies with it.
  const byPeer = new Map<number, number[]>();
  for (const r of replicas) if (r.peer !== null) byPeer.set(r.peer, [...(byPeer.get(r.peer) ?? []), r.slot]);
  const shared = [...byPeer].filter(([, slots]) => slots.length > 1);
  const table = el('table', { class: 'data small replicas', 'data-testid': 'replicas', 'data-answered': answered, 'data-distinct-holders': byPeer.size }, [
    el('tr', {}, ['Replica', 'Position', 'Held by', 'Version', 'Authoritative', 'Locked', 'Hops'].map((h) => el('th', {}, [h]))),
    ...replicas.map((r) =>
      el('tr', { 'data-peer': r.peer ?? '', 'data-slot': r.slot, 'data-version': r.version ?? '', 'data-authoritative': String(r.authoritative), 'data-locked': String(r.locked), class: !r.answered ? 'missing' : r.authoritative === false ? 'nonauth' : '' }, [
        el('td', {}, [String(r.slot)]),
        el('td', { class: 'mono' }, [`${((r.position / 2 ** 52) * 100).toFixed(1)}%`]),
        el('td', { class: 'mono' }, [shortId(r.peer)]),
        el('td', {}, [version(r), behind(r) ? el('span', { class: 'muted' }, [' (behind)']) : null]),
        el('td', {}, [authority(r)]),
        el('td', {}, [r.locked ? `yes${r.lockedVersion > 0 ? ` (write of version ${r.lockedVersion} pending)` : ' (read lock)'}` : 'no']),
        el('td', {}, [r.hops === null ? '—' : String(r.hops)]),
      ]),
    ),
    el('caption', { class: 'muted small' }, [
      known
        ? `${answered} of ${replicas.length} replicas answered${versions.size === 1 && answered === replicas.length ? ', all at the same version' : ''}. Each holder reports its own copy; a read takes the highest version among a majority of authoritative answers.`
        : 'Versions per replica need a runtime with the replicas diagnostic.',
    ]),
  ]);
  if (shared.length === 0) return table;
  return el('div', {}, [
    table,
    el('p', { class: 'notice info small', 'data-testid': 'replicas-shared' }, [
      shared.map(([peer, slots]) => `Replicas ${slots.slice(0, -1).join(', ')} and ${slots.at(-1)} are ${slots.length === 2 ? 'both' : 'all'} on peer ${shortId(peer)}`).join('; '),
      ringSize < replicas.length
        ? `: a ring of ${ringSize} peer${ringSize === 1 ? '' : 's'} cannot spread ${replicas.length} replicas over ${replicas.length} peers, so losing one peer loses more than one copy. Open more tabs.`
        : `: its range spans more than a quarter of the ring (its peers are unevenly spread), so losing it loses ${Math.max(...shared.map(([, s]) => s.length))} of the ${replicas.length} copies at once.`,
    ]),
  ]);
}

function debugSection(title: string, id: string, body: HTMLElement): HTMLElement {
  return el('details', { open: true, 'data-testid': `debug-${id}` }, [el('summary', {}, [title]), body]);
}

function fingerTable(s: PeerStatus): HTMLElement {
  const fingers = s.fingerTable ?? [];
  if (fingers.length === 0) return el('p', { class: 'muted small' }, ['No fingers: with this few peers the successor list reaches everyone.']);
  const pct = (x: number) => `${((x / 2 ** 52) * 100).toFixed(2)}%`;
  return el('table', { class: 'data small mono' }, [
    el('tr', {}, ['Finger', 'Start (self + 2^i)', 'Position', 'Peer'].map((h) => el('th', {}, [h]))),
    ...fingers.map((f) => el('tr', { 'data-peer': f.peer }, [el('td', {}, [`2^${f.exponent}`]), el('td', {}, [shortId(f.start)]), el('td', {}, [pct(f.start)]), el('td', {}, [shortId(f.peer)])])),
  ]);
}

function openTxTable(s: PeerStatus): HTMLElement {
  const txs = s.openTxList ?? [];
  if (txs.length === 0) return el('p', { class: 'muted small' }, ['None right now.']);
  return el('table', { class: 'data small' }, [
    el('tr', {}, ['Transaction', 'State', 'Keys', 'Age'].map((h) => el('th', {}, [h]))),
    ...txs.map((t) => el('tr', {}, [el('td', { class: 'mono' }, [t.tx]), el('td', {}, [t.state]), el('td', {}, [String(t.keys)]), el('td', {}, [formatMs(t.ageMs)])])),
    s.openTransactions > txs.length ? el('caption', { class: 'muted small' }, [`${txs.length} of ${s.openTransactions} shown`]) : null,
  ]);
}

function latencyTable(summary: RingSummary): HTMLElement {
  const l = summary.latency;
  if (!l) return el('p', { class: 'muted small' }, ['This runtime does not measure latency.']);
  const ms = (x: number | null) => (x === null ? '—' : formatMs(x));
  return el('table', { class: 'data small' }, [
    el('tr', {}, ['Operation', `Count (last ${Math.round(l.windowMs / 1000)} s)`, 'p50', 'p99', 'max'].map((h) => el('th', {}, [h]))),
    ...(['read', 'commit'] as const).map((k) => el('tr', { 'data-op': k }, [el('td', {}, [k === 'read' ? 'Reads' : 'Commits']), el('td', {}, [String(l[k].count)]), el('td', {}, [ms(l[k].p50)]), el('td', {}, [ms(l[k].p99)]), el('td', {}, [ms(l[k].max)])])),
  ]);
}

function connectionTable(s: PeerStatus, summary: RingSummary): HTMLElement {
  const links = new Map((summary.links ?? []).map((l) => [l.peer, l]));
  const rtt = new Map((s.rtt ?? []).map((r) => [r.peer, r]));
  const peers = [...new Set([...summary.connected, ...links.keys(), ...rtt.keys()])].filter((p) => p !== s.id).sort((a, b) => a - b);
  if (peers.length === 0) return el('p', { class: 'muted small' }, ['No other peer yet.']);
  return el('table', { class: 'data small' }, [
    el('tr', {}, ['Peer', 'Link', 'Messages in / out', 'Bytes in / out', 'RTT', 'Watched as'].map((h) => el('th', {}, [h]))),
    ...peers.map((p) => {
      const l = links.get(p);
      const r = rtt.get(p);
      const up = summary.connected.includes(p);
      return el('tr', { 'data-peer': p }, [
        el('td', { class: 'mono' }, [shortId(p)]),
        el('td', {}, [up ? 'open' : 'closed']),
        el('td', {}, [l ? `${l.messagesIn} / ${l.messagesOut}` : '—']),
        el('td', {}, [l ? `${formatBytes(l.bytesIn)} / ${formatBytes(l.bytesOut)}` : '—']),
        el('td', {}, [r ? `${formatMs(r.srttMs)} ± ${formatMs(r.rttvarMs)}` : '—']),
        el('td', {}, [r ? r.reasons.join(', ') : '—']),
      ]);
    }),
  ]);
}
