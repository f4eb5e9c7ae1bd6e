// One connection's page: its summary and verdict, its charts (uPlot) and its files, from
// /connections/:uuid, /summary and /series (downsampled on the server). When the charts
// are drawn, document.body.dataset.ready is set and window.charts lists what each drew.
"use strict";
const uuid = decodeURIComponent(location.pathname.split("/").pop() ?? "");
window.charts = [];

const CHARTS = [
  { title: "Throughput (bits/s)", series: [["sendBps", "sent"], ["receiveBps", "received"]] },
  { title: "Congestion window and slow-start threshold (segments)", series: [["cwnd", "cwnd"], ["ssthresh", "ssthresh"]] },
  { title: "RTT (ms)", series: [["rttMs", "rtt"], ["rttvarMs", "rttvar"], ["minRttMs", "min_rtt"]] },
  { title: "Delivery and pacing rate (bits/s)", series: [["deliveryRateBps", "delivery rate"], ["pacingRateBps", "pacing rate"]] },
  { title: "Retransmitted segments (total)", series: [["totalRetrans", "retransmits"]] },
  { title: "Share of busy time limited by", series: [["rwndLimitedShare", "receive window"], ["sndbufLimitedShare", "send buffer"], ["congestionLimitedShare", "network (cwnd)"]] },
];
const COLORS = ["#3b6fd8", "#d8573b", "#2f9e6e", "#8a4fd8"];

function fmtBits(v) {
  if (v === null || v === undefined) return "";
  const units = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s"];
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${v.toFixed(v < 10 && i > 0 ? 2 : 0)} ${units[i]}`;
}
const fmtBytes = (v) => (v === null || v === undefined ? "" : `${v.toLocaleString()} B`);
const pct = (v) => (v === null || v === undefined ? "" : `${(v * 100).toFixed(1)} %`);
const ms = (v) => (v === null || v === undefined ? "" : `${Number(v).toFixed(2)} ms`);

function summaryRows(s) {
  const rows = [
    ["start", localTime(s.start)],
    ["end", s.end ? `${localTime(s.end)}${s.endReason ? ` (${s.endReason})` : ""}` : "open"],
    ["duration", s.durationSeconds !== undefined ? `${s.durationSeconds.toFixed(3)} s` : ""],
    ["snapshots", s.snapshots],
    ["congestion control", s.congestionControl],
    ["bytes sent / received / acked", s.bytes ? [fmtBytes(s.bytes.sent), fmtBytes(s.bytes.received), fmtBytes(s.bytes.acked)].join(" / ") : ""],
    ["mean throughput sent / received", s.throughput ? `${fmtBits(s.throughput.meanSendBps)} / ${fmtBits(s.throughput.meanReceiveBps)}` : ""],
    ["peak throughput sent / received", s.throughput ? `${fmtBits(s.throughput.peakSendBps)} / ${fmtBits(s.throughput.peakReceiveBps)}` : ""],
    ["RTT min / median / p95; min_rtt", s.rtt ? `${ms(s.rtt.minMs)} / ${ms(s.rtt.medianMs)} / ${ms(s.rtt.p95Ms)}; ${ms(s.rtt.minRttMs)}` : ""],
    ["retransmitted segments", s.retransmits ? `${s.retransmits.totalRetrans ?? ""} of ${s.retransmits.segsOut ?? ""} (${pct(s.retransmits.rate)}); dsack dups ${s.retransmits.dsackDups ?? ""}, reordering seen ${s.retransmits.reordSeen ?? ""}` : ""],
    ["cwnd peak / final", s.cwnd ? `${s.cwnd.peak ?? ""} / ${s.cwnd.final ?? ""}` : ""],
    ["ssthresh peak / final", s.ssthresh ? `${s.ssthresh.peak ?? ""} / ${s.ssthresh.final ?? ""}` : ""],
    ["limited (of busy time): receiver / send buffer / network", s.limited ? `${pct(s.limited.rwndShare)} / ${pct(s.limited.sndbufShare)} / ${pct(s.limited.congestionShare)}` : ""],
    ["not busy, application-limited", s.limited ? pct(s.limited.appLimitedShare) : ""],
  ];
  const tbody = document.querySelector("#summary tbody");
  tbody.replaceChildren();
  for (const [k, v] of rows) {
    if (v === "" || v === undefined || v === null) continue;
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = k;
    const td = document.createElement("td");
    td.textContent = String(v);
    tr.append(th, td);
    tbody.append(tr);
  }
}

function drawCharts(data) {
  const box = document.getElementById("charts");
  const width = Math.max(320, box.clientWidth);
  const t = data.t.map((x) => x / 1000);
  for (const def of CHARTS) {
    const present = def.series.filter(([key]) => Array.isArray(data.series[key]) && data.series[key].some((v) => v !== null));
    if (present.length === 0) continue;
    const wrap = document.createElement("div");
    wrap.className = "chart";
    const h = document.createElement("h3");
    h.textContent = def.title;
    wrap.append(h);
    box.append(wrap);
    const isBits = def.title.includes("bits/s");
    const opts = {
      width,
      height: 220,
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true } },
      series: [{}, ...present.map(([, label], i) => ({ label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false, value: isBits ? (_u, v) => fmtBits(v) : undefined }))],
      axes: [{}, { size: 96, values: isBits ? (_u, vals) => vals.map(fmtBits) : undefined }],
    };
    const columns = [t, ...present.map(([key]) => data.series[key])];
    const plot = new uPlot(opts, columns, wrap);
    window.charts.push({ title: def.title, keys: present.map(([key]) => key), lengths: columns.map((c) => c.length), drawn: plot.data.length - 1 });
  }
}

async function main() {
  try {
    // All three at once: the server reads the archives once for summary and series.
    // About one point per pixel: the server keeps each bucket's extremes, so peaks survive.
    const points = Math.min(4000, Math.max(200, Math.round(document.getElementById("charts").clientWidth)));
    const [conn, summary, series] = await Promise.all([
      api.get(`/connections/${encodeURIComponent(uuid)}`),
      api.get(`/connections/${encodeURIComponent(uuid)}/summary`),
      api.get(`/connections/${encodeURIComponent(uuid)}/series?points=${points}`),
    ]);
    document.getElementById("title").textContent = `Connection ${uuid}`;
    document.getElementById("tuple").textContent = `${endpoint(conn.src)} → ${endpoint(conn.dst)} · ${conn.state}`;
    document.title = `tcp-info-bun: ${endpoint(conn.src)} → ${endpoint(conn.dst)}`;
    if (summary.verdict) {
      document.getElementById("verdict").textContent = summary.verdict.text;
      document.getElementById("verdict-box").hidden = false;
    }
    summaryRows(summary);
    const files = document.getElementById("files");
    for (const f of conn.files) {
      const li = document.createElement("li");
      li.textContent = `${f.path} (${f.records ?? "?"} lines, opened ${localTime(f.openedAt)}${f.closedAt ? `, closed ${localTime(f.closedAt)}` : ""})`;
      files.append(li);
    }
    drawCharts(series);
    window.seriesPoints = series.points;
    document.body.dataset.ready = "1";
  } catch (e) {
    showMessage(e.message, true);
    document.body.dataset.ready = "error";
  }
}
void main();
