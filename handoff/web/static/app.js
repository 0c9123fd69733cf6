// Baton companion web view: runs, live status, artifacts, approvals, and continuing a run.
// Plain DOM, no build step. Everything shown comes from /app/api and /runs/{id}/events.
"use strict";

const EVENT_TYPES = [
  "RunCreated", "RunQueued", "StepStarted", "ModelCalled", "DecisionRecorded",
  "ToolCallProposed", "ToolCallDenied", "ToolCallStarted", "ToolCallSucceeded",
  "ToolCallFailed", "ToolCallReplayed", "ApprovalRequested", "ApprovalGranted",
  "ApprovalDenied", "ApprovalSuperseded", "HumanInputRequested", "UserMessageReceived",
  "MemoryWriteProposed", "RunResumed", "RunCompleted", "RunFailed", "RunCancelled",
  "CheckpointWritten", "ArtifactCreated", "RunMetaChanged",
];
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const STATUS_TEXT = {
  created: "Created", queued: "Queued", planning: "Thinking", waiting_for_model: "Thinking",
  waiting_for_tool: "Working", running_tool: "Working", waiting_for_human: "Waiting for you",
  completed: "Completed", failed: "Failed", cancelled: "Cancelled",
};

const state = { me: null, stream: null, refreshTimer: null, runId: null, focused: null };
const view = () => document.getElementById("view");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.me) headers["X-Baton-CSRF"] = state.me.csrf;
  const res = await fetch(url, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await res.json();
  } catch (_) {
    data = null;
  }
  if (!res.ok) {
    const detail = data && (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail));
    const err = new Error(detail || `${res.status} ${res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

function flash(message, kind = "error") {
  const box = el("div", { class: `flash ${kind}`, role: "status", "data-testid": "flash", text: message });
  view().prepend(box);
  setTimeout(() => box.remove(), 6000);
}

function badge(status) {
  return el("span", { class: `badge s-${status}`, "data-testid": "status", "data-status": status },
    STATUS_TEXT[status] || status);
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

// ------------------------------------------------------------------ sign-in

function renderSignIn(reason) {
  const input = el("input", {
    type: "password", name: "api_key", autocomplete: "current-password",
    placeholder: "bk_…", "aria-label": "API key", required: true,
  });
  const form = el("form", { class: "card", "data-testid": "sign-in" },
    el("h1", { text: "Sign in" }),
    el("p", { class: "muted", text: reason || "Open the link from a notification, or use an API key." }),
    input,
    el("button", { type: "submit", class: "primary", text: "Sign in" }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", "/app/api/session", { api_key: input.value });
      await start();
    } catch (err) {
      flash(err.message);
    }
  });
  view().replaceChildren(form);
}

// ------------------------------------------------------------------ runs list

async function renderRuns() {
  const runs = await api("GET", "/app/api/runs");
  const list = el("ul", { class: "runs", "data-testid": "runs" },
    runs.map((r) => el("li", {},
      el("a", { class: "card run-link", href: `/app/runs/${encodeURIComponent(r.run_id)}` },
        el("div", { class: "row" }, badge(r.status), el("span", { class: "muted", text: when(r.updated_at) })),
        el("div", { class: "goal", text: r.goal })))));
  view().replaceChildren(
    el("h1", { text: "Your runs" }),
    runs.length ? list : el("p", { class: "muted", text: "No runs yet." }),
    pushCard());
}

// ------------------------------------------------------------------ push subscription

function pushCard() {
  const status = el("p", { class: "muted", "data-testid": "push-status" });
  const button = el("button", { type: "button", text: "Notify me on this device" });
  button.addEventListener("click", () => subscribePush(status));
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
    status.textContent = "This browser cannot receive push notifications.";
    button.disabled = true;
  } else if (!state.me.vapid_public_key) {
    status.textContent = "Push is not set up on this server.";
    button.disabled = true;
  }
  return el("section", { class: "card" }, el("h2", { text: "Notifications" }), status, button);
}

async function registerWorker() {
  if (!("serviceWorker" in navigator)) return null;
  try {
    const reg = await navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" });
    document.body.dataset.sw = "registered";
    return reg;
  } catch (err) {
    document.body.dataset.sw = "failed";
    return null;
  }
}

async function subscribePush(status) {
  try {
    const reg = await registerWorker();
    if (!reg) throw new Error("the service worker could not be registered");
    const permission = await Notification.requestPermission();
    if (permission !== "granted") throw new Error("notifications are blocked for this site");
    await navigator.serviceWorker.ready;
    const sub = await reg.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: state.me.vapid_public_key,
    });
    await api("POST", "/devices", { subscription: sub.toJSON(), label: "browser" });
    status.textContent = "This device will be notified.";
  } catch (err) {
    status.textContent = `Push unavailable: ${err.message}`;
  }
}

// ------------------------------------------------------------------ run page

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => refreshRun().catch((e) => flash(e.message)), 150);
}

function openStream(runId, lastSeq) {
  closeStream();
  // The browser resends Last-Event-ID itself when it reconnects.
  const src = new EventSource(`/runs/${encodeURIComponent(runId)}/events?after=${lastSeq}`);
  for (const t of EVENT_TYPES) src.addEventListener(t, scheduleRefresh);
  src.onopen = () => { document.body.dataset.live = "on"; };
  src.onerror = () => { document.body.dataset.live = "reconnecting"; };
  state.stream = src;
}

function closeStream() {
  if (state.stream) state.stream.close();
  state.stream = null;
  document.body.dataset.live = "off";
}

// Follow the run live while it can still change.
function follow(data) {
  if (data && !TERMINAL.has(data.run.status)) openStream(data.run.run_id, data.run.last_event_seq);
}

async function renderRun(runId) {
  state.runId = runId;
  follow(await refreshRun());
  registerWorker();
}

async function refreshRun() {
  let data;
  try {
    data = await api("GET", `/app/api/runs/${encodeURIComponent(state.runId)}`);
  } catch (err) {
    if (err.status === 401 || err.status === 403 || err.status === 404) {
      closeStream();
      renderSignIn(err.status === 401 ? undefined : err.message || "This run is not available to you.");
      return null;
    }
    throw err;
  }
  drawRun(data);
  if (TERMINAL.has(data.run.status)) closeStream();
  return data;
}

function drawRun(data) {
  const { run, actions } = data;
  const parts = [
    el("section", { class: "card head" },
      el("div", { class: "row" }, badge(run.status),
        el("span", { class: "live muted", "data-testid": "live", text: "live" })),
      el("h1", { class: "goal", "data-testid": "goal", text: run.goal }),
      run.parent_run_id ? el("p", { class: "muted" }, "Follow-up of ",
        el("a", { href: `/app/runs/${encodeURIComponent(run.parent_run_id)}`, text: "the earlier run" })) : null,
      run.result ? el("p", { class: "result", "data-testid": "result", text: run.result }) : null,
      run.failure_reason ? el("p", { class: "error", text: run.failure_reason }) : null),
  ];
  if (data.pending_approval && actions.approve) parts.push(approvalCard(data.pending_approval));
  if (data.artifacts.length) parts.push(artifactsCard(data.artifacts));
  parts.push(continueCard(run, actions));
  if (data.follow_ups.length) {
    parts.push(el("section", { class: "card" }, el("h2", { text: "Follow-ups" }),
      el("ul", {}, data.follow_ups.map((f) => el("li", {},
        el("a", { href: `/app/runs/${encodeURIComponent(f.run_id)}`, text: f.goal }), " ", badge(f.status))))));
  }
  if (data.trace && data.trace.steps.length) parts.push(traceCard(data.trace));
  parts.push(timelineCard(data.timeline));
  view().replaceChildren(...parts.filter(Boolean));
  // Open at what the notification announced, once; later live updates keep the scroll.
  const focus = decodeURIComponent(location.hash.slice(1));
  if (focus && state.focused !== focus) {
    const target = document.getElementById(focus);
    if (target) target.scrollIntoView({ block: "start" });
    state.focused = focus;
  }
}

function approvalCard(a) {
  const decide = (decision) => async (ev) => {
    ev.target.disabled = true;
    try {
      await api("POST", `/app/api/runs/${encodeURIComponent(state.runId)}/approve`,
        { approval_id: a.approval_id, decision });
      follow(await refreshRun());
    } catch (err) {
      flash(err.message);
      ev.target.disabled = false;
    }
  };
  return el("section", { class: "card approval", id: a.approval_id, "data-testid": "approval" },
    el("h2", { text: "Approval needed" }),
    el("p", { class: "question", text: a.question || `Allow ${a.tool_name}?` }),
    el("pre", { class: "args", text: JSON.stringify(a.arguments_json, null, 2) }),
    el("div", { class: "row buttons" },
      el("button", { type: "button", class: "primary", "data-testid": "approve", onclick: decide("approve"), text: "Approve" }),
      el("button", { type: "button", class: "danger", "data-testid": "deny", onclick: decide("deny"), text: "Deny" })));
}

function artifactsCard(items) {
  return el("section", { class: "card" }, el("h2", { text: "Results" }),
    items.map((a) => {
      const body = el("div", { class: "artifact-body" });
      // Rendered on the server from markdown/CSV/JSON with raw HTML disabled and escaped.
      if (a.html) body.innerHTML = a.html;
      else body.append(el("p", { class: "muted", text: a.error || "No preview for this type." }));
      return el("article", { class: "artifact", id: a.artifact_id, "data-testid": "artifact" },
        el("div", { class: "row" }, el("h3", { text: a.name }),
          el("a", { href: a.download_url, class: "muted", text: "Download" })),
        body);
    }));
}

function continueCard(run, actions) {
  const box = el("section", { class: "card", "data-testid": "continue" }, el("h2", { text: "Continue" }));
  const id = encodeURIComponent(run.run_id);
  const text = el("textarea", { rows: 2, "data-testid": "message", placeholder: actions.follow_up ? "Ask a follow-up…" : "Type to the run…" });
  const send = el("button", { type: "button", class: "primary", "data-testid": "send" },
    actions.follow_up ? "Start follow-up" : "Send");
  send.addEventListener("click", async () => {
    const value = text.value.trim();
    if (!value) return;
    send.disabled = true;
    try {
      if (actions.follow_up) {
        const child = await api("POST", `/app/api/runs/${id}/follow-up`, { text: value });
        location.assign(`/app/runs/${encodeURIComponent(child.run_id)}`);
        return;
      }
      await api("POST", `/app/api/runs/${id}/continue`, { text: value });
      text.value = "";
      follow(await refreshRun());
    } catch (err) {
      flash(err.message);
    } finally {
      send.disabled = false;
    }
  });
  if (actions.continue || actions.follow_up) box.append(text, send);
  const row = el("div", { class: "row buttons" });
  if (actions.resume) {
    row.append(el("button", { type: "button", "data-testid": "resume", text: "Resume", onclick: async () => {
      try {
        await api("POST", `/app/api/runs/${id}/continue`, {});
        follow(await refreshRun());
      } catch (err) { flash(err.message); }
    } }));
  }
  row.append(el("a", { class: "button", href: actions.call_url, "data-testid": "call", text: "Continue by voice" }));
  if (actions.cancel) {
    row.append(el("button", { type: "button", class: "danger", "data-testid": "cancel", text: "Cancel run", onclick: async () => {
      if (!confirm("Cancel this run?")) return;
      try {
        await api("POST", `/app/api/runs/${id}/cancel`, {});
        await refreshRun();
      } catch (err) { flash(err.message); }
    } }));
  }
  box.append(row);
  return box;
}

function timelineCard(items) {
  return el("section", { class: "card" }, el("h2", { text: "Timeline" }),
    el("ol", { class: "timeline", "data-testid": "timeline" },
      items.map((i) => el("li", { class: `t-${i.kind}`, "data-type": i.type },
        el("div", { class: "row" }, el("strong", { text: i.title }), el("span", { class: "muted", text: when(i.at) })),
        i.detail ? el("div", { class: "detail", text: i.detail }) : null))));
}

// Each step from the run's trace: how long it took, and its model calls (cost, latency),
// tool calls (latency, outcome), approvals and how the turn was understood.
function traceCard(trace) {
  return el("section", { class: "card" }, el("h2", { text: "Steps" }),
    trace.cost_usd > 0 ? el("p", { class: "muted", "data-testid": "trace-cost",
      text: `Model cost in total: $${Number(trace.cost_usd.toPrecision(3))}` }) : null,
    el("ol", { class: "timeline trace", "data-testid": "trace" },
      trace.steps.map((s) => el("li", { class: s.status === "error" ? "t-error" : "t-step", "data-step": s.step },
        el("strong", { class: "step-title", text: s.title }),
        s.lines.map((l) => el("div", { class: `detail l-${l.kind}`, text: l.text }))))));
}

// ------------------------------------------------------------------ contacts

async function renderContacts() {
  let contacts;
  try {
    contacts = await api("GET", "/contacts");
  } catch (err) {
    // A session from a deep link is limited to its run: the address book needs a sign-in.
    if (err.status === 401) return renderSignIn("Sign in with an API key to see your contacts.");
    throw err;
  }
  const list = el("ul", { class: "contacts", "data-testid": "contacts" },
    contacts.map((c) => el("li", { class: "card", "data-contact-id": c.contact_id },
      el("div", { class: "name", text: c.name }),
      c.aliases.length ? el("div", { class: "muted", text: `Also: ${c.aliases.join(", ")}` }) : null,
      c.email ? el("div", {}, el("a", { href: `mailto:${c.email}`, text: c.email })) : null,
      c.phone ? el("div", {}, el("a", { href: `tel:${c.phone}`, text: c.phone })) : null)));
  const empty = el("p", { class: "muted", "data-testid": "no-contacts",
    text: "No contacts yet: add them with `baton contacts add`, or import a vCard file." });
  view().replaceChildren(el("h1", { text: "Your contacts" }), contacts.length ? list : empty);
}

// ------------------------------------------------------------------ start

async function start() {
  try {
    state.me = await api("GET", "/app/api/me");
  } catch (err) {
    if (err.status === 401) return renderSignIn();
    throw err;
  }
  document.getElementById("who").textContent = state.me.user_id;
  const m = location.pathname.match(/^\/app\/runs\/([^/]+)$/);
  if (m) return renderRun(decodeURIComponent(m[1]));
  if (location.pathname === "/app/contacts") return renderContacts();
  return renderRuns();
}

document.addEventListener("DOMContentLoaded", () => {
  start().catch((err) => flash(err.message));
});
