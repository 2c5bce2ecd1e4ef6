// novictl's web page: plain ES modules, no build step, no dependency. It talks only to the daemon's JSON
// API and writes data into the page with textContent (never innerHTML), so names cannot inject markup.
// Every handler is attached here: the Content-Security-Policy forbids inline ones.

import { ApiError, TOKEN_KEY, api, instancePath } from "./api.js";
import { STATUS_FAMILIES, ago, badge, clock, count, formatDuration, money, plural, setText } from "./format.js";
import { drawSparkline, eventItem, renderInstanceRows, reportRow, setRowBusy } from "./rows.js";

const DEFAULT_REFRESH_SECONDS = 30;
// While an instance is on its way somewhere (toStop, starting …) the daemon follows it; the page looks again
// this often so the row settles on screen soon after it settles on Novita.
const SETTLING_REFRESH_SECONDS = 2;
const SETTLING = new Set(["toCreate", "creating", "pulling", "pending", "toStart", "starting", "toStop",
  "stopping", "toRestart", "restarting", "toRemove", "removing"]);
const GUARDED_BUTTONS = ["sync-button", "dry-run-button", "stop-all-button"];
const EVENTS_SHOWN = 20;
// The balance is asked of Novita on every request: the page asks at most this often (and on Refresh).
const BALANCE_REFRESH_SECONDS = 60;

const $ = (id) => document.getElementById(id);
const state = {
  instances: [],
  selectedId: null,
  loadedOnce: false,
  loading: false,
  locked: false,
  timer: null,
  refreshSeconds: refreshSeconds(),
  balanceAt: 0,
  balanceLoading: false,
};

// -- messages --------------------------------------------------------------------------------------

function notify(message) {
  const box = $("notice");
  box.textContent = message;
  box.hidden = false;
  $("error").hidden = true;
}

// ``fromLoad`` errors clear on the next good load; an action's error stays until the next action.
function showError(prefix, error, fromLoad = false) {
  if (error instanceof ApiError && error.status === 401) {
    askForToken();
    return;
  }
  const box = $("error");
  const hint = error instanceof ApiError && error.hint ? ` (${error.hint})` : "";
  box.textContent = `${prefix}: ${error.message}${hint}`;
  box.dataset.fromLoad = String(fromLoad);
  box.hidden = false;
}

function clearMessages() {
  $("notice").hidden = true;
  $("error").hidden = true;
}

// -- the token -------------------------------------------------------------------------------------

// Actions need the daemon: while the page waits for the token they wait too.
function setLocked(locked) {
  state.locked = locked;
  for (const id of GUARDED_BUTTONS) $(id).disabled = locked;
}

function askForToken() {
  const refused = sessionStorage.getItem(TOKEN_KEY) !== null;
  sessionStorage.removeItem(TOKEN_KEY);
  setLocked(true);
  $("token-panel").hidden = false;
  $("loading").hidden = true;
  const message = $("token-error");
  message.textContent = refused ? "The daemon refused that token. Check daemon.api_token and try again." : "";
  message.hidden = !refused;
  $("updated").textContent = "Locked: the daemon needs its API token.";
  const input = $("token-input");
  if (document.activeElement !== input) input.focus();
}

async function submitToken(event) {
  event.preventDefault();
  const token = $("token-input").value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token-error").hidden = true;
  if (await load()) {
    setLocked(false);
    $("token-panel").hidden = true;
    $("token-input").value = "";
  }
}

// -- loading ---------------------------------------------------------------------------------------

// Returns true when the instances loaded. The balance loads beside them, never holding them up.
async function load(forceBalance = false) {
  if (state.loading) return false;
  state.loading = true;
  loadBalance(forceBalance);
  $("instances").setAttribute("aria-busy", "true");
  if (state.loadedOnce) $("updated").textContent = "Refreshing…";
  try {
    const [list, stats, health] = await Promise.allSettled([
      api("/api/instances"),
      api("/api/instances/auto-stop/stats"),
      api("/health", { okStatuses: [503] }),
    ]);
    if (list.status === "rejected") {
      showError("Could not load the instances", list.reason, true);
      if (!state.loadedOnce) $("loading").hidden = true;
      if (!state.locked) $("updated").textContent = `Failed at ${clock(new Date())}; retrying.`;
      return false;
    }
    state.instances = list.value.instances || [];
    state.loadedOnce = true;
    setLocked(false);
    $("token-panel").hidden = true;
    if ($("error").dataset.fromLoad === "true") $("error").hidden = true;
    renderInstances();
    renderCards(stats.status === "fulfilled" ? stats.value : null,
      health.status === "fulfilled" ? health.value : null);
    $("updated").textContent =
      `Updated ${clock(new Date())} · refreshes every ${formatDuration(state.refreshSeconds)}`;
    if (state.selectedId) await loadEvents(state.selectedId);
    return true;
  } finally {
    state.loading = false;
    $("instances").removeAttribute("aria-busy");
    scheduleRefresh();
  }
}

// The balance card: Novita's available balance, or "unavailable" when the daemon could not get it.
async function loadBalance(force) {
  const fresh = Date.now() - state.balanceAt < BALANCE_REFRESH_SECONDS * 1000;
  if (state.balanceLoading || (fresh && !force)) return;
  state.balanceLoading = true;
  const card = $("card-balance");
  try {
    const balance = await api("/api/balance");
    const known = balance && balance.availableUsd !== null && balance.availableUsd !== undefined;
    const low = Boolean(known && balance.low);
    setText(card, known ? `${money(balance.availableUsd)}${low ? " (low)" : ""}` : "unknown");
    card.classList.toggle("bad", low);
    card.classList.remove("small");
    state.balanceAt = Date.now();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return; // the instances' load asks for the token
    setText(card, "unavailable");
    card.classList.add("small", "bad");
    state.balanceAt = Date.now();
  } finally {
    state.balanceLoading = false;
  }
}

function refreshSeconds() {
  const fromUrl = new URLSearchParams(window.location.search).get("refresh");
  const raw = fromUrl || document.body.dataset.refresh;
  const seconds = Number(raw);
  return Number.isFinite(seconds) && seconds >= 0.2 ? seconds : DEFAULT_REFRESH_SECONDS;
}

function scheduleRefresh() {
  clearTimeout(state.timer);
  const settling = state.instances.some((i) => SETTLING.has(i.status));
  const seconds = settling ? Math.min(state.refreshSeconds, SETTLING_REFRESH_SECONDS) : state.refreshSeconds;
  state.timer = setTimeout(() => {
    // A locked page waits for the token; a hidden tab refreshes when it shows again.
    if (state.locked || document.hidden) scheduleRefresh();
    else load();
  }, seconds * 1000);
}

// -- rendering -------------------------------------------------------------------------------------

function renderCards(stats, health) {
  const running = state.instances.filter((i) => i.status === "running");
  const burn = running.reduce((sum, i) => sum + (i.pricePerHour || 0), 0);
  setText($("card-total"), String(state.instances.length));
  setText($("card-running"), String(running.length));
  setText($("card-burn"), money(burn, "/h"));

  const store = health && health.checks ? health.checks.store : null;
  const storeCard = $("card-store");
  setText(storeCard, store || "unknown");
  storeCard.classList.toggle("good", Boolean(store && store.startsWith("ok")));
  storeCard.classList.toggle("bad", !store || !store.startsWith("ok"));

  const sync = health ? health.lastSync : null;
  setText($("card-sync"), sync ? `${ago(sync.startedAt)} · ${count(sync.seen)} seen` : "never");

  const run = (stats && stats.lastRun) || (health && health.lastAutoStopCheck) || null;
  let autostop = "never";
  if (run) {
    const totals = run.totals || {};
    autostop = run.dryRun
      ? `${ago(run.ranAt)} · ${count(totals.stop)} would stop (dry run)`
      : `${ago(run.ranAt)} · ${count(totals.stopped)} stopped`;
  }
  setText($("card-autostop"), autostop);
  setText($("card-savings"), stats && stats.savings ? money(stats.savings.totalUsd) : "?");
}
function renderInstances() {
  renderInstanceRows($("instance-rows"), state.instances, state.selectedId);
  const empty = state.instances.length === 0;
  $("loading").hidden = true;
  $("empty").hidden = !empty;
  $("table-wrap").hidden = empty;
  loadSparklines();
}

// The last hour of GPU use per running instance, a few at a time (each is one Novita metrics read).
const SPARKLINES_AT_ONCE = 4;
const SPARKLINES_MAX = 50;
const SPARKLINES_EVERY_MS = 60_000; // Novita samples every 30 s or so: more often shows nothing new
let sparklinesAt = 0;
async function loadSparklines() {
  if (Date.now() - sparklinesAt < SPARKLINES_EVERY_MS) return;
  sparklinesAt = Date.now();
  const running = state.instances.filter((i) => i.status === "running").slice(0, SPARKLINES_MAX);
  const queue = [...running];
  async function worker() {
    while (queue.length) {
      const instance = queue.shift();
      try {
        const series = await api(`${instancePath(instance.id, "gpu")}?minutes=60`);
        const row = document.querySelector(`#instance-rows tr[data-id="${CSS.escape(instance.id)}"]`);
        if (row) drawSparkline(row, series);
      } catch {
        // The figure is a nicety: the row keeps its last known GPU % when the read fails.
      }
    }
  }
  await Promise.all(Array.from({ length: SPARKLINES_AT_ONCE }, worker));
}

// -- events of the selected instance ----------------------------------------------------------------

async function loadEvents(id) {
  const instance = state.instances.find((i) => i.id === id);
  const panel = $("events-panel");
  const note = $("events-state");
  panel.hidden = false;
  setText($("events-heading"), `Recent events · ${instance ? instance.name : id}`);
  try {
    const data = await api(`/api/events?instanceId=${encodeURIComponent(id)}&limit=${EVENTS_SHOWN}`);
    if (state.selectedId !== id) return;
    const items = (data.events || []).map(eventItem);
    $("events-list").replaceChildren(...items);
    note.hidden = items.length > 0;
    note.textContent = "No events recorded for this instance yet.";
  } catch (error) {
    if (error.status === 401) return showError("Could not load events", error);
    note.textContent = `Could not load events: ${error.message}`;
    note.hidden = false;
  }
}

function select(id) {
  state.selectedId = state.selectedId === id ? null : id;
  renderInstances();
  if (state.selectedId) {
    loadEvents(id).then(() => $("events-panel").scrollIntoView({ block: "nearest" }));
  } else {
    $("events-panel").hidden = true;
  }
}

// -- actions ---------------------------------------------------------------------------------------

async function rowAction(action, id) {
  const instance = state.instances.find((i) => i.id === id);
  const name = instance ? instance.name : id;
  clearMessages();
  setRowBusy($("instance-rows"), id, true);
  try {
    if (action === "start" || action === "stop") {
      const outcome = await api(instancePath(id, action), { method: "POST" });
      const verb = action === "start" ? "Start" : "Stop";
      notify(outcome.already
        ? `${name} is already ${outcome.status}.`
        : `${verb} requested for ${name}: now ${outcome.status}.`);
    } else if (action === "pin") {
      const view = await api(instancePath(id, "pin"), { method: "POST", body: { for: "1h" } });
      notify(`${name}: auto-stop ${(view.autoStop && view.autoStop.label) || "pinned"}.`);
    } else if (action === "unpin") {
      const view = await api(instancePath(id, "unpin"), { method: "POST" });
      notify(`${name} unpinned: auto-stop ${(view.autoStop && view.autoStop.label) || "back on"}.`);
    }
  } catch (error) {
    showError(`Could not ${action} ${name}`, error);
  } finally {
    setRowBusy($("instance-rows"), id, false);
    await load();
  }
}

async function withButton(button, busyLabel, work) {
  clearMessages();
  const label = button.textContent;
  button.disabled = true;
  button.textContent = busyLabel;
  try {
    await work();
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

async function sync() {
  await withButton($("sync-button"), "Syncing…", async () => {
    try {
      const r = await api("/api/instances/sync", { method: "POST", body: {} });
      const parts = [`${count(r.seen)} seen`, `${count(r.adopted)} new`, `${count(r.updated)} updated`,
        `${count(r.unchanged)} unchanged`, `${count(r.terminated)} terminated`, `${count(r.removed)} removed`];
      if (count(r.purged)) parts.push(`${count(r.purged)} purged`);
      notify(`Sync done: ${parts.join(", ")} (${Number(r.durationSeconds || 0).toFixed(2)}s).`);
    } catch (error) {
      showError("Sync failed", error);
    }
    await load();
  });
}

async function dryRun() {
  await withButton($("dry-run-button"), "Checking…", async () => {
    try {
      const report = await api("/api/instances/auto-stop/trigger", { method: "POST", body: { dryRun: true } });
      renderReport(report);
    } catch (error) {
      showError("Dry run failed", error);
    }
  });
}

function renderReport(report) {
  const totals = report.totals || {};
  const errors = (report.errors || []).length ? ` Errors: ${report.errors.join("; ")}.` : "";
  setText($("report-summary"),
    `${count(totals.stop)} would stop (${money(totals.stopUsdPerHour, "/h")}), ${count(totals.keep)} kept, ` +
    `${count(totals.skip)} skipped, checked ${clock(new Date(report.ranAt))}. Nothing was stopped.${errors}`);
  const rows = (report.entries || []).map(reportRow);
  $("report-rows").replaceChildren(...rows);
  $("report-panel").hidden = false;
  $("report-panel").scrollIntoView({ block: "nearest" });
}

function confirmDialog(title, text, okLabel) {
  const dialog = $("confirm-dialog");
  setText($("confirm-title"), title);
  setText($("confirm-text"), text);
  setText($("confirm-ok"), okLabel);
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

// The dialog names what the daemon would stop now (a dry run, not the possibly stale table), and the
// confirmation stops exactly those: an instance started while the dialog was open is not touched.
async function stopAll() {
  clearMessages();
  let preview;
  try {
    preview = await api("/api/instances/stop-all", { method: "POST", body: { dryRun: true } });
  } catch (error) {
    showError("Could not list the running instances", error);
    return;
  }
  const chosen = preview.results || [];
  if (chosen.length === 0) {
    notify("Nothing to stop: no instance is running.");
    return;
  }
  const n = chosen.length;
  const names = chosen.map((r) => r.name || r.instanceId);
  const shown = names.length > 8 ? `${names.slice(0, 8).join(", ")} and ${names.length - 8} more` : names.join(", ");
  const sure = await confirmDialog(
    `Stop ${plural(n, "running instance")}?`,
    `This stops ${plural(n, "running instance")} (${shown}), burning ${money(preview.usdPerHour, "/h")} ` +
      "together. Their disks are kept; start them again any time.",
    `Stop ${n}`,
  );
  if (!sure) return;
  const instanceIds = chosen.map((r) => r.instanceId);
  await withButton($("stop-all-button"), "Stopping…", async () => {
    try {
      const r = await api("/api/instances/stop-all", { method: "POST", body: { instanceIds } });
      const failed = count(r.failed) ? `, ${count(r.failed)} failed` : "";
      const gone = n - count(r.count) - count(r.failed);
      const left = gone > 0 ? ` (${gone} had stopped already)` : "";
      notify(`Stop all: ${plural(count(r.count), "instance")} stopped${failed}${left}.`);
    } catch (error) {
      showError("Stop all failed", error);
    }
    await load();
  });
}

// -- wiring ----------------------------------------------------------------------------------------

function start() {
  $("refresh-button").addEventListener("click",
    () => withButton($("refresh-button"), "Refreshing…", () => load(true)));
  $("sync-button").addEventListener("click", sync);
  $("dry-run-button").addEventListener("click", dryRun);
  $("stop-all-button").addEventListener("click", stopAll);
  $("report-close").addEventListener("click", () => { $("report-panel").hidden = true; });
  $("events-close").addEventListener("click", () => select(state.selectedId));
  $("token-form").addEventListener("submit", submitToken);
  $("confirm-ok").addEventListener("click", () => $("confirm-dialog").close("ok"));
  $("confirm-cancel").addEventListener("click", () => $("confirm-dialog").close("cancel"));
  $("instance-rows").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || button.disabled) return;
    if (button.dataset.action === "select") select(button.dataset.id);
    else rowAction(button.dataset.action, button.dataset.id);
  });
  $("legend-badges").replaceChildren(...Object.keys(STATUS_FAMILIES).map(badge));
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !state.locked && state.loadedOnce) load();
  });
  load();
}

start();
