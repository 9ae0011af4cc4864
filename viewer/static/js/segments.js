// A task's segments: each page image with every segment's box drawn over it, a legend that
// toggles types, and the chosen segment's type, text, Markdown and HTML, all written as text.
import { byId, el, show } from "./common.js";

const IMAGE_RETRIES = 4;

// The segments of the output in reading order, each once.
export function allSegments(output) {
  const seen = new Set();
  const segments = [];
  for (const chunk of output?.chunks || []) {
    for (const segment of chunk.segments || []) {
      if (seen.has(segment.segment_id)) continue;
      seen.add(segment.segment_id);
      segments.push(segment);
    }
  }
  return segments;
}

function percent(part, whole) {
  return `${(100 * part) / whole}%`;
}

// A page image that loads as it scrolls into view, tried again a few times if the service is busy
// rendering (it answers 503 with Retry-After then).
function pageImage(page) {
  const image = el("img", {
    src: page.image, alt: `Page ${page.page_number}`, loading: "lazy", decoding: "async",
    width: Math.round(page.page_width), height: Math.round(page.page_height),
  });
  let tries = 0;
  image.addEventListener("error", () => {
    if (tries >= IMAGE_RETRIES || !page.image) return;
    tries += 1;
    image.removeAttribute("src");
    setTimeout(() => { image.src = page.image; }, 1000 * tries);
  });
  return image;
}

function box(segment, index, page) {
  const node = el("button", {
    type: "button", className: `box seg-${segment.segment_type}`,
    "data-segment-index": index, "data-segment-id": segment.segment_id,
    "data-type": segment.segment_type, "data-page": segment.page_number,
    "aria-label": `${segment.segment_type} segment on page ${segment.page_number}`,
    title: segment.segment_type,
  });
  const { left, top, width, height } = segment.bbox;
  const pageWidth = segment.page_width || page.page_width;
  const pageHeight = segment.page_height || page.page_height;
  // Percentages of the page, so the boxes follow the image at any displayed width.
  node.style.left = percent(left, pageWidth);
  node.style.top = percent(top, pageHeight);
  node.style.width = percent(width, pageWidth);
  node.style.height = percent(height, pageHeight);
  return node;
}

function pageFigure(page, entries) {
  const frame = el("div", { className: "page-frame", "data-page": page.page_number });
  frame.style.aspectRatio = `${page.page_width} / ${page.page_height}`;
  frame.append(pageImage(page), ...entries.map(([segment, index]) => box(segment, index, page)));
  return el("figure", { className: "page", "data-page": page.page_number },
    frame, el("figcaption", {}, `Page ${page.page_number} · ${entries.length} segments`));
}

function segmentListItem(segment, index) {
  const preview = (segment.text || segment.markdown || "").slice(0, 160);
  return el("li", {}, el("button", {
    type: "button", className: `box-item seg-${segment.segment_type}`,
    "data-segment-index": index, "data-type": segment.segment_type,
  }, el("span", { className: "type-tag" }, segment.segment_type), " ", preview));
}

function showSegment(segment) {
  show(byId("detail-empty"), false);
  show(byId("detail-body"), true);
  byId("detail-type").textContent = segment.segment_type;
  byId("detail-page").textContent = segment.page_number ?? "—";
  byId("detail-confidence").textContent = segment.confidence ?? "—";
  byId("detail-text").textContent = segment.text || "";
  byId("detail-markdown").textContent = segment.markdown || "";
  byId("detail-html").textContent = segment.html || "";
}

function buildLegend(segments, container) {
  const counts = new Map();
  for (const segment of segments) counts.set(segment.segment_type, (counts.get(segment.segment_type) || 0) + 1);
  const items = [...counts.entries()].map(([type, count]) => {
    const toggle = el("input", { type: "checkbox", checked: true, "data-type": type, id: `legend-${type}` });
    toggle.addEventListener("change", () => {
      for (const node of container.querySelectorAll(`[data-type="${CSS.escape(type)}"]`)) {
        const item = node.closest("li") || node;
        item.hidden = !toggle.checked;
      }
    });
    return el("label", { className: "legend-item", for: `legend-${type}` },
      toggle, el("span", { className: `swatch seg-${type}`, "aria-hidden": "true" }), `${type} (${count})`);
  });
  byId("legend").replaceChildren(...items);
}

const shown = { segments: [], buttons: [] };

// Arrow keys move between the visible boxes, in reading order; a click shows the segment.
function wire(container) {
  container.addEventListener("click", (event) => {
    const button = event.target.closest("[data-segment-index]");
    if (!button) return;
    for (const chosen of container.querySelectorAll(".selected")) chosen.classList.remove("selected");
    button.classList.add("selected");
    showSegment(shown.segments[Number(button.dataset.segmentIndex)]);
  });
  container.addEventListener("keydown", (event) => {
    const index = shown.buttons.indexOf(event.target);
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
    if (index < 0 || !step) return;
    event.preventDefault();
    for (let next = index + step; next >= 0 && next < shown.buttons.length; next += step) {
      const candidate = shown.buttons[next];
      if (!candidate.closest("[hidden]")) {
        candidate.focus();
        candidate.click();
        return;
      }
    }
  });
}

export function renderSegments(output) {
  const segments = allSegments(output);
  const container = byId("pages");
  if (!container.dataset.wired) {
    container.dataset.wired = "yes";
    wire(container);
  }
  const pages = (output?.pages || []).filter((page) => page.image && page.page_width && page.page_height);
  if (pages.length) {
    const byPage = new Map(pages.map((page) => [page.page_number, []]));
    segments.forEach((segment, index) => byPage.get(segment.page_number)?.push([segment, index]));
    container.replaceChildren(...pages.map((page) => pageFigure(page, byPage.get(page.page_number))));
  } else {
    container.replaceChildren(el("ol", { className: "segment-list" }, segments.map(segmentListItem)));
  }
  shown.segments = segments;
  shown.buttons = [...container.querySelectorAll("[data-segment-index]")]
    .sort((a, b) => a.dataset.segmentIndex - b.dataset.segmentIndex);
  show(byId("detail-empty"), true);
  show(byId("detail-body"), false);
  buildLegend(segments, container);
  show(byId("document"), segments.length > 0);
}

export function renderChunks(output) {
  const chunks = output?.chunks || [];
  byId("chunks").replaceChildren(...chunks.map((chunk, index) => el("li", { className: "chunk" },
    el("details", {},
      el("summary", {}, `Chunk ${index + 1}: ${chunk.chunk_length} tokens, ${chunk.segments?.length || 0} segments`),
      el("pre", {}, chunk.embed || "")))));
  show(byId("chunks-section"), chunks.length > 0);
}

export function documentMarkdown(output) {
  return allSegments(output).map((segment) => segment.markdown || segment.text || "").filter(Boolean).join("\n\n");
}
