// The Rules page's editor: validate, diff, what-if (started, then polled) and push, each a
// JSON call to /console/api/rules/…; the answers are shown as text, never as HTML.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const result = $("result");

  async function call(path, body) {
    const response = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) location.reload(); // the session ended: log in again
    return { status: response.status, body: await response.json().catch(() => ({})) };
  }

  function show(text, bad) {
    result.textContent = text;
    result.className = bad ? "bad" : "";
    result.hidden = false;
  }

  function refusal({ status, body }) {
    const lines = [body.detail || `refused (${status})`];
    for (const problem of body.problems || []) lines.push(`  ${problem.text}`);
    show(lines.join("\n"), true);
  }

  const yaml = () => $("yaml").value;

  $("validate").addEventListener("click", async () => {
    const answer = await call("/console/api/rules/validate", { yaml: yaml() });
    if (answer.status !== 200) return refusal(answer);
    const warnings = answer.body.problems.map((p) => `  warning: ${p.text}`);
    show([`valid: ruleset ${answer.body.ruleset}, ${answer.body.rules} rules`, ...warnings].join("\n"));
  });

  $("diff").addEventListener("click", async () => {
    const answer = await call("/console/api/rules/diff", { yaml: yaml() });
    if (answer.status !== 200) return refusal(answer);
    show(answer.body.text);
  });

  // "30 → 60 (×2)": recorded, then candidate
  function change([before, after]) {
    if (before === after) return before.toLocaleString("en");
    const ratio = before ? ` (×${+(after / before).toFixed(2)})` : "";
    return `${before.toLocaleString("en")} → ${after.toLocaleString("en")}${ratio}`;
  }

  function grouped(figures) {
    return Object.entries(figures).map(([name, pair]) => `${name} ${change(pair)}`).join(", ") || "-";
  }

  function showWhatIf(job) {
    const rows = $("whatif-result").tBodies[0];
    rows.replaceChildren();
    for (const rule of job.result.rules) {
      const row = rows.insertRow();
      row.dataset.rule = rule.rule;
      if (rule.changed) row.className = "changed";
      const cells = [
        [rule.rule, "rule"],
        [change(rule.rewards), "rewards"],
        [grouped(rule.amounts), "amounts"],
        [grouped(rule.suppressed), "suppressed"],
        [change(rule.cooldowns), "cooldowns"],
        [change(rule.players), "players"],
      ];
      for (const [text, name] of cells) {
        const cell = row.insertCell();
        cell.textContent = text;
        cell.className = name;
      }
    }
    $("whatif-result").hidden = false;
  }

  async function follow(jobId) {
    const status = $("whatif-status");
    for (;;) {
      const answer = await call(`/console/api/rules/whatif/${encodeURIComponent(jobId)}`);
      if (answer.status !== 200) return refusal(answer);
      const job = answer.body;
      const { records_done: done, records_total: total, seconds_left: left } = job.progress;
      if (job.state === "running") {
        status.textContent = `What-if of ${job.window}: ${done.toLocaleString("en")} of ~${total.toLocaleString("en")} records, about ${Math.ceil(left)} s left`;
      } else if (job.state === "failed") {
        status.textContent = `What-if failed: ${job.error}`;
        status.className = "problem";
        return;
      } else {
        const r = job.result;
        const agreed = r.mismatches
          ? `the replay of the rules in force differs from the journal in ${r.mismatches.toLocaleString("en")} decisions (run pitboss replay to see them)`
          : "the replay of the rules in force agrees with the journal";
        status.textContent = `What-if of ${job.window} done: ${r.events_in_range.toLocaleString("en")} events in range, ${r.records.toLocaleString("en")} records read, under ${r.candidate} against the rules in force (${r.elapsed_s} s); ${agreed}.`;
        status.dataset.state = "done";
        return showWhatIf(job);
      }
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
  }

  const whatIf = $("whatif");
  if (whatIf) {
    whatIf.addEventListener("click", async () => {
      const status = $("whatif-status");
      status.hidden = false;
      status.className = "";
      delete status.dataset.state;
      $("whatif-result").hidden = true;
      const answer = await call("/console/api/rules/whatif", {
        yaml: yaml(),
        from: $("whatif-from").value,
        to: $("whatif-to").value,
      });
      if (answer.status !== 202) {
        status.hidden = true;
        return refusal(answer);
      }
      result.hidden = true;
      await follow(answer.body.job_id);
    });
  }

  const push = $("push");
  if (push) {
    push.addEventListener("click", async () => {
      const answer = await call("/console/api/rules/push", {
        yaml: yaml(),
        if_revision: Number(push.dataset.revision),
      });
      if (answer.status === 202) {
        show(`Waiting for a second crm_manager to approve (request ${answer.body.request_id}):\n  ${answer.body.lines.join("\n  ")}`);
      } else if (answer.status === 200 && answer.body.status === "pushed") {
        show(`Pushed revision ${answer.body.revision}; the workers switch to it within seconds.\n  ${answer.body.lines.join("\n  ")}`);
      } else if (answer.status === 200) {
        show(`Nothing to push: ${answer.body.text}`);
      } else refusal(answer);
    });
  }

  for (const button of document.querySelectorAll("button.approve")) {
    button.addEventListener("click", async () => {
      const id = encodeURIComponent(button.dataset.request);
      const answer = await call(`/console/api/rules/pushes/${id}/approve`, {});
      if (answer.status !== 200) return refusal(answer);
      show(`Approved: revision ${answer.body.revision} published; the workers switch to it within seconds.`);
      button.closest(".request").remove();
    });
  }
})();
