import { AbortedError, CommitUnknownError, type Json } from '../../src/api/index.ts';
import { keyPosition } from '../../src/core/hash.ts';
import type { DemoClient, PeerStatus, ReplicaInfo, RingSummary } from '../shared/client.ts';
import { el } from '../shared/dom.ts';
import { describeError } from '../shared/errors.ts';
import { shortId } from '../shared/format.ts';
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
      const replicas = await client.replicas(key);
      picture.key = replicas ? { name: key, position: keyPosition(key), replicas } : null;
      drawRing();
      keyResult.replaceChildren(
        el('p', {}, [
          value.found ? 'Value: ' : 'Not found. ',
          value.found ? el('code', { 'data-testid': 'key-value' }, [JSON.stringify(value.value)]) : null,
          Number.isFinite(value.version) ? el('span', { class: 'muted' }, [` · version ${value.version} (majority of replicas)`]) : null,
        ]),
        replicas ? replicaTable(replicas) : el('p', { class: 'muted small' }, ['This runtime does not tell where replicas are.']),
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
    latency: new Plot('Latency of this console’s operations', 'ms'),
    items: new Plot('Stored here', ''),
  };
  const drawPlots = () => {
    plots.msgs.draw([
      { label: 'in', colour: '#2f6fde', values: history.series('msgsIn') },
      { label: 'out', colour: '#dd6b20', values: history.series('msgsOut') },
    ]);
    plots.tx.draw([
      { label: 'committed (as TM)', colour: '#1c8a4a', values: history.series('txCommitted') },
      { label: 'aborted (as TM)', colour: '#c53030', values: history.series('txAborted') },
      { label: 'unknown (console)', colour: '#b7791f', values: history.series('opsUnknown') },
    ]);
    plots.latency.draw([
      { label: 'read', colour: '#2f6fde', values: history.series('readMs') },
      { label: 'commit', colour: '#805ad5', values: history.series('commitMs') },
    ]);
    plots.items.draw([
      { label: 'items', colour: '#1c8a4a', values: history.series('items') },
      { label: 'KiB', colour: '#5d6778', values: history.series('kib') },
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
      el('section', { class: 'panel' }, [el('div', { class: 'row' }, [el('h2', { class: 'grow' }, ['Statistics']), loadBtn]), el('div', { class: 'plots' }, Object.values(plots).map((p) => p.element))]),
      el('section', { class: 'panel' }, [el('h2', {}, ['Debug']), debug]),
    ]),
  );
  counterFilter.oninput = () => void client.peerStatus().then((s) => client.summary().then((sum) => drawDebug(s, sum)));

  attachSampler(client, ops, history, (status, summary) => {
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

function replicaTable(replicas: ReplicaInfo[]): HTMLElement {
  const known = replicas.some((r) => r.version !== null);
  return el('table', { class: 'data small', 'data-testid': 'replicas' }, [
    el('tr', {}, ['Replica', 'Position', 'Held by', 'Version', 'Hops'].map((h) => el('th', {}, [h]))),
    ...replicas.map((r) =>
      el('tr', { 'data-peer': r.peer ?? '' }, [
        el('td', {}, [String(r.slot)]),
        el('td', { class: 'mono' }, [`${((r.position / 2 ** 52) * 100).toFixed(1)}%`]),
        el('td', { class: 'mono' }, [shortId(r.peer)]),
        el('td', {}, [r.version === null ? '?' : r.found ? String(r.version) : r.version > 0 ? `${r.version} (deleted)` : 'absent', r.authoritative === false ? ' (not authoritative)' : '']),
        el('td', {}, [r.hops === null ? '—' : String(r.hops)]),
      ]),
    ),
    known ? null : el('caption', { class: 'muted small' }, ['Versions per replica need a protocol operation this runtime does not have yet.']),
  ]);
}

