// The dashboard: reads the server's JSON endpoints and draws them. Every
// name and message is untrusted text: it reaches the page only through
// textContent and attribute setters, never as markup.
"use strict";

const TOKEN_KEY = "tool-monitor-token";
const params = new URLSearchParams(location.search);
const refreshSeconds = Math.max(1, Number(params.get("refresh")) || 5);
const state = { stats: {}, histograms: {}, errors: [], sort: "total_executions", asc: false, selected: null, paused: false, timer: null };
const $ = (id) => document.getElementById(id);

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function svg(tag, attributes) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, String(value));
  return node;
}

class Unauthorized extends Error {}

async function get(path) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, { headers, cache: "no-store" });
  if (response.status === 401) throw new Unauthorized();
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(path + ": " + response.status);
  return response.json();
}

function ms(value) {
  if (value >= 100) return value.toFixed(1);
  if (value >= 1) return value.toFixed(2);
  return value.toFixed(4);
}

function topError(stats) {
  let best = null;
  for (const [category, count] of Object.entries(stats.error_distribution || {})) {
    if (!best || count > best[1]) best = [category, count];
  }
  return best ? best[0] + " (" + best[1] + ")" : "-";
}

function median(name) {
  // The histogram endpoint carries the p50 the stats JSON does not.
  const histogram = state.histograms[name];
  return histogram && typeof histogram.p50_ms === "number" ? histogram.p50_ms : 0;
}

function rows() {
  const filter = $("search").value.trim().toLowerCase();
  const list = Object.values(state.stats).filter((s) => s.tool_name.toLowerCase().includes(filter));
  const key = state.sort;
  const value = (s) => key === "p50" ? median(s.tool_name) : key === "top_error" ? topError(s) : s[key];
  list.sort((a, b) => {
    const x = value(a), y = value(b);
    const order = typeof x === "string" ? x.localeCompare(y) : x - y;
    return state.asc ? order : -order;
  });
  return list;
}

function drawTable() {
  const body = $("tools").tBodies[0];
  body.replaceChildren();
  for (const s of rows()) {
    const tr = el("tr");
    tr.dataset.tool = s.tool_name;
    if (s.tool_name === state.selected) tr.className = "selected";
    tr.append(
      el("td", s.tool_name),
      el("td", s.total_executions, "num"),
      el("td", s.success_rate.toFixed(1), "num"),
      el("td", ms(median(s.tool_name)), "num"),
      el("td", ms(s.p95_duration_ms), "num"),
      el("td", ms(s.p99_duration_ms), "num"),
      el("td", Math.round(s.avg_input_size_bytes), "num"),
      el("td", Math.round(s.avg_output_size_bytes), "num"),
      el("td", topError(s)),
    );
    tr.addEventListener("click", () => { state.selected = s.tool_name; drawTable(); drawDetail(); });
    body.append(tr);
  }
  for (const th of $("tools").tHead.rows[0].cells) {
    th.classList.toggle("sorted", th.dataset.key === state.sort);
    th.classList.toggle("asc", th.dataset.key === state.sort && state.asc);
  }
}

// "<= 5000ms" -> "5s", "> 10000ms" -> ">10s": bucket bounds that fit under a bar.
function shortLabel(label) {
  const over = label.startsWith(">");
  const value = Number(label.replace(/[^0-9]/g, ""));
  const text = value >= 1000 ? value / 1000 + "s" : value + "ms";
  return (over ? ">" : "") + text;
}

function bars(container, labels, values, unit) {
  const width = 320, height = 150, top = 8, bottom = 28;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  const most = Math.max(1, ...values);
  const step = width / Math.max(1, values.length);
  values.forEach((value, i) => {
    const h = (height - top - bottom) * value / most;
    const bar = svg("rect", { class: "bar", x: i * step + 2, y: height - bottom - h, width: Math.max(1, step - 4), height: h });
    const tip = svg("title");
    tip.textContent = labels[i] + ": " + value + (unit || "");
    bar.append(tip);
    chart.append(bar);
    const label = svg("text", { x: i * step + step / 2, y: height - bottom + 12, "text-anchor": "middle" });
    label.textContent = shortLabel(labels[i]);
    chart.append(label);
  });
  container.replaceChildren(chart);
}

function lines(container, seriesList, labels, maxValue) {
  const width = 320, height = 150, pad = 24;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  chart.append(svg("line", { class: "axis", x1: pad, y1: height - pad, x2: width, y2: height - pad }));
  const most = maxValue || Math.max(1, ...seriesList.flatMap((s) => s.values));
  for (const s of seriesList) {
    const n = s.values.length;
    const points = s.values.map((v, i) => {
      const x = pad + (width - pad - 4) * (n === 1 ? 0.5 : i / (n - 1));
      const y = height - pad - (height - 2 * pad) * v / most;
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    chart.append(svg("polyline", { class: s.className, points: points.join(" ") }));
  }
  const top = svg("text", { x: 0, y: pad });
  top.textContent = String(Math.round(most));
  const first = svg("text", { x: pad, y: height - 6 });
  first.textContent = labels[0] || "";
  const last = svg("text", { x: width, y: height - 6, "text-anchor": "end" });
  last.textContent = labels[labels.length - 1] || "";
  chart.append(top, first, last);
  container.replaceChildren(chart);
}

async function drawDetail() {
  const name = state.selected;
  const stats = state.stats[name];
  $("detail").hidden = !stats;
  if (!stats) return;
  $("detail-name").textContent = name;
  const histogram = state.histograms[name];
  if (histogram) bars($("histogram"), histogram.buckets.map((b) => b.label), histogram.buckets.map((b) => b.count), " calls");
  lines($("trend"), [{ className: "line", values: stats.trend_7d }], ["7 days ago", "today"], 100);
  try {
    const series = await get("series?tool=" + encodeURIComponent(name));
    $("series-figure").hidden = !series || series.length === 0;
    if (series && series.length) {
      const hours = series.map((r) => r.hour.slice(5, 13).replace("T", " ") + "h");
      lines($("series"), [
        { className: "line", values: series.map((r) => r.p50_duration_ms) },
        { className: "line2", values: series.map((r) => r.p95_duration_ms) },
      ], hours);
    }
  } catch (error) {
    $("series-figure").hidden = true;
  }
}

function drawCategories() {
  const totals = {};
  for (const s of Object.values(state.stats)) {
    for (const [category, count] of Object.entries(s.error_distribution || {})) totals[category] = (totals[category] || 0) + count;
  }
  const most = Math.max(1, ...Object.values(totals));
  const box = $("categories");
  box.replaceChildren();
  const entries = Object.entries(totals).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) box.append(el("p", "no errors", "muted"));
  for (const [category, count] of entries) {
    const row = el("div", null, "cat");
    const fill = el("div", null, "fill");
    fill.style.width = (100 * count / most).toFixed(1) + "%";
    row.append(el("span", category), fill, el("span", count, "num"));
    box.append(row);
  }
}

function drawErrors() {
  const select = $("error-tool");
  const chosen = select.value;
  const names = Object.keys(state.stats).sort();
  select.replaceChildren(el("option", "all tools"));
  select.options[0].value = "";
  for (const name of names) {
    const option = el("option", name);
    option.value = name;
    select.append(option);
  }
  select.value = names.includes(chosen) ? chosen : "";
  const body = $("errors").tBodies[0];
  body.replaceChildren();
  const list = state.errors.filter((e) => !select.value || e.tool_name === select.value).slice(-50).reverse();
  if (list.length === 0) {
    const td = el("td", "none", "muted");
    td.colSpan = 4;
    body.append(el("tr")).append(td);
  }
  for (const e of list) {
    const tr = el("tr");
    tr.append(
      el("td", (e.end_time || e.start_time).replace("T", " ").slice(0, 19)),
      el("td", e.tool_name),
      el("td", e.error_category || e.status),
      el("td", e.error_message || "", "msg"),
    );
    body.append(tr);
  }
}

function showLogin(show) {
  $("login").hidden = !show;
  $("data").hidden = show;
  if (show) $("status").textContent = "unauthorized";
}

async function refresh() {
  try {
    const [stats, histograms, errors, info] = await Promise.all([get("stats"), get("histograms"), get("errors?hours=24"), get("info")]);
    state.stats = stats || {};
    state.histograms = histograms || {};
    state.errors = errors || [];
    if (info) $("source").textContent = info.source === "store" ? "store " + info.path + " (" + info.processes + " processes)" : "live process";
    if (!state.selected || !state.stats[state.selected]) state.selected = Object.keys(state.stats).sort()[0] || null;
    showLogin(false);
    drawTable();
    drawCategories();
    drawErrors();
    await drawDetail();
    $("status").textContent = "updated " + new Date().toLocaleTimeString() + (state.paused ? " (paused)" : " · every " + refreshSeconds + " s");
    document.body.dataset.loaded = "true";
  } catch (error) {
    if (error instanceof Unauthorized) {
      state.stats = {};
      state.errors = [];
      showLogin(true);
    } else {
      $("status").textContent = "could not refresh: " + error.message;
    }
  }
}

function schedule() {
  clearInterval(state.timer);
  if (!state.paused) state.timer = setInterval(refresh, refreshSeconds * 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const th of $("tools").tHead.rows[0].cells) {
    th.addEventListener("click", () => {
      state.asc = state.sort === th.dataset.key ? !state.asc : th.dataset.key === "tool_name";
      state.sort = th.dataset.key;
      drawTable();
    });
  }
  $("search").addEventListener("input", drawTable);
  $("error-tool").addEventListener("change", drawErrors);
  $("pause").addEventListener("click", () => {
    state.paused = !state.paused;
    $("pause").textContent = state.paused ? "Resume" : "Pause";
    schedule();
  });
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value);
    $("token").value = "";
    refresh();
  });
  refresh();
  schedule();
});
