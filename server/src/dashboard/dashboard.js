// OrderFlow's built-in dashboard. The server samples its own /metrics once
// a second and keeps three minutes (/dashboard/history); this page loads
// that history, then polls for newer samples every second, and draws each
// panel as an SVG line chart. Times are the server's, so opening the page
// mid-incident shows the minutes before. No library, nothing loaded from
// elsewhere.
"use strict";

const HISTORY = 180; // scrapes kept (three minutes at one per second)
const COLORS = ["#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#5d4037", "#ad1457"];
const snapshots = []; // [{t: seconds, samples: Map(key -> value)}]

// One sample line of the Prometheus text format: name{labels} value.
function parse(text) {
  const samples = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    if (m[3]) {
      for (const pair of m[3].match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) || []) {
        const eq = pair.indexOf("=");
        labels[pair.slice(0, eq)] = pair.slice(eq + 2, -1);
      }
    }
    samples.set(m[1] + JSON.stringify(labels), { name: m[1], labels, value: parseFloat(m[4]) });
  }
  return samples;
}

// Per-second increase of every series matching `name` (and `filter`),
// summed by the `by` label, between consecutive snapshots.
function rates(name, by, filter) {
  const out = new Map();
  for (let i = 1; i < snapshots.length; i++) {
    const a = snapshots[i - 1], b = snapshots[i];
    const dt = b.t - a.t;
    if (dt <= 0) continue;
    const sums = new Map();
    for (const s of b.samples.values()) {
      if (s.name !== name || (filter && !filter(s.labels))) continue;
      const before = a.samples.get(s.name + JSON.stringify(s.labels));
      // A series absent from the previous sample was created since: all of
      // its count is new.
      const inc = before ? Math.max(0, s.value - before.value) : s.value;
      const key = by ? by(s.labels) : "all";
      sums.set(key, (sums.get(key) || 0) + inc / dt);
    }
    for (const [key, v] of sums) {
      if (!out.has(key)) out.set(key, new Array(snapshots.length).fill(null));
      out.get(key)[i] = v;
    }
  }
  return out;
}

// A gauge's value over time, summed by `by`.
function gauge(name, by) {
  const out = new Map();
  snapshots.forEach((snap, i) => {
    for (const s of snap.samples.values()) {
      if (s.name !== name) continue;
      const key = by ? by(s.labels) : name;
      if (!out.has(key)) out.set(key, new Array(snapshots.length).fill(null));
      out.get(key)[i] = (out.get(key)[i] || 0) + s.value;
    }
  });
  return out;
}

// Quantile q of the request-duration histogram per route, from the bucket
// increases between consecutive snapshots (linear within a bucket, as
// Prometheus' histogram_quantile does).
function quantiles(q) {
  const out = new Map();
  for (let i = 1; i < snapshots.length; i++) {
    const a = snapshots[i - 1], b = snapshots[i];
    const perRoute = new Map();
    for (const s of b.samples.values()) {
      if (s.name !== "http_server_request_duration_seconds_bucket") continue;
      const before = a.samples.get(s.name + JSON.stringify(s.labels));
      // A series absent from the previous sample was created since: all of
      // its count is new.
      const inc = before ? Math.max(0, s.value - before.value) : s.value;
      const route = s.labels.http_route;
      const le = s.labels.le === "+Inf" ? Infinity : parseFloat(s.labels.le);
      if (!perRoute.has(route)) perRoute.set(route, new Map());
      const buckets = perRoute.get(route);
      buckets.set(le, (buckets.get(le) || 0) + inc);
    }
    for (const [route, buckets] of perRoute) {
      const sorted = [...buckets.entries()].sort((x, y) => x[0] - y[0]);
      const total = sorted.length ? sorted[sorted.length - 1][1] : 0;
      if (total <= 0) continue;
      const rank = q * total;
      let lower = 0, below = 0, value = null;
      for (const [le, count] of sorted) {
        if (count >= rank) {
          const upper = le === Infinity ? lower : le;
          const inBucket = count - below;
          value = inBucket > 0 ? lower + (upper - lower) * (rank - below) / inBucket : upper;
          break;
        }
        lower = le; below = count;
      }
      if (value === null) continue;
      const key = route;
      if (!out.has(key)) out.set(key, new Array(snapshots.length).fill(null));
      out.get(key)[i] = value * 1000;
    }
  }
  return out;
}

function draw(panelName, series) {
  const panel = document.querySelector(`[data-panel="${panelName}"]`);
  const svg = panel.querySelector("svg");
  const legend = panel.querySelector(".legend");
  const [, , width, height] = svg.getAttribute("viewBox").split(" ").map(Number);
  let max = 0, points = 0;
  for (const values of series.values()) {
    for (const v of values) if (v !== null) { max = Math.max(max, v); if (v > 0) points++; }
  }
  const top = max > 0 ? max * 1.1 : 1;
  const n = Math.max(snapshots.length - 1, 1);
  let paths = "", items = "", c = 0;
  for (const [label, values] of series) {
    const color = COLORS[c++ % COLORS.length];
    const pts = [];
    values.forEach((v, i) => {
      if (v === null) return;
      pts.push(`${(i / n * width).toFixed(1)},${(height - v / top * (height - 10)).toFixed(1)}`);
    });
    if (pts.length) paths += `<polyline fill="none" stroke="${color}" stroke-width="2" vector-effect="non-scaling-stroke" points="${pts.join(" ")}"/>`;
    const last = [...values].reverse().find(v => v !== null);
    items += `<li><span class="swatch" style="background:${color}"></span>${escapeHtml(label)}: ${last === undefined ? "-" : last.toFixed(last < 10 ? 2 : 0)}</li>`;
  }
  svg.innerHTML = paths;
  panel.querySelector(".scale").textContent = `top of chart: ${top.toFixed(top < 10 ? 2 : 0)}; ${snapshots.length} samples`;
  legend.innerHTML = items;
  panel.dataset.points = String(points);
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"]/g, ch => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[ch]));
}

function render() {
  const outcome = l => l.outcome;
  const storm = rates("orderflow_idempotency_requests_total", outcome);
  const limited = rates("orderflow_rate_limited_requests_total", null);
  const stormSeries = new Map();
  for (const key of ["new", "replayed", "in_flight", "mismatch"]) {
    stormSeries.set({ new: "new keys", replayed: "replayed", in_flight: "in-flight 409", mismatch: "key reused 422" }[key],
      storm.get(key) || new Array(snapshots.length).fill(null));
  }
  stormSeries.set("429", limited.get("all") || new Array(snapshots.length).fill(null));
  draw("retry-storm", stormSeries);

  // The verdict over the last ten seconds: retries per new key.
  const recent = (values) => (values || []).slice(-10).reduce((a, v) => a + (v || 0), 0);
  const retries = recent(storm.get("replayed")) + recent(storm.get("in_flight")) + recent(limited.get("all"));
  const fresh = recent(storm.get("new"));
  const panel = document.querySelector('[data-panel="retry-storm"]');
  const verdict = document.getElementById("storm-verdict");
  const ratio = retries / Math.max(fresh, 0.1);
  if (retries === 0 && fresh === 0) {
    verdict.textContent = "no keyed traffic in the last 10 s";
    panel.classList.remove("alarm");
  } else if (ratio > 5) {
    verdict.textContent = `RETRY STORM: ${ratio.toFixed(1)} retries and 429s per new key (last 10 s)`;
    panel.classList.add("alarm");
  } else {
    verdict.textContent = `calm: ${ratio.toFixed(1)} retries and 429s per new key (last 10 s)`;
    panel.classList.remove("alarm");
  }
  panel.dataset.ratio = ratio.toFixed(2);

  draw("requests", rates("http_server_request_duration_seconds_count", l => l.http_route));
  const errors = rates("http_server_request_duration_seconds_count", l => l.http_response_status_code[0] + "xx",
    l => l.http_response_status_code[0] === "4" || l.http_response_status_code[0] === "5");
  draw("errors", errors);
  draw("rate-limits", rates("orderflow_rate_limited_requests_total", l => l.policy));
  const latency = new Map();
  for (const [route, v] of quantiles(0.5)) latency.set("p50 " + route, v);
  for (const [route, v] of quantiles(0.99)) latency.set("p99 " + route, v);
  draw("latency", latency);
  const db = new Map([
    ...gauge("orderflow_db_permits_in_use", () => "permits in use"),
    ...gauge("orderflow_db_permits", () => "capacity"),
    ...gauge("http_server_active_requests", () => "requests in flight"),
  ]);
  draw("database", db);
}

let lastT = -1;

async function poll() {
  const status = document.getElementById("status");
  try {
    const rsp = await fetch(`/dashboard/history?since=${lastT}`, { cache: "no-store" });
    if (!rsp.ok) throw new Error(`HTTP ${rsp.status}`);
    const fresh = await rsp.json();
    for (const item of fresh) {
      snapshots.push({ t: item.t, samples: parse(item.metrics) });
      lastT = Math.max(lastT, item.t);
    }
    while (snapshots.length > HISTORY) snapshots.shift();
    status.dataset.scrapes = String(snapshots.length);
    status.textContent = snapshots.length
      ? `live: ${snapshots.length} samples of /metrics (one a second), last at ${new Date().toLocaleTimeString()}`
      : "waiting for the server's first sample…";
    render();
  } catch (e) {
    status.textContent = `cannot read the server's figures: ${e.message} (retrying)`;
  }
}

poll();
setInterval(poll, 1000);
