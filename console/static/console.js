// goflyte console: confirmations and live updates (Server-Sent Events).
// Everything from the server is put in the page as text, never as HTML.
"use strict";

const STATUSES = ["running", "succeeded", "failed", "cancelled", "interrupted", "skipped", "pending"];

function setStatus(el, status, base) {
  if (!el) return;
  el.dataset.status = status;
  el.setAttribute("class", base + " st-" + status);
}

function renderCounts(el, counts) {
  if (!el || !counts) return;
  el.replaceChildren();
  for (const s of STATUSES) {
    if (!counts[s]) continue;
    const span = document.createElement("span");
    span.className = "count st-" + s;
    span.title = s;
    span.textContent = counts[s] + " " + s;
    el.append(span, " ");
  }
}

function fmtMS(ms) {
  if (ms < 1000) return ms + "ms";
  if (ms < 60000) return (ms / 1000).toFixed(2) + "s";
  return Math.round(ms / 1000) + "s";
}

function ofTask(node, task) {
  return node === task || node.startsWith(task + "@") || node.startsWith(task + "+");
}

// Forms that act ask first.
document.addEventListener("submit", (e) => {
  const msg = e.target.dataset.confirm;
  if (msg && !window.confirm(msg)) e.preventDefault();
});

function liveGraph(graph) {
  const es = new EventSource(graph.dataset.live);
  es.addEventListener("reset", () => location.reload());
  const counts = {};
  es.addEventListener("task", (e) => {
    const t = JSON.parse(e.data);
    const node = document.getElementById("node-" + t.name);
    if (node) {
      setStatus(node, t.status, "node");
      const sub = node.querySelector("text.sub");
      if (sub) sub.textContent = t.note;
    }
    const row = document.getElementById("row-" + t.name);
    if (row) setStatus(row.querySelector("td.status"), t.status, "status"), (row.querySelector("td.status").textContent = t.status);
  });
  es.addEventListener("run", (e) => {
    const r = JSON.parse(e.data);
    const st = document.getElementById("run-status");
    if (st) { setStatus(st, r.status, "status"); st.textContent = r.status; }
    renderCounts(document.getElementById("run-counts"), r.task_counts);
    if (r.end && r.duration_ms) document.getElementById("run-duration").textContent = fmtMS(r.duration_ms);
  });
  es.addEventListener("end", () => {
    es.close();
    const cancel = document.querySelector('form[action$="/cancel"]');
    if (cancel) cancel.remove();
    const p = document.createElement("p");
    p.className = "ended";
    const a = document.createElement("a");
    a.href = location.pathname;
    a.textContent = "The run is over: reload for its outputs.";
    p.append(a);
    graph.before(p);
  });
}

function liveLog(table) {
  const task = table.dataset.task;
  const es = new EventSource(table.dataset.live);
  es.addEventListener("reset", () => location.reload());
  es.addEventListener("log", (e) => {
    const l = JSON.parse(e.data);
    if (!ofTask(l.node, task)) return;
    const tr = document.createElement("tr");
    tr.className = "lvl-" + l.level;
    const when = new Date(l.time);
    for (const v of [when.toTimeString().slice(0, 8), l.node + (l.attempt > 1 ? "." + l.attempt : ""), l.level, l.msg]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    table.tBodies[0].append(tr);
    const empty = document.getElementById("log-empty");
    if (empty) empty.remove();
  });
  es.addEventListener("task", (e) => {
    const t = JSON.parse(e.data);
    if (t.name !== task) return;
    const st = document.getElementById("task-status");
    if (st) { setStatus(st, t.status, "status"); st.textContent = t.status; }
  });
  es.addEventListener("end", () => es.close());
}

function liveRuns(table) {
  const wf = table.dataset.workflow, status = table.dataset.status;
  const es = new EventSource(table.dataset.live);
  es.addEventListener("reset", () => location.reload());
  es.addEventListener("run", (e) => {
    const r = JSON.parse(e.data);
    let tr = document.getElementById("run-" + r.name);
    if (r.status === "deleted") { if (tr) tr.remove(); return; }
    if ((wf && r.workflow !== wf) || (status && r.status !== status)) { if (tr) tr.remove(); return; }
    if (!tr) {
      tr = document.createElement("tr");
      tr.id = "run-" + r.name;
      const a = document.createElement("a");
      a.href = "/runs/" + encodeURIComponent(r.name);
      a.textContent = r.name;
      const cells = [a, r.workflow, "", new Date(r.start).toLocaleString(), "", ""];
      for (const c of cells) { const td = document.createElement("td"); td.append(c); tr.append(td); }
      tr.cells[2].className = "status";
      tr.cells[4].className = "duration";
      tr.cells[5].className = "counts";
      table.tBodies[0].prepend(tr);
    }
    tr.dataset.status = r.status;
    setStatus(tr.cells[2], r.status, "status");
    tr.cells[2].textContent = r.status;
    tr.cells[4].textContent = r.status === "running" ? "-" : fmtMS(r.duration_ms);
    renderCounts(tr.cells[5], r.task_counts);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const graph = document.getElementById("graph");
  if (graph && graph.dataset.live) liveGraph(graph);
  const log = document.getElementById("log");
  if (log && log.dataset.live) liveLog(log);
  const runs = document.getElementById("runs");
  if (runs && runs.dataset.live) liveRuns(runs);
});
