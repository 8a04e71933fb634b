// aic dashboard's page script: fetches the job directory's files through
// `aic dashboard` (/api/FILE?from=OFFSET, the next offset in X-Aic-Next),
// keeps what it needs of them, and draws the page with plain DOM and SVG
// (no library, nothing fetched from elsewhere). While the job runs it asks
// again every second for what was appended since; once it has ended it
// stops. doc/design/observe.md says what events.jsonl holds.
"use strict";

const KEY = new URLSearchParams(location.search).get("key");
const ENDED = new Set(["succeeded", "failed", "stopped", "cancelled", "checkpointed"]);
const COLORS = ["#2b6cb0", "#c05621", "#2f855a", "#805ad5", "#b83280", "#2c7a7b", "#744210", "#4a5568"];

const job = {
  status: null, summary: null,
  placed: null,            // the latest "placed" event: nodes, GPUs, procs, channels, streams
  events: [],              // start, exit, restart, node_lost, end, in time order
  t0: null,                // the first event's time
  chans: {},               // channel -> {last: {rank: sample}, backlog: [[t, queued]], rate: [[t, acked/s]]}
  weights: {},             // stream -> {last: {rank: version}, series: [[t, version]]}
  metrics: {},             // "stage/name" -> {index: [[step or t, value]]}
  gpus: {},                // "node/gpu" -> its latest "gpu" event (NVML)
  ran: {},                 // "stage/index" -> seconds run in ended runs
  started: {},             // "stage/index" -> start time of its current run
  offsets: {"events.jsonl": 0, "metrics.jsonl": 0},
};

function api(file, from) {
  let url = "api/" + file + "?from=" + (from || 0);
  if (KEY) url += "&key=" + encodeURIComponent(KEY);
  return fetch(url, {cache: "no-store"}).then(r => {
    if (!r.ok) throw new Error(file + ": HTTP " + r.status);
    return r.text().then(text => ({text, next: Number(r.headers.get("X-Aic-Next") || 0)}));
  });
}

function lines(text) {
  const out = [];
  for (const l of text.split("\n")) {
    if (!l) continue;
    try { out.push(JSON.parse(l)); } catch (e) { /* a line cut short: skipped */ }
  }
  return out;
}

function procName(e) { return e.stage + "/" + e.index; }

function takeEvent(e) {
  if (job.t0 === null || e.t < job.t0) job.t0 = e.t;
  switch (e.ev) {
  case "placed":
    job.placed = e;
    job.events.push(e);
    break;
  case "start":
    job.started[procName(e)] = e.t;
    job.events.push(e);
    break;
  case "exit": {
    const k = procName(e);
    if (job.started[k] !== undefined) {
      job.ran[k] = (job.ran[k] || 0) + (e.t - job.started[k]);
      delete job.started[k];
    }
    job.events.push(e);
    break;
  }
  case "restart": case "node_lost": case "end":
    job.events.push(e);
    break;
  case "gpu":
    job.gpus[e.node + "/" + e.gpu] = e;
    break;
  case "chan": {
    const c = job.chans[e.chan] || (job.chans[e.chan] = {last: {}, backlog: [], rate: []});
    const prev = c.last[e.rank];
    c.last[e.rank] = e;
    let queued = 0;
    for (const r in c.last) queued += c.last[r].queued;
    c.backlog.push([e.t, queued]);
    if (prev && e.t > prev.t) c.rate.push([e.t, (e.acked - prev.acked) / (e.t - prev.t)]);
    break;
  }
  case "weights": {
    const w = job.weights[e.stream] || (job.weights[e.stream] = {last: {}, series: []});
    w.last[e.rank] = e.version;
    w.series.push([e.t, Math.max(...Object.values(w.last))]);
    break;
  }
  }
}

function takeMetric(p) {
  if (typeof p.value !== "number") return;
  const k = p.stage + "/" + p.name;
  const m = job.metrics[k] || (job.metrics[k] = {});
  (m[p.index] || (m[p.index] = [])).push([p.step === null || p.step === undefined ? p.t : p.step, p.value]);
}

// --- drawing ---------------------------------------------------------------

function el(tag, attrs, ...kids) {
  const svg = ["svg", "path", "line", "text", "circle", "g", "rect", "polyline"].includes(tag);
  const n = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const k in attrs || {}) n.setAttribute(k, attrs[k]);
  for (const kid of kids) n.append(kid);
  return n;
}

function fmt(v) {
  if (!isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 1e6 ? (v / 1e6).toFixed(1) + "M" : a >= 1e4 ? (v / 1e3).toFixed(0) + "k"
    : Number.isInteger(v) ? String(v) : v.toPrecision(3);
}

// An SVG line chart of series [{name, points: [[x, y]]}]; its element says
// what it shows (data-chart) and how many points it drew (data-points).
function chart(id, title, series, xlabel) {
  const W = 420, H = 190, L = 48, R = 10, T = 22, B = 30;
  const all = series.flatMap(s => s.points);
  const svg = el("svg", {class: "chart", width: W, height: H, "data-chart": id, "data-points": all.length,
                         viewBox: `0 0 ${W} ${H}`, role: "img"});
  svg.append(el("text", {x: L, y: 14, class: "title"}, title));
  if (!all.length) {
    svg.append(el("text", {x: L, y: H / 2, class: "empty"}, "no points yet"));
    return svg;
  }
  let [x0, x1] = [Math.min(...all.map(p => p[0])), Math.max(...all.map(p => p[0]))];
  let [y0, y1] = [Math.min(0, ...all.map(p => p[1])), Math.max(...all.map(p => p[1]))];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  const X = x => L + (x - x0) / (x1 - x0) * (W - L - R), Y = y => H - B - (y - y0) / (y1 - y0) * (H - T - B);
  svg.append(el("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis"}),
             el("line", {x1: L, y1: T, x2: L, y2: H - B, class: "axis"}),
             el("text", {x: L - 4, y: Y(y1) + 4, "text-anchor": "end"}, fmt(y1)),
             el("text", {x: L - 4, y: Y(y0) + 4, "text-anchor": "end"}, fmt(y0)),
             el("text", {x: L, y: H - B + 14}, fmt(x0)),
             el("text", {x: W - R, y: H - B + 14, "text-anchor": "end"}, fmt(x1)),
             el("text", {x: (L + W) / 2, y: H - 4, "text-anchor": "middle"}, xlabel));
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    s.points = s.points.slice().sort((a, b) => a[0] - b[0]);
    const g = el("g", {"data-series": s.name, "data-points": s.points.length});
    g.append(el("polyline", {class: "line", stroke: color,
                             points: s.points.map(p => X(p[0]).toFixed(1) + "," + Y(p[1]).toFixed(1)).join(" ")}));
    if (s.points.length <= 300)
      for (const p of s.points) g.append(el("circle", {cx: X(p[0]).toFixed(1), cy: Y(p[1]).toFixed(1), r: 1.8, fill: color}));
    if (series.length > 1) g.append(el("text", {x: W - R - 70, y: T + 12 * i, fill: color}, s.name));
    svg.append(g);
  });
  return svg;
}

function since(t) { return job.t0 === null ? 0 : t - job.t0; }

// " · 37% · 12.5 GiB" when NVML said how the GPU is used.
function use(node, gpu) {
  const u = job.gpus[node + "/" + gpu];
  return u ? ` · ${u.util}% · ${(u.mem_used / 2 ** 30).toFixed(1)} GiB` : "";
}

function drawNodes() {
  const box = document.getElementById("nodes");
  box.replaceChildren();
  if (!job.placed) { box.append(el("p", {class: "empty"}, "not placed yet")); return; }
  const procs = (job.status && job.status.procs) || [];
  const lost = new Set(((job.status && job.status.lost_nodes) || []).map(n => n.node));
  for (const n of job.placed.nodes) {
    const node = el("div", {class: "node" + (lost.has(n.node) ? " lost" : ""), "data-node": n.node},
                    el("h3", {}, n.node + (lost.has(n.node) ? " (lost)" : "")));
    const info = n.gpu_info && n.gpu_info.length ? n.gpu_info : n.gpus.map(g => ({gpu: g, numa: -1}));
    const byNuma = {};
    for (const g of info) (byNuma[g.numa] || (byNuma[g.numa] = [])).push(g);
    const cell = {};
    for (const numa of Object.keys(byNuma).sort((a, b) => a - b)) {
      const group = el("div", {class: "numa", "data-numa": numa},
                       el("span", {class: "label"}, numa >= 0 ? "NUMA " + numa : "NUMA ?"));
      for (const g of byNuma[numa]) {
        const gpu = el("div", {class: "gpu" + (g.nvswitch ? " nvswitch" : ""), "data-gpu": g.gpu,
                               title: g.model || ""},
                       el("span", {class: "label"}, "GPU " + g.gpu + (g.nvswitch ? " · NVSwitch" : "") + use(n.node, g.gpu)));
        cell[g.gpu] = gpu;
        group.append(gpu);
      }
      node.append(group);
    }
    const cpu = el("div", {class: "gpu cpu", "data-gpu": "cpu"}, el("span", {class: "label"}, "no GPU"));
    for (const p of procs.filter(p => p.node === n.node)) {
      const where = p.gpus.length ? p.gpus : ["cpu"];
      for (const g of where) {
        const chip = el("span", {class: "proc", "data-proc": p.stage + "/" + p.index, "data-state": p.state,
                                 title: `${p.kind} ${p.index} of ${p.stage}: ${p.state}, pid ${p.pid}, ${p.restarts} restarts`},
                        p.stage + "/" + p.index);
        (g === "cpu" ? cpu : (cell[g] || cpu)).append(chip);
      }
    }
    if (cpu.childElementCount > 1) node.append(cpu);
    box.append(node);
  }
  const legend = document.getElementById("legend");
  legend.replaceChildren(...["running", "starting", "done", "failed", "stopping"].map(
    s => el("span", {class: "proc", "data-state": s}, s)));
}

function drawStages() {
  const table = document.getElementById("stages");
  const procs = (job.status && job.status.procs) || [];
  const wall = job.status ? job.status.uptime_s : 0;
  const now = job.events.length ? job.events[job.events.length - 1].t : 0;
  table.replaceChildren(el("tr", {}, ...["stage", "kind", "processes", "running", "restarts", "busy"].map(h => el("th", {}, h))));
  const stages = [...new Set(procs.map(p => p.stage))];
  for (const s of stages) {
    const ps = procs.filter(p => p.stage === s);
    let ran = 0;
    for (const p of ps) {
      const k = s + "/" + p.index;
      ran += (job.ran[k] || 0) + (job.started[k] !== undefined && ENDED.has(job.status.state) === false ? Math.max(0, now - job.started[k]) : 0);
    }
    const restarts = ps[0].kind === "rank" ? ps[0].restarts : ps.reduce((a, p) => a + p.restarts, 0);
    const busy = wall > 0 ? Math.min(1, ran / (wall * ps.length)) : 0;
    table.append(el("tr", {"data-stage": s}, el("td", {}, s), el("td", {}, ps[0].kind + "s"),
                    el("td", {class: "num"}, String(ps.length)),
                    el("td", {class: "num"}, String(ps.filter(p => p.state === "running").length)),
                    el("td", {class: "num"}, String(restarts)),
                    el("td", {class: "num"}, (100 * busy).toFixed(0) + "%")));
  }
}

function drawChannels() {
  const box = document.getElementById("channels");
  box.replaceChildren();
  const names = job.placed ? job.placed.channels : Object.keys(job.chans);
  for (const name of names) {
    const c = job.chans[name] || {backlog: [], rate: [], last: {}};
    box.append(chart("backlog " + name, `${name}: backlog (items waiting)`,
                     [{name: "backlog", points: c.backlog.map(p => [since(p[0]), p[1]])}], "seconds"));
    box.append(chart("throughput " + name, `${name}: throughput (acked/s)`,
                     [{name: "acked/s", points: c.rate.map(p => [since(p[0]), p[1]])}], "seconds"));
  }
  if (!names.length) box.append(el("p", {class: "empty"}, "no channels"));
}

function drawWeights() {
  const box = document.getElementById("weights");
  box.replaceChildren();
  const names = job.placed ? job.placed.weights : Object.keys(job.weights);
  let stale = 0;
  for (const c of Object.values(job.chans)) for (const r in c.last) stale += c.last[r].stale || 0;
  for (const name of names) {
    const w = job.weights[name] || {series: []};
    box.append(chart("weights " + name, `${name}: version (stale items dropped: ${stale})`,
                     [{name: "version", points: w.series.map(p => [since(p[0]), p[1]])}], "seconds"));
  }
  if (!names.length) box.append(el("p", {class: "empty"}, "no weight streams"));
}

function drawMetrics() {
  const box = document.getElementById("metrics");
  box.replaceChildren();
  for (const k of Object.keys(job.metrics).sort()) {
    const m = job.metrics[k];
    const series = Object.keys(m).sort((a, b) => a - b).map(i => ({name: k.split("/")[0] + "/" + i, points: m[i]}));
    box.append(chart(k, k, series, "step"));
  }
  if (!box.childElementCount) box.append(el("p", {class: "empty"}, "no worker metrics (w.metric) yet"));
}

function describe(e) {
  switch (e.ev) {
  case "placed": return `placed: ${e.procs.length} processes on ${e.nodes.length} node${e.nodes.length === 1 ? "" : "s"}` + (e.run ? ` (run ${e.run})` : "");
  case "start": return `${procName(e)} started on ${e.node}` + (e.gpus.length ? ` GPU ${e.gpus.join(",")}` : "") + `, pid ${e.pid}`;
  case "exit": return `${procName(e)} exited with status ${e.status}` + (e.status < 0 ? " (killed by signal " + -e.status + ")" : "");
  case "restart": return `${procName(e)} restarted (restart ${e.restarts})`;
  case "node_lost": return `node ${e.node} lost: ${e.why}`;
  case "end": return `job ${e.state}: ${e.reason}`;
  }
  return e.ev;
}

function drawEvents() {
  const list = document.getElementById("events");
  list.replaceChildren(...job.events.slice(-500).reverse().map(e =>
    el("li", {"data-ev": e.ev, "data-proc": e.stage ? procName(e) : "",
              class: e.ev === "exit" && e.status !== 0 ? "bad" : ""},
       `+${since(e.t).toFixed(2)} s  ${describe(e)}`)));
}

function drawHeader() {
  const s = job.status || {};
  document.getElementById("job").textContent = "aic: " + (s.job || "?");
  const state = document.getElementById("state");
  state.textContent = s.state || "?";
  state.className = "badge " + (s.state || "");
  document.getElementById("uptime").textContent = s.uptime_s !== undefined ? `up ${s.uptime_s.toFixed(1)} s` : "";
  document.getElementById("live").textContent = ENDED.has(s.state) ? "(ended)" : "(live)";
  document.title = `aic: ${s.job || "?"} ${s.state || ""}`;
}

function draw() {
  drawHeader(); drawNodes(); drawStages(); drawChannels(); drawWeights(); drawMetrics(); drawEvents();
}

async function refresh() {
  const st = await api("status.json");
  if (st.text) job.status = JSON.parse(st.text);
  for (const file of ["events.jsonl", "metrics.jsonl"]) {
    // A file longer than one answer comes in several.
    for (;;) {
      const r = await api(file, job.offsets[file]);
      if (!r.text) break;
      job.offsets[file] = r.next;
      const got = lines(r.text);
      if (file === "events.jsonl") {
        got.sort((a, b) => a.t - b.t);
        got.forEach(takeEvent);
        job.events.sort((a, b) => a.t - b.t);
      } else {
        got.forEach(takeMetric);
      }
    }
  }
  draw();
  return job.status && ENDED.has(job.status.state);
}

async function loop() {
  let ended = false;
  try {
    ended = await refresh();
  } catch (e) {
    document.getElementById("live").textContent = "(" + e.message + ")";
  }
  document.body.dataset.ready = "1";
  if (!ended) setTimeout(loop, 1000);
  else document.body.dataset.ended = "1";
}

loop();
