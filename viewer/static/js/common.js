// What both pages share: the key, calls to the public API, the sign-in form, the offline banner,
// and a DOM helper that only ever writes text (never HTML) into the page.

const KEY_NAME = "chunkr-viewer-api-key";
// Where the service is mounted (its script root: empty, or a prefix such as /chunkr behind a proxy).
export const ROOT = document.body.dataset.root || "";
const API = `${ROOT}/api/v1`;

export function taskPageUrl(taskId) {
  return `${ROOT}/ui/task/${encodeURIComponent(taskId)}`;
}

export class ApiError extends Error {
  constructor(status, text) {
    super(text || `HTTP ${status}`);
    this.status = status;
  }
}

export class Unreachable extends Error {}

export function apiKey() {
  return sessionStorage.getItem(KEY_NAME);
}

// An element with attributes and children; strings become text nodes, so data is never parsed as HTML.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) throw new Error("event handlers are added with addEventListener");
    if (name === "className") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function byId(id) {
  return document.getElementById(id);
}

export function show(node, visible) {
  node.hidden = !visible;
}

export function formatTime(value) {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}

export function timeElement(value) {
  return value ? el("time", { datetime: value }, formatTime(value)) : "—";
}

// A task's file name is in its output, which a queued task does not have yet: the names of the files
// this tab uploaded are remembered (in the tab's sessionStorage) to show until then.
const NAMES_KEY = "chunkr-viewer-uploaded-names";

export function rememberName(taskId, name) {
  const names = JSON.parse(sessionStorage.getItem(NAMES_KEY) || "{}");
  names[taskId] = name;
  sessionStorage.setItem(NAMES_KEY, JSON.stringify(names));
}

export function displayName(task) {
  const names = JSON.parse(sessionStorage.getItem(NAMES_KEY) || "{}");
  return task.output?.file_name || names[task.task_id] || `Task ${task.task_id}`;
}

export function statusBadge(status) {
  return el("span", { className: `status status-${status}` }, status);
}

// --- Reachability ---------------------------------------------------------------------------

let offlineProbe = null;
const reconnectListeners = [];

export function onReconnect(listener) {
  reconnectListeners.push(listener);
}

function markReachable() {
  if (offlineProbe === null) return;
  clearInterval(offlineProbe);
  offlineProbe = null;
  show(byId("offline"), false);
  for (const listener of reconnectListeners) listener();
}

function markUnreachable() {
  show(byId("offline"), true);
  if (offlineProbe !== null) return;
  offlineProbe = setInterval(async () => {
    try {
      const response = await fetch(`${ROOT}/health`, { cache: "no-store" });
      if (response.ok) markReachable();
    } catch {
      // still down; the banner stays
    }
  }, 3000);
}

export async function loadVersion() {
  try {
    const response = await fetch(`${ROOT}/health`, { cache: "no-store" });
    const text = await response.text();
    const match = /Version (\S+)/.exec(text);
    if (match) byId("version").textContent = `v${match[1]}`;
  } catch {
    markUnreachable();
  }
}

// --- The API ---------------------------------------------------------------------------------

// Calls the public API with the tab's key. Returns the Response of a success (or a 304), throws
// ApiError with the server's own text for any error, and Unreachable when no answer came.
export async function api(path, { method = "GET", body, headers = {}, key = apiKey() } = {}) {
  let response;
  try {
    response = await fetch(API + path, {
      method,
      body,
      headers: { ...headers, Authorization: key || "" },
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
  } catch {
    markUnreachable();
    throw new Unreachable("The server cannot be reached.");
  }
  markReachable();
  if (response.ok || response.status === 304) return response;
  const text = (await response.text()).trim();
  if (response.status === 401 && key === apiKey()) signOut(text);
  throw new ApiError(response.status, text);
}

export async function apiJson(path, options) {
  return (await api(path, options)).json();
}

// --- Signing in ----------------------------------------------------------------------------

let started = null;

function showSignedIn(signedIn) {
  show(byId("sign-in"), !signedIn);
  show(byId("app"), signedIn);
  show(byId("sign-out"), signedIn);
}

export function signOut(reason = "") {
  sessionStorage.clear();
  showSignedIn(false);
  byId("sign-in-error").textContent = reason;
  byId("api-key").focus();
}

// Shows the sign-in form until a key the server accepts is given, then calls start() (once).
export function requireSignIn(start) {
  started = start;
  byId("sign-out").addEventListener("click", () => {
    // Forget the key, then load the page afresh so nothing read with it stays in this document.
    sessionStorage.clear();
    window.location.reload();
  });
  byId("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = byId("api-key");
    const key = input.value.trim();
    const error = byId("sign-in-error");
    if (!key) {
      error.textContent = "Paste an API key.";
      return;
    }
    error.textContent = "Checking…";
    try {
      await api("/tasks?limit=1", { key });
    } catch (problem) {
      error.textContent = problem.message;
      return;
    }
    error.textContent = "";
    input.value = "";
    sessionStorage.setItem(KEY_NAME, key);
    enter();
  });
  loadVersion();
  if (apiKey()) enter();
  else signOut();
}

let entered = false;

function enter() {
  showSignedIn(true);
  if (!entered) {
    entered = true;
    started();
  } else {
    document.dispatchEvent(new Event("viewer:signed-in"));
  }
}

// --- Options (upload and update) ---------------------------------------------------------------

// The configuration parts the form's fields ask for: only the fields given, so the server's defaults
// (or, on an update, the task's stored values) apply to the rest.
export function readOptions(form) {
  const value = (name) => form.elements[name].value.trim();
  const options = {};
  const chunking = {};
  if (value("target_length")) chunking.target_length = Number(value("target_length"));
  if (value("tokenizer")) chunking.tokenizer = value("tokenizer");
  if (Object.keys(chunking).length) options.chunk_processing = chunking;
  for (const name of ["ocr_strategy", "segmentation_strategy"]) {
    if (value(name)) options[name] = value(name);
  }
  if (value("high_resolution")) options.high_resolution = value("high_resolution") === "true";
  if (value("expires_in")) options.expires_in = Number(value("expires_in"));
  return options;
}

export function liveRefresh(callback, intervalMs) {
  // Polls only while the tab is visible; a hidden tab costs the server nothing.
  let timer = null;
  const tick = async () => {
    timer = null;
    if (document.visibilityState !== "visible") return;
    const again = await callback();
    if (again) schedule();
  };
  const schedule = () => {
    if (timer === null) timer = setTimeout(tick, intervalMs);
  };
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") schedule();
  });
  return schedule;
}
