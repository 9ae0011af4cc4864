// The list page: upload documents, and list the tasks with a status filter and paging.
import {
  ApiError, apiJson, byId, displayName, el, liveRefresh, onReconnect, readOptions, rememberName,
  requireSignIn, show, statusBadge, taskPageUrl, timeElement,
} from "./common.js";

const RUNNING = new Set(["Starting", "Processing"]);
const REFRESH_MS = 2000;
let page = 1;
let loading = null;

function taskRow(task) {
  const link = el("a", { href: taskPageUrl(task.task_id) }, displayName(task));
  return el("tr", { "data-task-id": task.task_id, "data-status": task.status },
    el("td", {}, statusBadge(task.status)),
    el("td", { className: "file" }, link),
    el("td", { className: "number" }, task.output?.page_count ?? "—"),
    el("td", {}, timeElement(task.created_at)),
    el("td", {}, timeElement(task.finished_at)),
    el("td", { className: "message" }, task.message || ""));
}

// One read of the list; true while any task shown is still running (so the list polls again).
async function loadTasks() {
  const limit = Number(byId("page-size").value);
  const query = new URLSearchParams({ page: String(page), limit: String(limit) });
  const status = byId("status-filter").value;
  if (status) query.set("status", status);
  let tasks;
  try {
    tasks = await apiJson(`/tasks?${query}`);
  } catch (problem) {
    byId("list-empty").textContent = problem instanceof ApiError ? problem.message : "The list could not be loaded.";
    show(byId("list-empty"), true);
    return problem instanceof ApiError ? false : true;
  }
  byId("task-rows").replaceChildren(...tasks.map(taskRow));
  byId("list-empty").textContent = page > 1 ? "No tasks on this page." : "No tasks here.";
  show(byId("list-empty"), tasks.length === 0);
  byId("page-label").textContent = `Page ${page}`;
  byId("previous-page").disabled = page <= 1;
  byId("next-page").disabled = tasks.length < limit;
  return tasks.some((task) => RUNNING.has(task.status));
}

const scheduleRefresh = liveRefresh(refresh, REFRESH_MS);
let reloadRequested = false;

async function refresh() {
  // One read at a time: a change made during a read is picked up by one more read after it.
  if (loading) {
    reloadRequested = true;
    return loading;
  }
  loading = (async () => {
    let running;
    do {
      reloadRequested = false;
      running = await loadTasks();
    } while (reloadRequested);
    return running;
  })().finally(() => { loading = null; });
  const running = await loading;
  if (running) scheduleRefresh();
  return running;
}

function describeFiles(files) {
  byId("chosen").textContent = files.length
    ? `${files.length} chosen: ${Array.from(files, (file) => file.name).join(", ")}` : "";
}

async function uploadOne(file, options) {
  const body = new FormData();
  body.append("file", file, file.name);
  for (const [name, value] of Object.entries(options)) body.append(name, JSON.stringify(value));
  const line = el("li", {}, `${file.name}: uploading…`);
  byId("upload-results").prepend(line);
  try {
    const task = await apiJson("/task", { method: "POST", body });
    rememberName(task.task_id, file.name);
    line.replaceChildren(`${file.name}: ${task.message || "queued"} · `,
      el("a", { href: taskPageUrl(task.task_id) }, "open it"));
  } catch (problem) {
    line.className = "error";
    line.textContent = `${file.name}: ${problem.message}`;
  }
}

async function upload(event) {
  event.preventDefault();
  const input = byId("files");
  const files = Array.from(input.files);
  if (!files.length) {
    byId("chosen").textContent = "Choose or drop at least one document first.";
    return;
  }
  const options = readOptions(byId("upload-form"));
  byId("upload-button").disabled = true;
  try {
    for (const file of files) await uploadOne(file, options);
  } finally {
    byId("upload-button").disabled = false;
  }
  input.value = "";
  describeFiles([]);
  page = 1;
  refresh();
}

function wireDropZone() {
  const zone = byId("drop-zone");
  const input = byId("files");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer?.files?.length) {
      input.files = event.dataTransfer.files;
      describeFiles(input.files);
    }
  });
  input.addEventListener("change", () => describeFiles(input.files));
}

function start() {
  wireDropZone();
  byId("upload-form").addEventListener("submit", upload);
  const restart = () => { page = 1; refresh(); };
  byId("status-filter").addEventListener("change", restart);
  byId("page-size").addEventListener("change", restart);
  byId("refresh").addEventListener("click", () => refresh());
  byId("previous-page").addEventListener("click", () => { page = Math.max(1, page - 1); refresh(); });
  byId("next-page").addEventListener("click", () => { page += 1; refresh(); });
  document.addEventListener("viewer:signed-in", () => refresh());
  onReconnect(() => refresh());
  refresh();
}

requireSignIn(start);
