// The instance table's rows, the dry-run report's rows and the event list's items. Built with DOM calls and
// textContent only, so no instance name or event field can inject markup.

import { ago, badge, formatDate, formatDuration, money, setText } from "./format.js";

const STOPPABLE = new Set(["running", "toStart", "starting", "toRestart", "restarting", "pulling", "creating"]);
const STARTABLE = new Set(["exited"]);

const COLUMNS = ["name", "status", "region", "gpu", "price", "used", "gpuuse", "idle", "autostop", "actions"];
const LABELS = ["Name", "Status", "Region", "GPU", "$/h", "Last used", "GPU use", "Idle for", "Auto-stop",
  "Actions"];
const SVG = "http://www.w3.org/2000/svg";
const ACTIONS = [["start", "Start"], ["stop", "Stop"], ["pin", "Pin 1h"], ["unpin", "Unpin"]];

function makeRow(id) {
  const row = document.createElement("tr");
  row.dataset.id = id;
  COLUMNS.forEach((column, index) => {
    const cell = document.createElement(column === "name" ? "th" : "td");
    if (column === "name") cell.scope = "row";
    cell.className = `col-${column}`;
    cell.dataset.label = LABELS[index];
    row.appendChild(cell);
  });
  const select = document.createElement("button");
  select.type = "button";
  select.className = "name-button";
  select.dataset.action = "select";
  select.dataset.id = id;
  const name = document.createElement("span");
  name.className = "name";
  const small = document.createElement("span");
  small.className = "instance-id";
  small.textContent = id;
  select.append(name, small);
  row.querySelector(".col-name").appendChild(select);
  const actions = row.querySelector(".col-actions");
  for (const [action, label] of ACTIONS) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = `row-action action-${action}`;
    button.dataset.action = action;
    button.dataset.id = id;
    button.textContent = label;
    actions.appendChild(button);
  }
  return row;
}

function fillRow(row, instance, selectedId) {
  const cell = (column) => row.querySelector(`.col-${column}`);
  const name = instance.name || instance.id;
  setText(row.querySelector(".name"), name);
  const select = row.querySelector(".name-button");
  const selected = selectedId === instance.id;
  select.setAttribute("aria-pressed", String(selected));
  select.setAttribute("aria-label", `${name}: show recent events`);
  row.classList.toggle("selected", selected);

  fillStatus(cell("status"), instance);
  setText(cell("region"), instance.region || "–");
  const gpu = instance.gpu || instance.productId || "–";
  setText(cell("gpu"), instance.gpuCount > 1 ? `${instance.gpuCount} × ${gpu}` : gpu);
  setText(cell("price"), money(instance.pricePerHour));
  const autostop = instance.autoStop || {};
  setText(cell("used"), ago(autostop.lastUsedAt || instance.lastUsedAt));
  const gpuUse = cell("gpuuse");
  if (!gpuUse.firstElementChild) {
    const value = document.createElement("span");
    value.className = "gpu-percent";
    gpuUse.appendChild(value);
  }
  const percent = instance.lastGpuPercent;
  setText(gpuUse.querySelector(".gpu-percent"), percent === null || percent === undefined ? "–" : `${Math.round(percent)}%`);
  if (instance.status !== "running") gpuUse.querySelector("svg")?.remove();
  const idle = instance.idleSeconds ?? autostop.idleSeconds;
  setText(cell("idle"), idle === null || idle === undefined ? "–" : formatDuration(idle));
  setText(cell("autostop"), autostop.label || "–");
  cell("autostop").classList.toggle("pinned", (autostop.label || "").startsWith("pinned"));

  const pinned = Boolean(instance.pinnedUntil && Date.parse(instance.pinnedUntil) > Date.now());
  const busy = row.classList.contains("busy");
  const enabled = {
    start: STARTABLE.has(instance.status),
    stop: STOPPABLE.has(instance.status),
    pin: instance.status === "running",
    unpin: pinned,
  };
  for (const [action, label] of ACTIONS) {
    const button = row.querySelector(`.action-${action}`);
    button.disabled = busy || !enabled[action];
    button.setAttribute("aria-label", `${label} ${name}`);
  }
}

// The badge, and under it for a stopped instance until when Novita keeps its data (null otherwise).
const DATA_SOON_MS = 24 * 3600 * 1000;
function fillStatus(cell, instance) {
  let wrap = cell.firstElementChild;
  if (!wrap) {
    wrap = document.createElement("div");
    wrap.className = "status-wrap";
    const kept = document.createElement("span");
    kept.className = "kept-until";
    kept.hidden = true;
    wrap.append(badge(instance.status), kept);
    cell.appendChild(wrap);
  }
  const current = wrap.querySelector(".badge");
  if (current.dataset.status !== instance.status) current.replaceWith(badge(instance.status));
  const kept = wrap.querySelector(".kept-until");
  const until = instance.dataKeptUntil;
  setText(kept, until ? `data kept until ${formatDate(until)}` : "");
  kept.hidden = !until;
  kept.classList.toggle("soon", Boolean(until && Date.parse(until) - Date.now() < DATA_SOON_MS));
}

// Rows are kept per instance id and updated in place: a refresh keeps focus, scroll and selection.
export function renderInstanceRows(body, instances, selectedId) {
  const existing = new Map([...body.children].map((row) => [row.dataset.id, row]));
  let cursor = body.firstElementChild;
  for (const instance of instances) {
    let row = existing.get(instance.id);
    existing.delete(instance.id);
    if (!row) row = makeRow(instance.id);
    fillRow(row, instance, selectedId);
    if (row === cursor) cursor = cursor.nextElementSibling;
    else body.insertBefore(row, cursor);
  }
  for (const gone of existing.values()) gone.remove();
}

// Marks a row busy while an action on it runs: its buttons wait (the next render re-enables them).
export function setRowBusy(body, id, busy) {
  const row = [...body.children].find((candidate) => candidate.dataset.id === id);
  if (!row) return;
  row.classList.toggle("busy", busy);
  if (busy) row.querySelectorAll(".row-action").forEach((button) => { button.disabled = true; });
}

const REPORT_LABELS = ["Name", "Status", "Verdict", "Why", "Idle for", "$/h"];

// One entry of an auto-stop report: who, and why it would (or would not) be stopped.
export function reportRow(entry) {
  const row = document.createElement("tr");
  row.className = `verdict-${entry.verdict}`;
  const cells = [
    entry.name,
    badge(entry.status),
    entry.verdict === "stop" ? "would stop" : entry.verdict,
    entry.reason,
    entry.idleSeconds === null || entry.idleSeconds === undefined ? "–" : formatDuration(entry.idleSeconds),
    money(entry.pricePerHour),
  ];
  cells.forEach((value, index) => {
    const cell = document.createElement(index === 0 ? "th" : "td");
    if (index === 0) cell.scope = "row";
    cell.dataset.label = REPORT_LABELS[index];
    cell.append(value);
    row.appendChild(cell);
  });
  return row;
}

export function eventItem(event) {
  const item = document.createElement("li");
  const time = document.createElement("time");
  time.dateTime = event.occurredAt;
  time.textContent = `${new Date(event.occurredAt).toLocaleString()} (${ago(event.occurredAt)})`;
  // The daemon's one-line summary first; who did it and the raw type (what logs and webhooks say) after.
  const summary = document.createElement("strong");
  summary.textContent = event.summary || event.type;
  const detail = document.createElement("span");
  detail.className = "event-detail";
  detail.textContent = ` · by ${event.actor || "?"} · ${event.type}`;
  item.append(time, " ", summary, detail);
  return item;
}

// A small line of the last hour's GPU use (0-100 %) in the row's "GPU use" cell; the newest value beside it.
export function drawSparkline(row, series) {
  const cell = row.querySelector(".col-gpuuse");
  if (!cell) return;
  const points = (series && series.points) || [];
  cell.querySelector("svg")?.remove();
  const value = cell.querySelector(".gpu-percent");
  if (series && series.latestPercent !== null && series.latestPercent !== undefined) {
    setText(value, `${Math.round(series.latestPercent)}%`);
  } else if (series && series.unavailable) {
    setText(value, series.unavailable);
  }
  if (points.length < 2) return;
  const width = 80;
  const height = 20;
  const first = Date.parse(points[0][0]);
  const span = Math.max(1, Date.parse(points[points.length - 1][0]) - first);
  const coords = points.map(([at, percent]) => {
    const x = ((Date.parse(at) - first) / span) * width;
    const y = height - (Math.min(100, Math.max(0, percent)) / 100) * height;
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `GPU use over the last hour, ${points.length} samples`);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", coords.join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "currentColor");
  line.setAttribute("stroke-width", "1.5");
  svg.appendChild(line);
  cell.appendChild(svg);
}
