// Formatting helpers and the status badge; pure functions of their arguments (plus the current time).

// Every status Novita reports, by family; the family picks the badge colour.
export const STATUS_FAMILIES = {
  running: "running",
  toCreate: "pending", pending: "pending",
  creating: "starting", pulling: "starting", toStart: "starting", starting: "starting",
  toRestart: "starting", restarting: "starting", toReset: "starting", resetting: "starting",
  migrating: "starting",
  toStop: "stopping", stopping: "stopping", freezing: "stopping",
  exited: "stopped",
  toRemove: "removing", removing: "removing",
  removed: "gone", terminated: "gone",
  unknown: "unknown",
};

export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d${h % 24}h`;
}

export function ago(iso, never = "never") {
  if (!iso) return never;
  const when = Date.parse(iso);
  if (Number.isNaN(when)) return never;
  return `${formatDuration((Date.now() - when) / 1000)} ago`;
}

// A calendar day in the browser's time zone, the same in every locale: "5 Dec 2026".
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
export function formatDate(iso) {
  const when = new Date(iso);
  if (!iso || Number.isNaN(when.getTime())) return "?";
  return `${when.getDate()} ${MONTHS[when.getMonth()]} ${when.getFullYear()}`;
}

export const money = (usd, suffix = "") => (usd === null || usd === undefined ? "?" : `$${Number(usd).toFixed(2)}${suffix}`);
export const count = (value) => Number(value || 0);
export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
export const clock = (date) => date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

export function badge(status) {
  const known = Object.prototype.hasOwnProperty.call(STATUS_FAMILIES, status);
  const span = document.createElement("span");
  span.className = `badge badge-${known ? STATUS_FAMILIES[status] : "unknown"}`;
  span.dataset.status = status || "unknown";
  span.textContent = status || "unknown";
  return span;
}

// Only writes when the text changed: a refresh must not disturb what the user is reading or selecting.
export function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}
