// surge dashboard: the only script. It asks before destructive forms and
// keeps the overview live over Server-Sent Events. Every page works without
// it; figures then refresh on reload.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// A figure that changes is stamped with when it did (`data-at`, ms since
// the epoch): how late the page shows a change can then be read from the
// page itself, whoever looks at it and however slowly.
function show(el, text, at) {
  if (el.textContent !== String(text)) {
    el.textContent = text;
    el.dataset.at = at;
  }
}

function setText(name, text) {
  document.querySelectorAll(`[data-metric="${name}"]`).forEach((el) => {
    show(el, text, Date.now());
  });
}

function hotRows(tbody, hot) {
  // A rebuilt row keeps the time its stock last changed.
  const before = new Map();
  tbody.querySelectorAll("tr[data-sku] .stock").forEach((td) => {
    before.set(td.closest("tr").dataset.sku, td);
  });
  const now = Date.now();
  const rows = hot.map((h) => {
    const tr = document.createElement("tr");
    tr.dataset.sku = h.sku;
    const name = document.createElement("td");
    const sku = document.createElement("strong");
    sku.textContent = h.sku;
    const title = document.createElement("div");
    title.className = "muted small";
    title.textContent = h.title;
    name.append(sku, title);
    tr.appendChild(name);
    const cells = [[h.units_per_min, "num"], [h.available, "num stock"]];
    cells.forEach(([text, cls]) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) td.className = cls;
      tr.appendChild(td);
    });
    const stock = tr.querySelector(".stock");
    const was = before.get(h.sku);
    stock.dataset.at = was && was.textContent === String(h.available) && was.dataset.at
      ? was.dataset.at
      : now;
    const bar = document.createElement("td");
    bar.innerHTML = '<div class="bar"><span></span></div>';
    bar.querySelector("span").setAttribute("data-share", h.share);
    tr.appendChild(bar);
    return tr;
  });
  tbody.replaceChildren(...rows);
  sizeBars(tbody);
}

// Bar widths come from data attributes: the CSP forbids inline styles in
// markup, but a script may set them through the CSSOM.
function sizeBars(root) {
  root.querySelectorAll("[data-share]").forEach((el) => {
    el.style.width = `${Math.max(2, Number(el.dataset.share))}%`;
  });
}

function live(root) {
  const badge = root.querySelector(".live");
  const chart = root.querySelector("[data-chart]");
  const hot = root.querySelector("[data-hot]");
  const empty = root.querySelector("[data-hot-empty]");
  const source = new EventSource(root.dataset.live);
  source.addEventListener("open", () => {
    badge.classList.add("on");
    badge.textContent = "Live";
  });
  source.addEventListener("error", () => {
    badge.classList.remove("on");
    badge.textContent = "Reconnecting…";
  });
  source.addEventListener("pulse", (event) => {
    const p = JSON.parse(event.data);
    Object.entries(p.metrics).forEach(([name, text]) => setText(name, text));
    if (chart) chart.innerHTML = p.chart;
    if (hot) hotRows(hot, p.hot);
    if (empty) empty.hidden = p.hot.length > 0;
  });
  source.addEventListener("stock", (event) => {
    const s = JSON.parse(event.data);
    const at = Date.now();
    document.querySelectorAll(`tr[data-sku="${CSS.escape(s.sku)}"] .stock`).forEach((td) => {
      show(td, s.available, at);
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  sizeBars(document);
  const root = document.querySelector("[data-live]");
  if (root && window.EventSource) live(root);
});
