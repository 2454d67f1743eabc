import { h, render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { readEvents } from './sse.js';
import { TimeChart, formatNumber } from './charts.js';

const html = htm.bind(h);
const TOKEN_KEY = 'ks-token';
/** Seconds of history the charts keep. */
const WINDOW_S = 300;

function authHeaders(token) {
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function getJson(path, token) {
  const response = await fetch(path, { headers: authHeaders(token), cache: 'no-store' });
  if (!response.ok) {
    const error = new Error(`HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

function bytes(n) {
  if (n == null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

function ago(ms) {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** The time series the charts draw, fed one snapshot at a time. */
class Series {
  constructor() {
    this.times = [];
    this.queues = new Map(); // queue -> values
    this.finished = [];
    this.moved = new Map(); // "from → to" -> bytes/s
    this.lastFinished = undefined;
    this.lastMoved = new Map();
    this.lastTime = undefined;
  }

  add(snapshot) {
    const t = snapshot.time / 1000;
    if (this.lastTime !== undefined && t <= this.lastTime) return;
    const dt = this.lastTime === undefined ? 1 : t - this.lastTime;
    const i = this.times.length;
    this.times.push(t);
    for (const name of Object.keys(snapshot.queues)) {
      if (!this.queues.has(name)) this.queues.set(name, new Array(i).fill(null));
    }
    for (const [name, values] of this.queues) values.push(snapshot.queues[name] ?? 0);
    const live = snapshot.nodes.filter((n) => n.view);
    const finished = live.reduce((sum, n) => sum + n.view.ok + n.view.failed, 0);
    this.finished.push(this.lastFinished === undefined ? 0 : Math.max(0, finished - this.lastFinished) / dt);
    this.lastFinished = finished;
    const moved = new Map();
    for (const n of live) for (const c of n.view.copied) moved.set(`${c.from} → ${c.to}`, c.bytes);
    for (const key of moved.keys()) if (!this.moved.has(key)) this.moved.set(key, new Array(i).fill(null));
    for (const [key, values] of this.moved) {
      const now = moved.get(key);
      // A pair first seen after the page opened moved all its bytes since the last snapshot.
      const before = this.lastMoved.get(key) ?? (this.lastTime === undefined ? now : 0);
      values.push(now === undefined ? 0 : Math.max(0, now - before) / dt);
    }
    this.lastMoved = moved;
    this.lastTime = t;
    while (this.times.length > 0 && this.times[0] < t - WINDOW_S) {
      this.times.shift();
      this.finished.shift();
      for (const values of this.queues.values()) values.shift();
      for (const values of this.moved.values()) values.shift();
    }
  }
}

function Login({ onToken, problem }) {
  const input = useRef(null);
  const submit = (event) => {
    event.preventDefault();
    onToken(input.current.value);
  };
  return html`<section class="login">
    <h2>This cluster needs its token</h2>
    <p class="muted">The token is kept in this tab only (sessionStorage) and sent as a bearer header.</p>
    <form id="token-form" onSubmit=${submit}>
      <input id="token" type="password" ref=${input} placeholder="token" autocomplete="off" />
      <button type="submit">Open</button>
    </form>
    ${problem && html`<p class="error" id="token-error">${problem}</p>`}
  </section>`;
}

function Nodes({ nodes }) {
  return html`<section class="wide" id="nodes">
    <h2>Nodes <span class="muted">${nodes.filter((n) => n.live).length} live, ${nodes.filter((n) => !n.live).length} dead</span></h2>
    <table>
      <thead><tr><th>node</th><th>state</th><th>threads busy/free</th><th>running</th><th>completed</th><th>failed</th><th>RSS</th><th>CPU</th><th>disk free</th><th>data on disk</th><th title="the memory tier's use of its --memory-cache budget">data in memory</th><th>heartbeat</th></tr></thead>
      <tbody>${nodes.map((n) => {
        const v = n.view;
        return html`<tr class=${`node ${n.live ? 'live' : 'dead'}`} data-node=${n.name} key=${n.name}>
          <td title=${n.url}>${n.name}</td>
          <td class="state" title=${n.error ?? ''}>${n.live ? 'live' : 'dead'}</td>
          <td>${v ? `${v.busy}/${v.threads - v.busy}` : '-'}</td>
          <td>${v ? v.active : '-'}</td>
          <td>${v ? v.ok : '-'}</td>
          <td>${v ? v.failed : '-'}</td>
          <td>${v ? bytes(v.rssBytes) : '-'}</td>
          <td>${v ? `${v.cpuPercent}%` : '-'}</td>
          <td>${v ? bytes(v.diskFreeBytes) : '-'}</td>
          <td>${v ? `${v.data.urls} url(s), ${bytes(v.data.bytes)}` : '-'}</td>
          <td class="memory" title=${v?.data.memory ? `${v.data.memory.pinned.urls} pinned; budget ${bytes(v.data.memory.limit)}` : ''}>${v?.data.memory ? `${v.data.memory.bytes.urls} url(s), ${bytes(v.data.memory.used)}` : '-'}</td>
          <td>${n.heartbeatAgeMs !== undefined && n.live ? ago(n.heartbeatAgeMs) : n.error ?? '-'}</td>
        </tr>`;
      })}</tbody>
    </table>
  </section>`;
}

function Queues({ snapshot, series }) {
  const queues = [...series.queues.entries()].map(([label, values]) => ({ label, values }));
  return html`<section id="queues">
    <h2>Queues</h2>
    <table>
      <thead><tr><th>queue</th><th>waiting</th></tr></thead>
      <tbody>${Object.entries(snapshot.queues).map(([name, n]) => html`<tr class="queue" data-queue=${name} key=${name}><td>${name}</td><td class="waiting">${n}</td></tr>`)}</tbody>
    </table>
    <div class="charts">
      ${queues.length > 0 && html`<${TimeChart} title="waiting jobs" times=${series.times} series=${queues} />`}
      <${TimeChart} title="finished jobs/s" times=${series.times} series=${[{ label: 'jobs/s', values: series.finished }]} />
    </div>
  </section>`;
}

function Running({ nodes, now }) {
  const jobs = nodes.flatMap((n) => (n.view ? n.view.running.map((j) => ({ ...j, node: n.name })) : []));
  return html`<section class="wide" id="running">
    <h2>Running jobs <span class="muted">${jobs.length}</span></h2>
    ${jobs.length === 0 ? html`<p class="muted">none</p>` : html`<table>
      <thead><tr><th>job</th><th>function</th><th>node</th><th>queue</th><th>elapsed</th></tr></thead>
      <tbody>${jobs.slice(0, 100).map((j) => html`<tr key=${j.id}><td>${j.id}</td><td>${j.fn}</td><td>${j.node}</td><td>${j.queue}</td><td>${ago(Math.max(0, now - j.started))}</td></tr>`)}</tbody>
    </table>`}
  </section>`;
}

function Failures({ token, tick }) {
  const [search, setSearch] = useState('');
  const [jobs, setJobs] = useState([]);
  const [selected, setSelected] = useState(null);
  useEffect(() => {
    const params = new URLSearchParams({ failed: 'true', limit: '50' });
    if (search) params.set('search', search);
    getJson(`/rpc/jobs?${params}`, token).then((r) => setJobs(r.jobs), () => undefined);
  }, [search, tick]);
  const job = selected && jobs.find((j) => j.id === selected);
  return html`<section class="wide" id="failures">
    <h2>Recent failures</h2>
    <input id="failure-search" type="search" placeholder="search id, function, error, stack, output" value=${search} onInput=${(e) => setSearch(e.target.value)} />
    <table>
      <thead><tr><th>ended</th><th>job</th><th>function</th><th>node</th><th>queue</th><th>error</th></tr></thead>
      <tbody>${jobs.map((j) => html`<tr class=${`failure ${j.id === selected ? 'selected' : ''}`} data-id=${j.id} key=${j.id} onClick=${() => setSelected(j.id)}>
        <td>${new Date(j.ended).toLocaleTimeString()}</td><td>${j.id}</td><td>${j.fn}</td><td>${j.node}</td><td>${j.queue}</td>
        <td>${j.outcome}: ${j.error ? `${j.error.name}: ${j.error.message}`.slice(0, 80) : ''}</td></tr>`)}</tbody>
    </table>
    ${job && html`<div id="failure-detail">
      <h2>${job.id} <span class="muted">${job.fn} on ${job.node}</span></h2>
      <pre class="stack">${job.error?.stack ?? `${job.error?.name}: ${job.error?.message}`}</pre>
      <h2>Output <span class="muted">(last ${job.output.length} of ${job.outputChars} characters)</span></h2>
      <pre class="output">${job.output || '(no output)'}</pre>
    </div>`}
  </section>`;
}

function Data({ token, tick, series }) {
  const [glob, setGlob] = useState('**');
  const [catalog, setCatalog] = useState({ total: 0, data: [] });
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    getJson(`/ui/api/data?glob=${encodeURIComponent(glob || '**')}`, token).then((r) => { setCatalog(r); setProblem(null); }, (e) => setProblem(e.message));
  }, [glob, Math.floor(tick / 3)]);
  const moved = [...series.moved.entries()].map(([label, values]) => ({ label, values }));
  return html`<section id="data">
    <h2>Data <span class="muted">${catalog.total} url(s)</span></h2>
    <input id="data-search" type="search" placeholder="glob, e.g. data/*.csv" value=${glob} onInput=${(e) => setGlob(e.target.value)} />
    ${problem && html`<span class="error"> ${problem}</span>`}
    <table>
      <thead><tr><th>url</th><th>size</th><th>holders</th></tr></thead>
      <tbody>${catalog.data.map((d) => html`<tr class="data-url" data-url=${d.url} key=${d.url}><td>${d.url}</td><td>${bytes(d.size)}</td><td class="holders">${d.holders.join(', ')}</td></tr>`)}</tbody>
    </table>
    <${TimeChart} title="bytes moved between nodes /s" times=${series.times} series=${moved.length > 0 ? moved : [{ label: 'none yet', values: series.times.map(() => 0) }]} unit="B" />
  </section>`;
}

function App() {
  const [token, setToken] = useState(() => sessionStorage.getItem(TOKEN_KEY) ?? '');
  const [auth, setAuth] = useState('checking'); // checking | needed | ok
  const [problem, setProblem] = useState(null);
  const [snapshot, setSnapshot] = useState(null);
  const [connected, setConnected] = useState(false);
  const [tick, setTick] = useState(0);
  const series = useRef(new Series());
  const seen = useRef(new Map()); // every node seen: one that vanishes stays listed, dead

  const onToken = useCallback((value) => {
    sessionStorage.setItem(TOKEN_KEY, value);
    setToken(value);
    setAuth('checking');
  }, []);

  useEffect(() => {
    if (auth !== 'checking') return;
    getJson('/ui/api/snapshot', token).then(
      () => setAuth('ok'),
      (error) => {
        if (error.status === 401) {
          if (token) setProblem('that token was refused');
          sessionStorage.removeItem(TOKEN_KEY);
          setAuth('needed');
        } else {
          setProblem(`the node does not answer: ${error.message}`);
          setTimeout(() => setAuth('checking'), 2000);
        }
      },
    );
  }, [auth, token]);

  useEffect(() => {
    if (auth !== 'ok') return;
    const abort = new AbortController();
    let stopped = false;
    const connect = async () => {
      while (!stopped) {
        try {
          await readEvents('/ui/api/stream', authHeaders(token), abort.signal, (name, data) => {
            if (name !== 'snapshot') return;
            setConnected(true);
            series.current.add(data);
            for (const node of data.nodes) seen.current.set(node.name, node);
            const listed = new Set(data.nodes.map((n) => n.name));
            for (const [name, node] of seen.current) {
              if (!listed.has(name)) seen.current.set(name, { ...node, live: false, view: undefined, error: 'gone from the cluster' });
            }
            setSnapshot({ ...data, nodes: [...seen.current.values()].sort((a, b) => a.name.localeCompare(b.name)) });
            setTick((t) => t + 1);
          });
        } catch (error) {
          if (error.status === 401) {
            setAuth('needed');
            return;
          }
        }
        setConnected(false);
        if (!stopped) await new Promise((r) => setTimeout(r, 1000));
      }
    };
    void connect();
    return () => {
      stopped = true;
      abort.abort();
    };
  }, [auth, token]);

  if (auth === 'needed') return html`<${Login} onToken=${onToken} problem=${problem} />`;
  if (auth === 'checking' || !snapshot) return html`<p class="muted" style="padding:1rem">${problem ?? 'connecting…'}</p>`;
  return html`
    <header>
      <h1>kitchensink</h1>
      <span>${snapshot.nodes.filter((n) => n.live).length} live node(s)</span>
      <span>history: ${formatNumber(snapshot.history.entries)} job(s), ${bytes(snapshot.history.bytes)}</span>
      <span class="status" id="connection">${connected ? `live from ${snapshot.from}` : 'reconnecting…'}</span>
    </header>
    <main>
      <${Nodes} nodes=${snapshot.nodes} />
      <${Queues} snapshot=${snapshot} series=${series.current} />
      <${Data} token=${token} tick=${tick} series=${series.current} />
      <${Failures} token=${token} tick=${Math.floor(tick / 2)} />
      <${Running} nodes=${snapshot.nodes} now=${snapshot.time} />
    </main>`;
}

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
