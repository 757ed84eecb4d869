// wamd sim console: plain JavaScript, no framework, no build step, nothing from elsewhere.
// The page's actions are the control interface's routes (same origin, the token as the
// cookie the server set); what changes comes over the websocket at /console/events.
"use strict";

const S = {
  phones: [], groups: [], faults: { rules: [], fired: [] }, clock: 0, offset: 0,
  msgs: {},       // phone -> [message] in the order the phone saw them
  byId: {},       // phone -> id -> message
  receipts: {},   // phone -> id -> "delivered" | "read"
  notes: {},      // phone -> [{chat, text, t, seq}]
  typing: {},     // phone -> chat -> {from, state, at}
  readSent: new Set(),
  stanzas: [],
  seq: 0,
  phone: null, chat: null, replyTo: null, tab: "chats",
};
const MAX_STANZAS = 3000;
const $ = (id) => document.getElementById(id);

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function toast(text, bad) {
  const el = $("toast");
  el.textContent = text;
  el.className = bad ? "bad" : "";
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, bad ? 6000 : 2500);
}

async function api(method, path, body, file) {
  const options = { method, headers: {}, credentials: "same-origin" };
  if (file) {
    options.body = file;
    options.headers["Content-Type"] = file.type || "application/octet-stream";
  } else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    toast(`${response.status}: ${data.error || response.statusText}`, true);
    throw new Error(data.error || String(response.status));
  }
  return data;
}

// ------------------------------------------------------------------ names

const user = (jid) => (jid || "").split("@")[0].split(":")[0];
function phoneOf(jid) { return S.phones.find((p) => p.number === user(jid) || user(p.lid) === user(jid)); }
function nameOf(jid) {
  const phone = phoneOf(jid);
  return phone ? phone.name : user(jid);
}
function groupOf(jid) { return S.groups.find((g) => g.jid === jid); }
function chatName(chat) {
  const group = groupOf(chat);
  return group ? group.subject : nameOf(chat);
}
const time = (seconds) => new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
function ago(seconds) {
  if (!seconds) return "never";
  const d = S.clock - seconds;
  if (d < 60) return "just now";
  if (d < 3600) return `${Math.round(d / 60)} min ago`;
  if (d < 86400) return `${Math.round(d / 3600)} h ago`;
  return `${Math.round(d / 86400)} days ago`;
}

// ------------------------------------------------------------------ events

function apply(event) {
  S.seq += 1;
  switch (event.type) {
    case "state":
      S.phones = event.phones; S.groups = event.groups; S.faults = event.faults;
      S.clock = event.clock; S.offset = event.clock_offset;
      if (!S.phone && S.phones.length) S.phone = S.phones[0].number;
      return "state";
    case "message": {
      const m = event.message;
      m.seq = S.seq;
      (S.msgs[event.phone] ||= []).push(m);
      (S.byId[event.phone] ||= {})[m.id] = m;
      return "chat";
    }
    case "receipt": {
      const box = (S.receipts[event.phone] ||= {});
      const level = ["read", "read-self", "played"].includes(event.kind) ? "read" : event.kind === "" ? "delivered" : null;
      if (level && box[event.id] !== "read") box[event.id] = level;
      return "chat";
    }
    case "notification":
      (S.notes[event.phone] ||= []).push({ chat: event.chat, text: event.text, t: event.t, seq: S.seq });
      return "chat";
    case "chatstate":
      ((S.typing[event.phone] ||= {})[event.chat] = { from: event.from, state: event.state, at: Date.now() });
      return "typing";
    case "stanza":
      S.stanzas.push(event);
      if (S.stanzas.length > MAX_STANZAS) S.stanzas.splice(0, S.stanzas.length - MAX_STANZAS);
      return "log";
    case "dropped":
      toast(`${event.count} stanzas not shown (the page fell behind)`, true);
      return null;
    default:
      return null;
  }
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/console/events`);
  ws.onopen = () => {
    Object.assign(S, { msgs: {}, byId: {}, receipts: {}, notes: {}, stanzas: [] });
    $("link-state").textContent = "live";
    $("link-state").className = "badge";
  };
  ws.onmessage = (message) => {
    const dirty = new Set();
    for (const event of JSON.parse(message.data)) dirty.add(apply(event));
    if (dirty.has("state")) renderState();
    if (dirty.has("state") || dirty.has("chat")) renderChats();
    if (dirty.has("typing") || dirty.has("chat")) renderTyping();
    if (dirty.has("log") || dirty.has("state")) renderLog();
  };
  ws.onclose = () => {
    $("link-state").textContent = "disconnected";
    $("link-state").className = "badge off";
    setTimeout(connect, 1000);
  };
}

// ------------------------------------------------------------------ accounts

function renderState() {
  $("clock").textContent = new Date(S.clock * 1000).toLocaleString() + (S.offset ? ` (+${(S.offset / 86400).toFixed(1)} d)` : "");
  const phones = $("phones");
  phones.replaceChildren(...S.phones.map((p) => h("div", { class: "phone", "data-number": p.number },
    h("div", { class: "title" },
      h("span", {}, h("span", { class: `dot ${p.online ? "on" : ""}` }), h("span", { class: "name" }, p.name), " ", h("span", { class: "note" }, `+${p.number}`), p.business ? " · business" : ""),
      h("button", { class: "toggle-online", onclick: () => api("POST", `/phones/${p.number}/${p.online ? "offline" : "online"}`) }, p.online ? "go offline" : "go online")),
    h("div", { class: "note" }, `phone (device 0) · ${p.online ? "online" : `offline since ${ago(p.last_online)}`}`),
    p.companions.map((d) => h("div", { class: "device", "data-jid": d.jid },
      h("span", {}, h("span", { class: `dot ${d.connected ? "on" : ""}` }), `device ${d.device}`, d.platform ? ` · ${d.platform}` : "", ` · ${d.connected ? "online" : "offline"}`, h("span", { class: "note" }, ` · seen ${ago(d.last_seen)}`)),
      h("button", { class: "unlink", onclick: () => api("POST", `/phones/${p.number}/unlink`, { device: d.jid }) }, "unlink"))))));
  for (const id of ["link-phone", "chat-phone"]) {
    const select = $(id);
    const keep = select.value || S.phone;
    select.replaceChildren(...S.phones.map((p) => h("option", { value: p.number }, `${p.name} (+${p.number})`)));
    if (keep) select.value = keep;
  }
  const account = $("log-account");
  const keep = account.value;
  account.replaceChildren(h("option", { value: "" }, "every account"), ...S.phones.map((p) => h("option", { value: p.number }, p.name)));
  account.value = keep;
  const devices = S.phones.flatMap((p) => p.companions.filter((d) => d.connected).map((d) => h("option", { value: d.jid }, `${p.name} · device ${d.device}`)));
  const faultDevice = $("fault-device");
  const keepDevice = faultDevice.value;
  faultDevice.replaceChildren(...devices);
  if (keepDevice) faultDevice.value = keepDevice;
  const checked = new Set([...document.querySelectorAll(".group-member:checked")].map((c) => c.value));
  $("group-members").replaceChildren(...S.phones.filter((p) => p.number !== S.phone).map((p) =>
    h("label", { class: "row" }, h("input", { type: "checkbox", value: p.number, class: "group-member", checked: checked.has(p.number) }), p.name)));
  renderFaults();
}

// ------------------------------------------------------------------ chats

function chatKey(m) { return m.chat_key || m.chat; }

function chatsOf(number) {
  const chats = new Map();
  for (const g of S.groups) if (g.participants[`${number}@s.whatsapp.net`]) chats.set(g.jid, null);
  for (const p of S.phones) if (p.number !== number) chats.set(`${p.number}@s.whatsapp.net`, null);
  for (const m of S.msgs[number] || []) {
    if (!visible(m)) continue;
    const key = chatKey(m);
    if (user(key) === number && !key.endsWith("@g.us")) continue;
    chats.set(key, m);
  }
  return chats;
}

function visible(m) {
  if (m.reaction || m.edit || m.revoke || m.vote) return false;
  if (m.text !== null || m.media || m.poll) return true;
  return false;
}

function renderChats() {
  const number = S.phone;
  const list = $("chat-list");
  const chats = chatsOf(number);
  list.replaceChildren(...[...chats].map(([chat, last]) => h("li", {
    class: chat === S.chat ? "active" : "", "data-chat": chat,
    onclick: () => { S.chat = chat; S.replyTo = null; renderChats(); renderTyping(); },
  }, h("span", {}, chatName(chat), chat.endsWith("@g.us") ? " 👥" : ""), h("span", { class: "preview" }, last ? preview(last) : ""))));
  renderMessages();
  renderGroupPanel();
}

function preview(m) {
  if (m.media) return `${m.media.kind}${m.media.caption ? ": " + m.media.caption : ""}`;
  if (m.poll) return `poll: ${m.poll.name}`;
  return m.text || "";
}

function renderMessages() {
  const number = S.phone;
  const chat = S.chat;
  $("chat-title").textContent = chat ? chatName(chat) : "pick a chat";
  const box = $("messages");
  if (!chat) { box.replaceChildren(); return; }
  const all = (S.msgs[number] || []).filter((m) => chatKey(m) === chat);
  const reactions = {}; const edits = {}; const revoked = new Set(); const votes = {};
  for (const m of all) {
    const who = m.from_me ? number : user(m.sender);
    if (m.reaction) (reactions[m.reaction.target] ||= {})[who] = m.reaction.emoji;
    if (m.edit) edits[m.edit.target] = m.edit.text;
    if (m.revoke) revoked.add(m.revoke.target);
    if (m.vote && m.vote.options) (votes[m.vote.target] ||= {})[who] = m.vote.options;
  }
  const items = all.filter(visible).map((m) => ({ t: m.timestamp, seq: m.seq, node: bubble(m, reactions[m.id], edits[m.id], revoked.has(m.id), votes[m.id]) }));
  for (const note of S.notes[number] || []) {
    if (note.chat === chat) items.push({ t: Number(note.t) || 0, seq: note.seq, node: h("div", { class: "system" }, note.text) });
  }
  items.sort((a, b) => a.t - b.t || a.seq - b.seq);
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.replaceChildren(...items.map((i) => i.node));
  if (atBottom) box.scrollTop = box.scrollHeight;
  markRead(all);
}

function bubble(m, reactions, edited, revoked, votes) {
  const number = S.phone;
  const mine = m.from_me;
  const quoted = m.quoted_id ? (S.byId[number] || {})[m.quoted_id] : null;
  const receipt = (S.receipts[number] || {})[m.id];
  const ticks = mine ? h("span", { class: `ticks ${receipt === "read" ? "read" : ""}`, title: receipt || "sent" }, receipt ? "✓✓" : "✓") : null;
  const body = [];
  if (revoked) body.push(h("div", { class: "deleted" }, "🚫 This message was deleted"));
  else {
    if (m.media) body.push(media(m));
    if (m.poll) body.push(poll(m, votes));
    const text = edited !== undefined ? edited : m.text;
    if (text) body.push(h("div", { class: "body" }, text));
  }
  const actions = revoked ? [] : [
    h("button", { class: "reply", title: "reply", onclick: () => { S.replyTo = m; renderReply(); $("composer-text").focus(); } }, "↩"),
    ...["👍", "❤️", "😂"].map((e) => h("button", { class: "react", title: `react ${e}`, "data-emoji": e, onclick: () => react(m, e) }, e)),
  ];
  if (mine && !revoked && m.text !== null) {
    actions.push(h("button", { class: "edit", title: "edit", onclick: () => editMessage(m) }, "✎"));
  }
  if (mine && !revoked) actions.push(h("button", { class: "delete", title: "delete for everyone", onclick: () => api("POST", `/phones/${number}/revoke`, { id: m.id }) }, "🗑"));
  const shown = Object.entries(reactions || {}).filter(([, e]) => e);
  return h("div", { class: `msg ${mine ? "mine" : ""}`, "data-id": m.id, tabindex: "0" },
    h("div", { class: "actions" }, actions),
    !mine && chatKey(m).endsWith("@g.us") ? h("div", { class: "who" }, nameOf(m.sender)) : null,
    quoted || m.quoted_id ? h("div", { class: "quote" }, h("b", {}, quoted ? (quoted.from_me ? "You" : nameOf(quoted.sender)) : nameOf(m.quoted_participant)), h("br"), quoted ? preview(quoted) : "a message") : null,
    body,
    shown.length ? h("div", { class: "reactions" }, shown.map(([who, e]) => h("span", { title: nameOf(who) }, e))) : null,
    h("div", { class: "meta" }, edited !== undefined ? h("span", {}, "edited") : null, h("span", {}, time(m.timestamp)), ticks));
}

function media(m) {
  const info = m.media;
  if (info.error) return h("div", { class: "note" }, `${info.kind}: could not download (${info.error})`);
  if (!info.url) return h("div", { class: "note" }, info.kind);
  if (info.kind === "image" || info.kind === "sticker") {
    return h("img", { class: "inline", src: info.url, alt: info.caption || info.kind, loading: "lazy" });
  }
  if (["audio", "ptt"].includes(info.kind)) return h("audio", { controls: true, src: info.url });
  if (["video", "gif", "ptv"].includes(info.kind)) return h("video", { controls: true, src: info.url, width: 260 });
  return h("a", { href: info.url, download: info.file_name || "file" }, `📄 ${info.file_name || info.kind} (${info.size || "?"} bytes)`);
}

function poll(m, votes) {
  const counts = {};
  for (const options of Object.values(votes || {})) for (const o of options) counts[o] = (counts[o] || 0) + 1;
  return h("div", { class: "poll" }, h("b", {}, `📊 ${m.poll.name}`),
    h("ul", {}, m.poll.options.map((o) => h("li", {}, h("button", { class: "vote", onclick: () => api("POST", `/phones/${S.phone}/vote`, { id: m.id, options: [o] }) }, o), ` ${counts[o] || 0}`))));
}

function markRead(messages) {
  // the open chat is read, as on a phone: blue ticks for whoever wrote
  for (const m of messages) {
    const key = `${S.phone}/${m.id}`;
    if (m.from_me || !visible(m) || S.readSent.has(key) || S.tab !== "chats") continue;
    S.readSent.add(key);
    api("POST", `/phones/${S.phone}/read`, { id: m.id }).catch(() => {});
  }
}

function renderReply() {
  const bar = $("reply-bar");
  bar.hidden = !S.replyTo;
  if (S.replyTo) $("reply-text").textContent = `replying to ${S.replyTo.from_me ? "yourself" : nameOf(S.replyTo.sender)}: ${preview(S.replyTo)}`;
}

function renderTyping() {
  const state = ((S.typing[S.phone] || {})[S.chat]);
  const on = state && state.state !== "paused" && Date.now() - state.at < 25000;
  $("typing").textContent = on ? `${nameOf(state.from)} is ${state.state === "recording" ? "recording audio" : "typing"}…` : "";
}
setInterval(renderTyping, 2000);

function renderGroupPanel() {
  const panel = $("group-panel");
  const group = S.chat && groupOf(S.chat);
  panel.hidden = !group;
  if (!group) return;
  const path = `/phones/${S.phone}/groups/${user(group.jid)}`;
  const members = Object.entries(group.participants);
  const others = S.phones.filter((p) => !group.participants[`${p.number}@s.whatsapp.net`]);
  panel.replaceChildren(...[
    h("div", { class: "row" },
      h("input", { id: "subject-input", value: group.subject, "aria-label": "subject" }),
      h("button", { id: "subject-set", onclick: () => api("POST", `${path}/subject`, { subject: $("subject-input").value }) }, "rename")),
    h("div", {}, members.map(([jid, role]) => h("span", { class: "member", "data-jid": jid },
      `${nameOf(jid)}${role !== "member" ? ` (${role})` : ""}`,
      role === "member" ? h("button", { class: "promote", onclick: () => api("POST", `${path}/promote`, { members: [jid] }) }, "promote") : null,
      role === "admin" ? h("button", { class: "demote", onclick: () => api("POST", `${path}/demote`, { members: [jid] }) }, "demote") : null,
      user(jid) !== S.phone ? h("button", { class: "remove", onclick: () => api("POST", `${path}/remove`, { members: [jid] }) }, "remove") : null))),
    others.length ? h("div", { class: "row" },
      h("select", { id: "add-member" }, others.map((p) => h("option", { value: p.number }, p.name))),
      h("button", { id: "add-member-go", onclick: () => api("POST", `${path}/add`, { members: [$("add-member").value] }) }, "add")) : null,
  ].filter(Boolean));
}

async function react(m, emoji) {
  if (m.from_me) { toast("react to a message you received", true); return; }
  const last = (S.msgs[S.phone] || []).filter((x) => x.from_me && x.reaction && x.reaction.target === m.id).pop();
  const current = last ? last.reaction.emoji : "";
  await api("POST", `/phones/${S.phone}/react`, { id: m.id, emoji: current === emoji ? "" : emoji });
}

async function editMessage(m) {
  const text = window.prompt("Edit message", m.text || "");
  if (text) await api("POST", `/phones/${S.phone}/edit`, { id: m.id, text });
}

let lastTyping = 0;
function typing() {
  if (!S.chat || Date.now() - lastTyping < 5000) return;
  lastTyping = Date.now();
  api("POST", `/phones/${S.phone}/typing`, { to: S.chat, state: "composing" }).catch(() => {});
}

async function send(event) {
  event.preventDefault();
  const input = $("composer-text");
  const text = input.value;
  if (!text || !S.chat) return;
  const body = { to: S.chat, text };
  if (S.replyTo && !S.replyTo.from_me) body.quoted = S.replyTo.id;
  await api("POST", `/phones/${S.phone}/send`, body);
  input.value = "";
  S.replyTo = null;
  renderReply();
  lastTyping = 0;
}

async function attach() {
  const file = $("attach").files[0];
  if (!file || !S.chat) return;
  const type = file.type || "";
  const kind = type.startsWith("image/") ? "image" : type.startsWith("video/") ? "video" : type.startsWith("audio/") ? "audio" : "document";
  const query = new URLSearchParams({ to: S.chat, kind });
  if (kind === "document") query.set("file_name", file.name);
  if (type) query.set("mimetype", type);
  await api("POST", `/phones/${S.phone}/send-media?${query}`, undefined, file);
  $("attach").value = "";
}

// ------------------------------------------------------------------ stanza log

function renderLog() {
  if ($("log-pause").checked) return;
  const account = $("log-account").value;
  const tags = $("log-tag").value.split(",").map((t) => t.trim()).filter(Boolean);
  const shown = S.stanzas.filter((s) => (!account || s.account === account) && (!tags.length || tags.includes(s.tag)));
  $("log-count").textContent = `${shown.length} of ${S.stanzas.length} stanzas`;
  const rows = shown.slice(-500).reverse().map((s) => {
    const attrs = Object.entries(s.attrs).map(([k, v]) => `${k}=${v}`).join(" ");
    const row = h("tr", { class: `entry ${s.direction}`, "data-seq": s.seq, "data-tag": s.tag },
      h("td", {}, s.seq), h("td", {}, new Date(s.time * 1000).toLocaleTimeString()),
      h("td", { class: "dir", title: s.direction === "out" ? "sim → client" : "client → sim" }, s.direction === "out" ? "→" : "←"),
      h("td", {}, s.device || `connection ${s.connection} (pairing)`), h("td", {}, h("b", {}, s.tag)), h("td", { class: "attrs" }, attrs));
    row.addEventListener("click", () => {
      const next = row.nextSibling;
      if (next && next.classList.contains("xml")) { next.remove(); return; }
      row.after(h("tr", { class: "xml" }, h("td", { colspan: 6 }, h("pre", {}, s.xml))));
    });
    return row;
  });
  $("log-rows").replaceChildren(...rows);
}

// ------------------------------------------------------------------ faults

function renderFaults() {
  $("rules").replaceChildren(...S.faults.rules.map((r) => h("tr", {},
    h("td", {}, r.id), h("td", {}, r.kind), h("td", {}, r.direction),
    h("td", {}, [...(r.tags || []), r.xmlns, r.device].filter(Boolean).join(" ") || "any"),
    h("td", {}, r.probability), h("td", {}, r.count ?? "∞"), h("td", {}, r.fired))));
  $("fired").replaceChildren(...S.faults.fired.slice(-30).reverse().map((f) => h("li", {}, `${f.fault} · ${f.tag || ""} · ${f.device || ""}`)));
}

function device() {
  const jid = $("fault-device").value;
  if (!jid) toast("no connected device", true);
  return jid;
}

// ------------------------------------------------------------------ wiring

function showTab(tab) {
  S.tab = tab;
  for (const button of document.querySelectorAll(".tab")) button.classList.toggle("active", button.dataset.tab === tab);
  for (const name of ["chats", "stanzas", "faults"]) $(`view-${name}`).hidden = name !== tab;
  if (tab === "stanzas") renderLog();
  if (tab === "chats") renderChats();
}

function wire() {
  for (const button of document.querySelectorAll(".tab")) button.addEventListener("click", () => showTab(button.dataset.tab));
  $("add-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    await api("POST", "/phones", { number: $("add-number").value.trim(), name: $("add-name").value.trim() || undefined, business: $("add-business").checked });
    $("add-number").value = ""; $("add-name").value = "";
  });
  $("link-scan").addEventListener("click", async () => {
    $("link-result").textContent = "scanning…";
    try {
      const device = await api("POST", `/phones/${$("link-phone").value}/scan`, { qr: $("link-qr").value.trim() });
      $("link-result").textContent = `linked ${device.jid}`;
      $("link-qr").value = "";
    } catch (error) { $("link-result").textContent = String(error.message); }
  });
  $("link-code-enter").addEventListener("click", async () => {
    try {
      const device = await api("POST", `/phones/${$("link-phone").value}/code`, { code: $("link-code").value.trim() });
      $("link-result").textContent = `linked ${device.jid}`;
    } catch (error) { $("link-result").textContent = String(error.message); }
  });
  $("clock-move").addEventListener("click", () => api("POST", "/clock", { offset: Number($("clock-days").value) * 86400 }));
  $("clock-reset").addEventListener("click", () => api("POST", "/clock", { offset: 0 }));
  $("chat-phone").addEventListener("change", () => { S.phone = $("chat-phone").value; S.chat = null; renderState(); renderChats(); });
  $("composer").addEventListener("submit", send);
  $("composer-text").addEventListener("input", typing);
  $("attach").addEventListener("change", attach);
  $("reply-cancel").addEventListener("click", () => { S.replyTo = null; renderReply(); });
  $("poll-open").addEventListener("click", () => { $("poll-form").hidden = !$("poll-form").hidden; });
  $("poll-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const options = $("poll-options").value.split(",").map((o) => o.trim()).filter(Boolean);
    await api("POST", `/phones/${S.phone}/poll`, { to: S.chat, name: $("poll-name").value, options });
    $("poll-form").hidden = true;
  });
  $("group-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const members = [...document.querySelectorAll(".group-member:checked")].map((c) => c.value);
    const group = await api("POST", `/phones/${S.phone}/groups`, { subject: $("group-subject").value, members });
    S.chat = group.jid;
    $("group-subject").value = "";
    for (const box of document.querySelectorAll(".group-member:checked")) box.checked = false;
    renderChats();
  });
  for (const id of ["log-account", "log-tag", "log-pause"]) $(id).addEventListener("input", renderLog);
  $("log-clear").addEventListener("click", () => { S.stanzas = []; renderLog(); });
  $("fault-disconnect").addEventListener("click", () => { const d = device(); if (d) api("POST", "/faults/disconnect", { device: d }); });
  $("fault-515").addEventListener("click", () => { const d = device(); if (d) api("POST", "/faults/stream-error", { device: d, code: 515 }); });
  $("fault-440").addEventListener("click", () => { const d = device(); if (d) api("POST", "/faults/stream-error", { device: d, code: 440 }); });
  $("fault-receipts").addEventListener("click", () => { const d = device(); if (d) api("POST", "/faults", { kind: "drop", direction: "in", tags: ["receipt"], device: d }); });
  $("fault-refuse").addEventListener("click", () => api("POST", "/faults/refuse-logins", { count: Number($("refuse-count").value) || 1 }));
  $("rule-clear").addEventListener("click", () => api("POST", "/faults/clear"));
  $("rule-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const rule = { kind: $("rule-kind").value, direction: $("rule-direction").value, probability: Number($("rule-probability").value) };
    const tags = $("rule-tags").value.split(",").map((t) => t.trim()).filter(Boolean);
    if (tags.length) rule.tags = tags;
    if ($("rule-count").value) rule.count = Number($("rule-count").value);
    if ($("rule-seconds").value) rule.seconds = Number($("rule-seconds").value);
    await api("POST", "/faults", rule);
  });
}

wire();
connect();
