// The live overview: polls /console/api/overview/group, shows the group's counters, each
// worker's line (and the workers that did not answer), the rates between two polls, a line
// chart of the last minutes' rates and bars per rule, kind, reason and partition.
"use strict";
(() => {
  const POLL_MS = 2000;
  const KEEP = 90; // points on the rate chart
  const SVG = "http://www.w3.org/2000/svg";
  const history = [];
  let previous = null;

  const number = (n) => Math.round(n).toLocaleString("en");
  const set = (id, text) => {
    const el = document.getElementById(id);
    if (el) el.textContent = text;
  };

  function bars(id, entries) {
    const table = document.getElementById(id);
    table.replaceChildren();
    const max = Math.max(1, ...entries.map(([, v]) => v));
    if (!entries.length) {
      const row = table.insertRow();
      row.insertCell().textContent = "none yet";
    }
    for (const [label, value] of entries) {
      const row = table.insertRow();
      row.dataset.label = label;
      row.insertCell().textContent = label;
      row.insertCell().textContent = number(value);
      const svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("width", "150");
      svg.setAttribute("height", "12");
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("width", String(Math.max(1, (150 * value) / max)));
      rect.setAttribute("height", "12");
      rect.setAttribute("fill", "#3b6fd8");
      svg.append(rect);
      const cell = row.insertCell();
      cell.className = "bar";
      cell.append(svg);
    }
  }

  function chart() {
    const svg = document.getElementById("rates");
    svg.replaceChildren();
    const max = Math.max(1, ...history.flatMap((p) => [p.events, p.decisions]));
    for (const [key, colour] of [["events", "#3b6fd8"], ["decisions", "#d8873b"]]) {
      const line = document.createElementNS(SVG, "polyline");
      const points = history.map((p, i) => `${(i * 600) / (KEEP - 1)},${115 - (p[key] * 105) / max}`);
      line.setAttribute("points", points.join(" "));
      line.setAttribute("fill", "none");
      line.setAttribute("stroke", colour);
      line.setAttribute("stroke-width", "2");
      svg.append(line);
    }
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", "4");
    label.setAttribute("y", "12");
    label.setAttribute("font-size", "11");
    label.textContent = `max ${number(max)}/s · blue events · orange decisions`;
    svg.append(label);
  }

  function workers(group) {
    const body = document.querySelector("#workers tbody");
    body.replaceChildren();
    for (const w of group.workers) {
      const row = body.insertRow();
      row.dataset.worker = w.worker_id;
      const lag = w.lag.reduce((sum, p) => sum + p.records, 0);
      const cells = [w.worker_id, w.ready ? "ready" : "starting", ...["events", "decisions", "rewards", "suppressions"].map((k) => number(w.totals[k])), number(w.cooldowns_running), number(w.totals.dead_letters), number(lag)];
      for (const text of cells) row.insertCell().textContent = text;
    }
    for (const u of group.unanswered) {
      const row = body.insertRow();
      row.className = "unanswered";
      row.dataset.worker = u.worker_id ?? u.url;
      row.insertCell().textContent = u.worker_id ?? u.url;
      const cell = row.insertCell();
      cell.colSpan = 8;
      cell.textContent = u.problem;
    }
    const note = document.getElementById("unanswered");
    note.hidden = !group.unanswered.length;
    note.textContent = group.unanswered.map((u) => u.problem).join("; ") + (group.unanswered.length ? ": the figures leave it out" : "");
  }

  function show(data, at) {
    for (const [name, value] of Object.entries(data.totals)) set(`total-${name}`, number(value));
    set("cooldowns", number(data.cooldowns_running));
    if (previous) {
      const seconds = Math.max((at - previous.at) / 1000, 0.001);
      const rate = (name) => Math.max(data.totals[name] - previous.data.totals[name], 0) / seconds;
      const point = { events: rate("events"), decisions: rate("decisions") };
      set("rate-events", number(point.events));
      set("rate-decisions", number(point.decisions));
      history.push(point);
      if (history.length > KEEP) history.shift();
      chart();
    }
    previous = { data, at };
    for (const id of ["rewards_by_rule", "rewards_by_kind", "amounts_by_kind", "suppressions_by_reason"]) {
      bars(id, Object.entries(data[id]));
    }
    // per topic: the sum, and each partition's lag in partition order
    const topics = new Map();
    for (const p of data.lag) topics.set(p.topic, [...(topics.get(p.topic) ?? []), p.records]);
    bars("lag", [...topics].map(([topic, lags]) => [`${topic} (${lags.join(" · ")})`, lags.reduce((a, b) => a + b, 0)]));
    set("status", data.ready ? `updated ${new Date(at).toLocaleTimeString()}` : "the worker is starting");
  }

  async function poll() {
    try {
      const response = await fetch("/console/api/overview/group", { credentials: "same-origin" });
      if (response.status === 401) return location.reload(); // the session ended: log in again
      if (!response.ok) throw new Error(`the worker answered ${response.status}`);
      const group = await response.json();
      workers(group);
      show(group.total, Date.now());
    } catch (error) {
      set("status", `not updated: ${error.message}`);
    }
    setTimeout(poll, POLL_MS);
  }
  poll();
})();
