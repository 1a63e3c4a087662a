// Sever responder console. Plain JavaScript, no framework, no build step, served by Sever.
//
// The token lives in the `token` variable below and nowhere else: never in the URL, in
// web storage or in a cookie. Everything shown is built with textContent (never as HTML),
// so identifiers, reasons and vendor messages are shown as text.
"use strict";

(() => {
  let token = null;
  let backends = [];
  const plugins = new Map();
  // What the last successful preview asked for (the reason aside, which may be given
  // after it): only that request may be confirmed.
  let previewed = null;
  // How many times the audit trail was shown (`data-loads` on its rows: a finished refresh).
  let auditLoads = 0;

  const $ = (id) => document.getElementById(id);

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function status(text, isError) {
    const s = $("status");
    s.textContent = text;
    s.classList.toggle("error", Boolean(isError));
  }

  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + token, Accept: "application/json" };
    const init = { method, headers, cache: "no-store", credentials: "omit", redirect: "error" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let json = null;
    try {
      json = await response.json();
    } catch (e) {
      json = null;
    }
    return { status: response.status, json };
  }

  // A problem document (RFC 9457) as a card.
  function problemCard(problem, httpStatus) {
    const p = problem || {};
    return el("div", { class: "card problem", "data-status": String(httpStatus), "data-code": p.code || "" },
      el("h3", { text: `${httpStatus} ${p.code || "error"}${p.backend ? " on " + p.backend : ""}` }),
      el("div", { text: p.title || "" }),
      el("div", { class: "detail", text: p.detail || "" }),
      p.vendor ? el("pre", { text: "vendor: " + JSON.stringify(p.vendor) }) : null);
  }

  // --- token -------------------------------------------------------------------------

  async function useToken(event) {
    event.preventDefault();
    const input = $("token");
    const value = input.value.trim();
    input.value = "";
    if (!value) {
      status("Enter a token first.", true);
      return;
    }
    token = value;
    status("Loading backends…");
    const [b, p] = await Promise.all([api("GET", "/v1/backends"), api("GET", "/v1/plugins")]);
    if (b.status !== 200 || p.status !== 200) {
      const bad = b.status !== 200 ? b : p;
      token = null;
      status(`Token refused: ${bad.status} ${(bad.json && bad.json.detail) || ""}`, true);
      return;
    }
    backends = b.json.backends;
    plugins.clear();
    for (const plugin of p.json.plugins) plugins.set(plugin.name, plugin);
    $("token-forget").disabled = false;
    status(`Token accepted: ${backends.length} backend(s).`);
    renderChoices();
    $("select").hidden = false;
    $("audit").hidden = false;
    $("approvals").hidden = false;
    refreshAudit();
    refreshApprovals();
  }

  function forgetToken() {
    token = null;
    backends = [];
    previewed = null;
    $("select").hidden = true;
    $("audit").hidden = true;
    $("approvals").hidden = true;
    $("token-forget").disabled = true;
    for (const id of ["backend-list", "tag-list", "preview-out", "result-out", "audit-rows", "approvals-list"]) {
      $(id).replaceChildren();
    }
    status("Token forgotten.");
  }

  // --- selection ---------------------------------------------------------------------

  function mode() {
    return $("mode-tags").checked ? "tags" : "names";
  }

  function renderChoices() {
    const list = $("backend-list");
    list.replaceChildren();
    for (const b of backends) {
      const box = el("input", { type: "checkbox", class: "backend", value: b.name, id: "backend-" + b.name });
      const tags = b.tags.length ? ` [${b.tags.join(", ")}]` : "";
      list.append(el("label", { for: box.id }, box, ` ${b.name} (${b.plugin})${tags}`));
    }
    const tags = [...new Set(backends.flatMap((b) => b.tags))].sort();
    const tagList = $("tag-list");
    tagList.replaceChildren();
    for (const t of tags) {
      const box = el("input", { type: "checkbox", class: "tag", value: t, id: "tag-" + t });
      tagList.append(el("label", { for: box.id }, box, " " + t));
    }
    selectionChanged();
  }

  function checked(selector) {
    return [...document.querySelectorAll(selector)].filter((b) => b.checked).map((b) => b.value);
  }

  // The backends the current choice selects, as the API would (tags: all of them).
  function chosen() {
    if (mode() === "names") {
      const names = checked("input.backend");
      return backends.filter((b) => names.includes(b.name));
    }
    const tags = checked("input.tag");
    if (!tags.length) return [];
    return backends.filter((b) => tags.every((t) => b.tags.includes(t)));
  }

  function selectionChanged() {
    $("backend-list").hidden = mode() !== "names";
    $("tag-list").hidden = mode() !== "tags";
    const selected = chosen();
    $("selection").textContent = selected.length
      ? "Selected: " + selected.map((b) => b.name).join(", ")
      : "No backend selected.";
    const action = $("action");
    const before = action.value;
    const actions = [...new Set(selected.flatMap((b) => b.actions))];
    action.replaceChildren(...actions.map((a) => el("option", { value: a, text: a })));
    if (actions.includes(before)) action.value = before;
    renderFields();
  }

  // The target fields every chosen backend's plugin asks for, for the chosen action.
  function renderFields() {
    invalidatePreview();
    const action = $("action").value;
    const fields = [];
    const hints = [];
    for (const b of chosen()) {
      const plugin = plugins.get(b.plugin);
      const spec = plugin && plugin.actions.find((a) => a.action === action);
      if (!spec) {
        hints.push(`${b.name}: its plugin does not ${action || "act"}`);
        continue;
      }
      for (const f of spec.target_sets.flat().concat(spec.optional_fields)) {
        if (!fields.includes(f)) fields.push(f);
      }
      const sets = spec.target_sets.map((s) => s.join(" + ")).join(" or ");
      const optional = spec.optional_fields.length ? `; optional: ${spec.optional_fields.join(", ")}` : "";
      hints.push(`${b.name} (${b.plugin}): ${sets}${optional}`);
    }
    const box = $("target-fields");
    const values = new Map([...box.querySelectorAll("input")].map((i) => [i.dataset.field, i.value]));
    box.replaceChildren();
    for (const f of fields) {
      const input = el("input", { type: "text", id: "field-" + f, spellcheck: "false" });
      input.dataset.field = f;
      input.value = values.get(f) || "";
      input.addEventListener("input", invalidatePreview);
      box.append(el("label", { for: input.id, text: f }), input);
    }
    $("target-hint").textContent = hints.length ? "Target fields: " + hints.join(" · ") : "";
  }

  // The canonical request the form describes.
  function requestBody(dryRun) {
    const target = {};
    for (const input of $("target-fields").querySelectorAll("input")) {
      if (input.value !== "") target[input.dataset.field] = input.value;
    }
    const body = { action: $("action").value, target, dry_run: dryRun };
    const reason = $("reason").value;
    if (reason) body.reason = reason;
    if (mode() === "tags") {
      body.backends = { tags: checked("input.tag") };
    } else {
      const names = checked("input.backend");
      if (names.length === 1) body.backend = names[0];
      else body.backends = names;
    }
    return body;
  }

  // The request's identity for confirming: everything but the reason and dry_run.
  function planKey(body) {
    const { reason, dry_run, ...rest } = body;
    return JSON.stringify(rest);
  }

  function invalidatePreview() {
    previewed = null;
    $("confirm").disabled = true;
  }

  // --- preview and confirm -----------------------------------------------------------

  function plannedList(requests, stops) {
    const box = el("div", { class: "planned" });
    for (const r of requests || []) {
      const text = r.kind
        ? JSON.stringify(r, null, 2)
        : `${r.method} ${r.url}\n${Object.entries(r.headers || {}).map(([k, v]) => `${k}: ${v}`).join("\n")}` +
          (r.body ? `\n\n${r.body}` : "");
      box.append(el("pre", { class: "planned-request", text }));
    }
    if (stops) box.append(el("div", { class: "note", text: "Planning stops: " + stops }));
    return box;
  }

  function resultCard(item, dryRun) {
    if (item.outcome === "failed") {
      const card = problemCard(item.problem, item.problem && item.problem.status);
      card.classList.add("result");
      card.dataset.backend = item.backend;
      card.prepend(el("div", { class: "outcome-failed", text: `${item.backend}: failed` }));
      return card;
    }
    const card = el("div", { class: "card result", "data-backend": item.backend, "data-outcome": item.outcome },
      el("h3", { class: "outcome-" + item.outcome, text: `${item.backend}: ${item.outcome}` }));
    if (item.vendor) card.append(el("pre", { text: "vendor: " + JSON.stringify(item.vendor) }));
    if (dryRun) card.append(plannedList(item.requests, item.planning_stops));
    return card;
  }

  // Shows an answer of POST /v1/actions in `box`.
  function showAnswer(box, answer, dryRun) {
    const { status: code, json } = answer;
    box.replaceChildren();
    box.dataset.status = String(code);
    if (!json || (code >= 400 && code !== 207)) {
      box.append(problemCard(json, code));
      return false;
    }
    if (json.results) {
      const s = json.summary || {};
      const tally = Object.entries(s).map(([k, v]) => `${k} ${v}`).join(", ");
      const head = code === 207
        ? "207 partial: some backends failed"
        : `${code} every backend ${dryRun ? "planned" : "succeeded"}`;
      box.append(el("h3", { class: "summary", text: `${head} (${tally})` }));
      for (const item of json.results) box.append(resultCard(item, dryRun));
    } else {
      box.append(el("h3", { class: "summary", text: `${code} ${json.outcome}` }));
      box.append(resultCard(json, dryRun));
    }
    box.append(el("div", { class: "note", text: "request id: " + json.request_id }));
    return true;
  }

  async function preview() {
    const body = requestBody(true);
    $("result-out").replaceChildren();
    const answer = await api("POST", "/v1/actions", body);
    const ok = showAnswer($("preview-out"), answer, true);
    if (ok) {
      previewed = planKey(body);
      $("confirm").disabled = false;
    } else {
      invalidatePreview();
    }
  }

  async function confirmSend() {
    const body = requestBody(false);
    if (previewed === null || planKey(body) !== previewed) {
      invalidatePreview();
      status("The request changed since its preview: preview it again.", true);
      return;
    }
    if (!body.reason) {
      status("A reason is required to send: it goes to the audit log.", true);
      $("reason").focus();
      return;
    }
    $("confirm").disabled = true;
    previewed = null;
    const answer = await api("POST", "/v1/actions", body);
    if (answer.status === 202 && answer.json && answer.json.outcome === "pending_approval") {
      showPending($("result-out"), answer.json);
      status("Waiting for approval by another caller.");
      refreshApprovals();
    } else {
      showAnswer($("result-out"), answer, false);
      status("Sent.");
    }
    refreshAudit();
  }

  // --- audit trail -------------------------------------------------------------------

  function outcomeText(entry) {
    if (entry.state === "no_outcome") return "no outcome line (running, or unknown: check the vendor)";
    return entry.outcomes
      .map((o) => `${o.backend || "request"}: ${o.outcome || o.code || (o.status ? "status " + o.status : "?")}`)
      .join("; ");
  }

  async function refreshAudit() {
    const params = new URLSearchParams({ limit: "20" });
    const backend = $("audit-backend").value.trim();
    if (backend) params.set("backend", backend);
    const answer = await api("GET", "/v1/audit?" + params.toString());
    const rows = $("audit-rows");
    rows.replaceChildren();
    if (answer.status !== 200) {
      const p = answer.json || {};
      rows.append(el("tr", { class: "error" }, el("td", { colspan: "8", text: `${answer.status} ${p.code || ""}: ${p.detail || ""}` })));
      auditLoads += 1;
      rows.dataset.loads = String(auditLoads);
      return;
    }
    for (const e of answer.json.entries) {
      const first = e.intent || e.outcomes[0] || {};
      rows.append(el("tr", { class: "audit-entry", "data-request-id": e.request_id },
        el("td", { text: e.time || "" }),
        el("td", { text: e.request_id }),
        el("td", { text: e.caller || "" }),
        el("td", { text: e.action || "" }),
        el("td", { text: e.backends.join(", ") }),
        el("td", { text: JSON.stringify(first.target || {}) }),
        el("td", { text: first.reason || "" }),
        el("td", { class: "state-" + e.state, text: outcomeText(e) })));
    }
    if (!answer.json.entries.length) {
      rows.append(el("tr", {}, el("td", { colspan: "8", class: "note", text: "No entries." })));
    }
    auditLoads += 1;
    rows.dataset.loads = String(auditLoads);
  }

  // --- pending approvals (four-eyes) ------------------------------------------------
  // GET /v1/approvals lists what this token may see; each card shows what would be sent
  // (the dry-run plan stored with the request, secrets redacted) and offers approve and
  // deny. Sever decides who may: the requester and non-approvers get a 403 shown here.

  // How many times the approvals list was shown (`data-loads`: a finished refresh).
  let approvalLoads = 0;

  function approvalCard(a) {
    const card = el("div", { class: "card approval", "data-approval-id": a.approval_id, "data-state": a.state },
      el("h3", { text: `${a.action} on ${a.backends.join(", ")}: ${a.state}` }),
      el("div", { text: `asked by ${a.requester} — reason: ${a.reason || "(none)"}` }),
      el("div", { class: "note", text: `target ${JSON.stringify(a.target)} · approvers: ${a.approvers.join(", ")} · expires ${a.expires_at}` }));
    for (const part of a.planned || []) {
      card.append(el("div", { class: "note", text: part.backend + ":" }));
      if (part.problem) card.append(problemCard(part.problem, part.problem.status));
      else card.append(plannedList(part.requests, part.planning_stops));
    }
    if (a.state === "pending") {
      const approve = el("button", { type: "button", class: "approve", text: "Approve and run" });
      const deny = el("button", { type: "button", class: "deny", text: "Deny" });
      const out = el("div", { class: "out decision" });
      approve.addEventListener("click", () => decide(a.approval_id, "approve", out));
      deny.addEventListener("click", () => decide(a.approval_id, "deny", out));
      card.append(el("div", { class: "buttons" }, approve, deny), out);
    }
    return card;
  }

  async function decide(id, verb, out) {
    const answer = await api("POST", `/v1/approvals/${encodeURIComponent(id)}/${verb}`);
    out.dataset.status = String(answer.status);
    if (answer.status >= 400 && answer.status !== 207) {
      // Refused (403, 409, 410), or approved and run but the run failed (its problem).
      out.replaceChildren(problemCard(answer.json, answer.status));
      status(`${verb}: ${answer.status} ${(answer.json && answer.json.code) || ""}`, true);
    } else if (verb === "approve") {
      showAnswer(out, answer, false);
      status("Approved: the request ran.");
    } else {
      out.replaceChildren(el("h3", { class: "summary", text: `${answer.status} denied: nothing was sent` }));
      status("Denied: nothing was sent.");
    }
    refreshAudit();
    refreshApprovals(out);
  }

  // Refreshes the list; `keep`, a decision's answer, stays shown above it.
  async function refreshApprovals(keep) {
    const answer = await api("GET", "/v1/approvals");
    const list = $("approvals-list");
    list.replaceChildren();
    if (keep) list.append(keep);
    if (answer.status !== 200) {
      list.append(problemCard(answer.json, answer.status));
    } else if (!answer.json.approvals.length) {
      list.append(el("p", { class: "note", text: "No request waits for approval." }));
    } else {
      for (const a of answer.json.approvals) list.append(approvalCard(a));
    }
    approvalLoads += 1;
    list.dataset.loads = String(approvalLoads);
  }

  // A 202 to a confirmed request: it waits for a second caller.
  function showPending(box, json) {
    box.replaceChildren(
      el("h3", { class: "summary outcome-pending_approval", text: "202 pending approval: nothing was sent" }),
      el("div", { class: "card pending", "data-approval-id": json.approval_id },
        el("div", { text: `approval ${json.approval_id} on ${json.backends.join(", ")}` }),
        el("div", { class: "note", text: `approvers: ${json.approvers.join(", ")} · expires ${json.expires_at}` })));
    box.dataset.status = "202";
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("token-form").addEventListener("submit", useToken);
    $("token-forget").addEventListener("click", forgetToken);
    $("mode-names").addEventListener("change", selectionChanged);
    $("mode-tags").addEventListener("change", selectionChanged);
    $("backend-list").addEventListener("change", selectionChanged);
    $("tag-list").addEventListener("change", selectionChanged);
    $("action").addEventListener("change", renderFields);
    $("preview").addEventListener("click", preview);
    $("confirm").addEventListener("click", confirmSend);
    $("audit-refresh").addEventListener("click", refreshAudit);
    $("approvals-refresh").addEventListener("click", () => refreshApprovals());
    document.body.dataset.ready = "true";
  });
})();
