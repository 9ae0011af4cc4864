// A task's page: status and message, its segments drawn on its pages, chunks, and the actions the
// transition table allows (cancel while Starting; run again or delete once finished).
import {
  ApiError, ROOT, api, apiJson, byId, displayName, el, liveRefresh, onReconnect, readOptions,
  requireSignIn, show, statusBadge, timeElement,
} from "./common.js";
import { documentMarkdown, renderChunks, renderSegments } from "./segments.js";

const taskId = document.body.dataset.taskId;
const path = `/task/${encodeURIComponent(taskId)}`;
const RUNNING = new Set(["Starting", "Processing"]);
const FINISHED = new Set(["Succeeded", "Failed", "Cancelled"]);
const POLL_MS = 1000;
let task = null;
let pollTag = null;
let renderedVersion = null;

function say(text, isError = false) {
  const result = byId("action-result");
  result.textContent = text;
  result.classList.toggle("error", isError);
}

function renderHead() {
  const output = task.output || {};
  document.title = `${displayName(task)} · chunkr-selfhost`;
  byId("task-title").textContent = displayName(task);
  byId("task-status").replaceWith(Object.assign(statusBadge(task.status), { id: "task-status" }));
  byId("task-message").textContent = task.message || "";
  const failure = byId("task-failure");
  failure.textContent = task.status === "Failed" ? `This task failed: ${task.message}` : "";
  show(failure, task.status === "Failed");
  const facts = [
    ["Task id", task.task_id], ["Created", timeElement(task.created_at)],
    ["Started", timeElement(task.started_at)], ["Finished", timeElement(task.finished_at)],
    ["Expires", timeElement(task.expires_at)], ["Pages", output.page_count ?? "—"],
    ["Type", output.mime_type || "—"],
  ];
  byId("task-facts").replaceChildren(...facts.map(([name, value]) => el("div", {}, el("dt", {}, name), el("dd", {}, value))));
  show(byId("cancel-task"), task.status === "Starting");
  show(byId("delete-task"), FINISHED.has(task.status));
  show(byId("update-panel"), task.status === "Succeeded" || task.status === "Failed");
  byId("download-json").disabled = false;
  byId("copy-markdown").disabled = task.status !== "Succeeded";
}

// The update form starts from the task's own configuration, so only what the user changes differs.
function fillOptions(form, configuration) {
  if (!configuration || form.closest("details").open) return;
  const chunking = configuration.chunk_processing || {};
  const tokenizer = chunking.tokenizer?.Enum ?? chunking.tokenizer?.String ?? chunking.tokenizer ?? "";
  const values = {
    target_length: chunking.target_length ?? "", tokenizer,
    ocr_strategy: configuration.ocr_strategy ?? "", segmentation_strategy: configuration.segmentation_strategy ?? "",
    high_resolution: configuration.high_resolution === undefined ? "" : String(configuration.high_resolution),
    expires_in: configuration.expires_in ?? "",
  };
  for (const [name, value] of Object.entries(values)) form.elements[name].value = String(value);
}

function render() {
  renderHead();
  fillOptions(byId("update-form"), task.configuration);
  // The segments are drawn again only when the output changed, not on every poll.
  const version = `${task.status}|${task.finished_at}|${task.started_at}`;
  if (version === renderedVersion) return;
  renderedVersion = version;
  const ready = task.status === "Succeeded";
  renderSegments(ready ? task.output : null);
  renderChunks(ready ? task.output : null);
}

async function loadFull() {
  try {
    task = await apiJson(path);
  } catch (problem) {
    showProblem(problem);
    return false;
  }
  render();
  return RUNNING.has(task.status);
}

function showProblem(problem) {
  if (problem instanceof ApiError && problem.status === 404) {
    byId("task-title").textContent = "Task not found";
    byId("task-message").textContent = "It may have expired, been deleted, or belong to another key.";
    for (const id of ["cancel-task", "delete-task", "update-panel"]) show(byId(id), false);
  } else if (problem instanceof ApiError) {
    say(problem.message, true);
  }
}

// A cheap poll while the task runs: no chunks, and a 304 with no body while nothing changed.
async function poll() {
  let response;
  try {
    response = await api(`${path}?include_chunks=false`, { headers: pollTag ? { "If-None-Match": pollTag } : {} });
  } catch (problem) {
    showProblem(problem);
    return !(problem instanceof ApiError);
  }
  if (response.status === 304) return true;
  pollTag = response.headers.get("ETag");
  const light = await response.json();
  if (RUNNING.has(light.status)) {
    task = light;
    renderHead();
    return true;
  }
  return loadFull();
}

const schedulePoll = liveRefresh(poll, POLL_MS);

async function refresh() {
  if (await loadFull()) schedulePoll();
}

async function cancelTask() {
  try {
    const response = await api(`${path}/cancel`, { method: "POST" });
    say(await response.text());
  } catch (problem) {
    say(problem.message, true);
  }
  refresh();
}

async function deleteTask() {
  byId("confirm-delete").close();
  try {
    await api(path, { method: "DELETE" });
  } catch (problem) {
    say(problem.message, true);
    return;
  }
  window.location.assign(`${ROOT}/ui/`);
}

async function updateTask(event) {
  event.preventDefault();
  const options = readOptions(byId("update-form"));
  byId("update-button").disabled = true;
  try {
    task = await apiJson(`${path}/parse`, {
      method: "PATCH", body: JSON.stringify(options), headers: { "Content-Type": "application/json" },
    });
    say(task.message);
    byId("update-panel").open = false;
    render();
    schedulePoll();
  } catch (problem) {
    say(problem.message, true);
  } finally {
    byId("update-button").disabled = false;
  }
}

async function copyMarkdown() {
  const markdown = documentMarkdown(task?.output);
  try {
    await navigator.clipboard.writeText(markdown);
    say(`Copied ${markdown.length} characters of Markdown.`);
  } catch {
    say("The browser did not allow copying to the clipboard.", true);
  }
}

function downloadJson() {
  const blob = new Blob([JSON.stringify(task, null, 2)], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: `${task.task_id}.json` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function start() {
  byId("cancel-task").addEventListener("click", cancelTask);
  byId("delete-task").addEventListener("click", () => byId("confirm-delete").showModal());
  byId("confirm-delete-no").addEventListener("click", () => byId("confirm-delete").close());
  byId("confirm-delete-yes").addEventListener("click", deleteTask);
  byId("update-form").addEventListener("submit", updateTask);
  byId("copy-markdown").addEventListener("click", copyMarkdown);
  byId("download-json").addEventListener("click", downloadJson);
  document.addEventListener("viewer:signed-in", refresh);
  onReconnect(refresh);
  refresh();
}

requireSignIn(start);
