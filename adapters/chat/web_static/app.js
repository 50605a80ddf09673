// The IT desk web chat: pick a person, talk to the desk as them, watch their phone and, for
// on-call and admin people, the on-call channel. Plain DOM, no framework, no build step.
// Every piece of text reaches the page through text nodes, never through HTML parsing.
"use strict";

(() => {
  const API = "/web/api";
  const ROLE_LABELS = { oncall: "On call", admin: "Admin", hr: "HR", security: "Security" };
  const GROUP_GAP_MS = 5 * 60 * 1000;

  const state = {
    people: [],
    suggestions: [],
    me: null,
    org: "",
    desk: "IT Desk",
    channel: "oncall",
    maxText: 4000,
    messages: [],
    phone: [],
    threads: [],        // [{id, messages}] newest first
    channelMessages: [],
    pending: 0,
    tab: "phone",
    stream: null,
    filter: "",
  };

  const $ = (id) => document.getElementById(id);

  // --- tiny DOM builder ---------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "data") Object.assign(el.dataset, value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  // Inline formatting the desk uses: `code`, **bold** and web links. Built from text nodes.
  function inline(text) {
    const out = [];
    const pattern = /(`[^`]+`|\*\*[^*]+\*\*|https?:\/\/[^\s<>()]+)/g;
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      if (match.index > last) out.push(text.slice(last, match.index));
      const token = match[0];
      if (token.startsWith("`")) out.push(h("code", {}, token.slice(1, -1)));
      else if (token.startsWith("**")) out.push(h("strong", {}, token.slice(2, -2)));
      else out.push(h("a", { href: token, target: "_blank", rel: "noopener noreferrer" }, token));
      last = match.index + token.length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  function rich(text, cls) {
    const lines = String(text || "").split("\n");
    const body = h("div", { class: cls });
    lines.forEach((line, i) => {
      if (i > 0) body.append(h("br"));
      body.append(...inline(line));
    });
    return body;
  }

  function hue(name) {
    let sum = 0;
    for (const ch of name) sum = (sum * 31 + ch.codePointAt(0)) >>> 0;
    return sum % 8;
  }

  function avatar(person, size) {
    const name = person ? person.username : "?";
    const initials = person ? person.initials : "?";
    return h("span", { class: `avatar avatar-c${hue(name)} ${size || ""}`, "aria-hidden": "true" },
      initials);
  }

  function deskAvatar(size) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "16");
    svg.setAttribute("height", "16");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 " +
      "1-2.5 2.5H10l-4.2 3.4c-.5.4-1.3 0-1.3-.6V16A2.5 2.5 0 0 1 4 13.5z");
    svg.append(path);
    return h("span", { class: `avatar avatar-desk ${size || ""}`, "aria-hidden": "true" }, svg);
  }

  const person = (username) => state.people.find((p) => p.username === username) || null;

  // The desk's clock (the sandbox may run at another time than this computer): the phone and
  // "Today" follow it.
  let clockOffset = 0;
  const deskNow = () => new Date(Date.now() + clockOffset);

  function time(iso) {
    const d = new Date(iso);
    return d.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  }

  function day(iso) {
    const d = new Date(iso);
    const today = deskNow();
    if (d.toDateString() === today.toDateString()) return "Today";
    return d.toLocaleDateString([], { weekday: "long", day: "numeric", month: "long" });
  }

  function stamp(iso) {
    return h("time", { class: "stamp", datetime: iso, title: new Date(iso).toLocaleString() },
      time(iso));
  }

  // --- the API ------------------------------------------------------------------------
  async function api(method, path, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(API + path, init);
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(data.message || `The desk answered ${res.status}.`);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  const mine = (path) => `/people/${encodeURIComponent(state.me.username)}${path}`;

  function eventId() {
    if (window.crypto && crypto.randomUUID) return "w-" + crypto.randomUUID();
    return "w-" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  let toastTimer = null;
  function toast(text) {
    const el = $("toast") || document.body.appendChild(
      h("div", { id: "toast", class: "toast", role: "alert" }));
    el.textContent = text;
    el.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => el.classList.remove("show"), 5000);
  }

  // --- people ---------------------------------------------------------------------------
  function renderPeople() {
    const list = $("people");
    const q = state.filter.trim().toLowerCase();
    const shown = state.people.filter((p) => !q || [p.name, p.username, p.title, p.department,
      ...p.roles].some((s) => String(s).toLowerCase().includes(q)));
    list.replaceChildren(...shown.map((p) => {
      const selected = state.me && state.me.username === p.username;
      return h("li", {
        class: "person" + (selected ? " selected" : ""), role: "option", tabindex: "0", title: p.name,
        "aria-selected": selected ? "true" : "false", data: { username: p.username },
        "aria-label": `${p.name}, ${p.title || "employee"}${p.roles.length ? ", " +
          p.roles.map((r) => ROLE_LABELS[r] || r).join(", ") : ""}`,
        onclick: () => choose(p.username),
        onkeydown: (e) => {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); choose(p.username); }
          if (e.key === "ArrowDown" && e.target.nextElementSibling) e.target.nextElementSibling.focus();
          if (e.key === "ArrowUp" && e.target.previousElementSibling) e.target.previousElementSibling.focus();
        },
      },
      avatar(p),
      h("span", { class: "person-text" },
        h("span", { class: "person-name" }, p.name),
        h("span", { class: "person-title" }, [p.title, p.department].filter(Boolean).join(" · ")),
        p.roles.length ? h("span", { class: "badges" },
          p.roles.map((r) => h("span", { class: `badge badge-${r}` }, ROLE_LABELS[r] || r))) : null));
    }));
    if (!shown.length) list.append(h("li", { class: "people-empty" }, "Nobody matches"));
  }

  async function choose(username) {
    const p = person(username);
    if (!p || (state.me && state.me.username === username)) return;
    if (state.stream) state.stream.close();
    Object.assign(state, { me: p, messages: [], phone: [], threads: [], channelMessages: [],
      pending: 0 });
    threadViews.clear();
    $("threads").replaceChildren();
    history.replaceState(null, "", "#" + encodeURIComponent(username));
    if (!p.sees_oncall) state.tab = "phone";
    renderPeople();
    renderHeader();
    renderTabs();
    renderMessages(true);
    renderPhone();
    const input = $("composer-input");
    input.disabled = false;
    input.placeholder = `Message ${state.desk} as ${p.name.split(" ")[0]}`;
    updateSend();
    connect();
    await refreshAll();
    input.focus();
  }

  async function refreshAll() {
    const who = state.me && state.me.username;
    const jobs = [loadConversation(), loadPhone()];
    if (state.me.sees_oncall) jobs.push(loadOncall());
    try {
      await Promise.all(jobs);
    } catch (err) {
      if (state.me && state.me.username === who) toast(err.message);
    }
  }

  async function loadConversation() {
    const who = state.me.username;
    const data = await api("GET", mine("/conversation"));
    if (state.me.username !== who) return;
    state.messages = merged(data.messages, state.messages);
    renderMessages(true);
  }

  // --- the conversation -----------------------------------------------------------------
  function renderHeader() {
    const me = state.me;
    $("chat-sub").textContent = me
      ? `Direct message · you are ${me.name}${me.title ? " (" + me.title + ")" : ""}`
      : "Pick who you are to start";
  }

  // What the server sent, plus what arrived (or was typed) while the request was under way:
  // messages are never deleted, so the union by id is always right.
  function merged(fetched, current) {
    const ids = new Set(fetched.map((m) => m.id));
    return fetched.concat(current.filter((m) => !ids.has(m.id)));
  }

  function upsert(list, message) {
    const i = list.findIndex((m) => m.id === message.id);
    if (i >= 0) list[i] = message;
    else list.push(message);
  }

  function nearBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  }

  function renderMessages(forceScroll) {
    const box = $("messages");
    const stick = forceScroll || nearBottom(box);
    const nodes = [];
    if (!state.me) {
      nodes.push(welcome());
    } else if (!state.messages.length) {
      nodes.push(emptyChat());
    }
    let prev = null;
    for (const m of state.messages) {
      if (!prev || day(prev.at) !== day(m.at)) {
        nodes.push(h("div", { class: "day", role: "separator" }, h("span", {}, day(m.at))));
        prev = null;
      }
      const grouped = prev && prev.author === m.author &&
        new Date(m.at) - new Date(prev.at) < GROUP_GAP_MS && !m.card && !prev.card;
      nodes.push(messageView(m, grouped, null));
      prev = m;
    }
    if (state.pending > 0) nodes.push(typing());
    box.replaceChildren(...nodes);
    if (stick) box.scrollTop = box.scrollHeight;
  }

  function typing() {
    return h("div", { class: "msg msg-desk" },
      deskAvatar(),
      h("div", { class: "msg-body" },
        h("div", { class: "bubble typing", role: "status", "aria-label": `${state.desk} is typing` },
          h("span", { class: "dot" }), h("span", { class: "dot" }), h("span", { class: "dot" }))));
  }

  function messageView(m, grouped, thread) {
    const fromDesk = m.author === "desk";
    const own = state.me && m.author === state.me.username;
    const side = own && !thread ? "msg-own" : "msg-other";
    const who = fromDesk ? state.desk : m.author_name;
    const cls = ["msg", side, fromDesk ? "msg-desk" : "", grouped ? "grouped" : "",
      m.visible_to ? "ephemeral" : "", m.local ? "local" : "", m.failed ? "failed" : ""];
    const meta = h("div", { class: "msg-meta" },
      h("span", { class: "msg-author" }, who), stamp(m.at),
      m.edited_at ? h("span", { class: "edited" }, "edited") : null,
      m.visible_to ? h("span", { class: "only-you" }, "Only visible to you") : null);
    const content = [];
    if (m.card) content.push(card(m.card, thread));
    else if (m.text) {
      content.push(h("div", { class: "bubble" + (m.command ? " bubble-command" : "") },
        rich(m.text, "bubble-text")));
    }
    if (m.failed) content.push(h("div", { class: "msg-failed" }, "Not sent. ", m.failed));
    return h("article", { class: cls.filter(Boolean).join(" "), data: { id: m.id },
      "aria-label": `${who} at ${time(m.at)}` },
    grouped ? h("span", { class: "avatar-gap" }) : (fromDesk ? deskAvatar() : avatar(person(m.author))),
    h("div", { class: "msg-body" }, grouped ? null : meta, content));
  }

  function card(c, thread) {
    const buttons = c.buttons || [];
    const el = h("section", { class: `card card-${c.kind || "info"}`, "aria-label": c.title },
      h("header", { class: "card-title" }, c.title),
      c.text ? rich(c.text, "card-text") : null,
      c.fields && c.fields.length ? h("dl", { class: "card-fields" }, c.fields.map((f) =>
        h("div", { class: "card-field" + (f.value.length > 24 ? " wide" : "") },
          h("dt", {}, f.label), h("dd", {}, ...inline(f.value))))) : null,
      buttons.length ? h("div", { class: "card-actions" }, buttons.map((b) =>
        h("button", {
          type: "button", class: `btn btn-${b.style || "default"}`, data: { action: b.action },
          onclick: (e) => press(b, thread, e.currentTarget),
        }, b.label))) : null,
      c.context ? h("footer", { class: "card-context" }, c.context) : null);
    return el;
  }

  async function press(button, thread, el) {
    if (button.confirm && !window.confirm(button.confirm)) return;
    const group = el.closest(".card-actions");
    const all = group ? [...group.querySelectorAll("button")] : [el];
    all.forEach((b) => { b.disabled = true; });
    el.classList.add("busy");
    const body = { action: button.action, ref: button.ref, id: eventId() };
    if (thread) body.thread = thread;
    try {
      await api("POST", mine("/clicks"), body);
    } catch (err) {
      toast(err.message);
    } finally {
      // The desk usually replaces the card; if it did not, let the button be pressed again.
      if (el.isConnected) {
        all.forEach((b) => { b.disabled = false; });
        el.classList.remove("busy");
      }
    }
  }

  function welcome() {
    return h("div", { class: "welcome" },
      h("div", { class: "welcome-mark", "aria-hidden": "true" }, deskAvatar("avatar-xl")),
      h("h2", {}, `Try the IT desk as anyone${state.org ? " at " + state.org : ""}`),
      h("p", {}, "This is the desk's built-in chat. Everything happens in a sandbox: nothing " +
        "touches real accounts."),
      h("ol", { class: "steps" },
        h("li", {}, h("strong", {}, "Pick who you are"), " on the left: an employee, a manager, " +
          "someone on call or an admin."),
        h("li", {}, h("strong", {}, "Ask for help"), " the way you would ask a colleague."),
        h("li", {}, h("strong", {}, "Watch their phone"), " on the right for codes and sign-in " +
          "requests, and the on-call channel when a human is needed.")));
  }

  function emptyChat() {
    const me = state.me;
    return h("div", { class: "empty" },
      deskAvatar("avatar-lg"),
      h("h2", {}, `Hi ${me.name.split(" ")[0]}, what can IT help with?`),
      h("p", {}, "Ask in your own words. A few things people ask:"),
      h("div", { class: "chips" }, state.suggestions.map((s) =>
        h("button", { type: "button", class: "chip", onclick: () => send(s) }, s))));
  }

  // --- sending --------------------------------------------------------------------------
  async function send(text) {
    const me = state.me;
    if (!me || !text.trim()) return;
    if (text.length > state.maxText) {
      toast(`Messages are limited to ${state.maxText} characters.`);
      return;
    }
    const id = eventId();
    const local = { id: "U-" + id, author: me.username, author_name: me.name, text: text.trim(),
      at: new Date().toISOString(), local: true, command: text.trim().startsWith("/itdesk ") };
    state.messages.push(local);
    state.pending += 1;
    renderMessages(true);
    try {
      await api("POST", mine("/messages"), { text, id });
    } catch (err) {
      local.failed = err.message;
    } finally {
      if (state.me === me) {
        state.pending = Math.max(0, state.pending - 1);
        renderMessages(false);
      }
    }
  }

  function updateSend() {
    const input = $("composer-input");
    const length = input.value.length;
    const over = length > state.maxText;
    $("send").disabled = !state.me || !input.value.trim() || over;
    const hint = $("composer-hint");
    hint.textContent = over
      ? `${length - state.maxText} characters over the ${state.maxText} limit`
      : "Enter to send · Shift+Enter for a new line";
    hint.classList.toggle("over", over);
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 160) + "px";
  }

  // --- the phone ------------------------------------------------------------------------
  let phoneLoads = 0;
  async function loadPhone() {
    const who = state.me.username;
    const load = ++phoneLoads;
    const data = await api("GET", mine("/phone"));
    if (state.me.username !== who || load !== phoneLoads) return;  // a newer load is under way
    clockOffset = new Date(data.now).getTime() - Date.now();
    state.phone = data.items;
    renderPhone();
  }

  const APPS = {
    push: ["Authenticator", "app-auth"], totp: ["Authenticator", "app-auth"],
    sms: ["Messages", "app-sms"], email: ["Mail", "app-mail"], email_all: ["Mail", "app-mail"],
  };
  const KIND_TITLES = {
    code: "Verification code", push: "Sign-in request", reset_link: "Password reset",
    enrolment_link: "Set up sign-in", notification: "From the IT desk",
  };
  const STATUS_LABELS = {
    approved: "Approved", denied: "Denied", used: "Used", expired: "Expired",
    withdrawn: "Withdrawn",
  };

  function renderPhone() {
    renderPhoneClock();
    const list = $("phone-items");
    if (!state.me) {
      list.replaceChildren(h("li", { class: "phone-empty" }, "Pick a person to see their phone"));
      $("phone-caption").textContent = "Codes, sign-in pushes and links the desk sends appear here.";
      return;
    }
    $("phone-caption").textContent = `${state.me.name}'s phone and inbox: codes, sign-in ` +
      "pushes and links sent out of band, never in chat.";
    if (!state.phone.length) {
      list.replaceChildren(h("li", { class: "phone-empty" }, "No notifications"));
      return;
    }
    list.replaceChildren(...state.phone.map(notification));
  }

  function notification(item) {
    const [app, appClass] = APPS[item.channel] || ["Notifications", "app-note"];
    const status = STATUS_LABELS[item.status];
    const isLink = item.kind === "reset_link" || item.kind === "enrolment_link";
    return h("li", { class: `notif kind-${item.kind}` + (status ? " settled" : ""),
      data: { id: item.id }, "aria-label": `${app}: ${KIND_TITLES[item.kind] || item.kind}` },
    h("div", { class: "notif-head" },
      h("span", { class: `app-icon ${appClass}`, "aria-hidden": "true" }, app[0]),
      h("span", { class: "notif-app" }, app),
      h("span", { class: "notif-time" }, time(item.created_at))),
    h("div", { class: "notif-title" }, KIND_TITLES[item.kind] || item.kind,
      status ? h("span", { class: `chip-status status-${item.status}` }, status) : null),
    item.text ? h("div", { class: "notif-text" }, item.text) : null,
    item.kind === "code" && item.secret
      ? h("div", { class: "otp", "aria-label": "One-time code" }, item.secret) : null,
    isLink && item.secret ? h("div", { class: "notif-link", title: item.secret }, item.secret) : null,
    h("div", { class: "notif-to" }, "to ", item.address),
    item.answerable ? h("div", { class: "notif-actions" },
      h("button", { type: "button", class: "btn btn-danger", onclick: (e) => answer(item, "deny", e) },
        "Deny"),
      h("button", { type: "button", class: "btn btn-primary", onclick: (e) => answer(item, "approve", e) },
        "Approve")) : null);
  }

  async function answer(item, choice, event) {
    const buttons = event.currentTarget.parentElement.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await api("POST", mine(`/phone/${encodeURIComponent(item.id)}/${choice}`), {});
    } catch (err) {
      toast(err.message);
    }
    await loadPhone().catch(() => {});
  }

  // --- on call ----------------------------------------------------------------------------
  async function loadOncall() {
    const who = state.me.username;
    const data = await api("GET", mine("/oncall"));
    if (state.me.username !== who) return;
    const fetched = new Set(data.threads.map((t) => t.id));
    state.threads = data.threads.map((t) => {
      const mine = state.threads.find((c) => c.id === t.id);
      return mine ? { id: t.id, messages: merged(t.messages, mine.messages) } : t;
    }).concat(state.threads.filter((t) => !fetched.has(t.id)));
    state.channelMessages = merged(data.messages, state.channelMessages);
    renderThreads();
  }

  // Thread views are kept across renders so a half-typed reply survives incoming messages.
  const threadViews = new Map();

  function renderThreads() {
    const box = $("threads");
    $("oncall-channel").textContent = state.channel;
    const open = state.threads.filter((t) => t.messages.some((m) => m.card &&
      (m.card.buttons || []).some((b) => b.action === "claim"))).length;
    const count = $("oncall-count");
    count.textContent = String(open);
    count.hidden = open === 0;
    count.setAttribute("aria-label", `${open} unclaimed`);
    if (!state.threads.length) {
      threadViews.clear();
      box.replaceChildren(h("div", { class: "threads-empty" },
        h("strong", {}, "All quiet"), h("span", {}, "Escalations appear here with a Claim button.")));
      return;
    }
    const nodes = state.threads.map((t) => {
      let view = threadViews.get(t.id);
      if (!view) {
        view = threadView(t.id);
        threadViews.set(t.id, view);
      }
      const [root, ...replies] = t.messages;
      view.root.replaceChildren(root ? messageView(root, false, t.id) : "");
      view.replies.replaceChildren(...replies.map((m, i) =>
        messageView(m, i > 0 && replies[i - 1].author === m.author && !m.card, t.id)));
      view.count.textContent = replies.length ? `${replies.length} ${replies.length === 1 ? "reply" : "replies"}` : "No replies yet";
      return view.el;
    });
    for (const id of threadViews.keys()) {
      if (!state.threads.some((t) => t.id === id)) threadViews.delete(id);
    }
    box.replaceChildren(...nodes);
  }

  function threadView(id) {
    const root = h("div", { class: "thread-root" });
    const replies = h("div", { class: "thread-replies" });
    const count = h("div", { class: "thread-count" });
    const input = h("input", { type: "text", class: "thread-input", placeholder: "Reply in thread",
      "aria-label": `Reply in thread ${id}`, maxlength: String(state.maxText) });
    const submit = h("button", { type: "submit", class: "btn btn-default" }, "Reply");
    const form = h("form", { class: "thread-form", onsubmit: async (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      submit.disabled = true;
      try {
        await api("POST", mine(`/oncall/${encodeURIComponent(id)}/messages`), { text, id: eventId() });
        input.value = "";
      } catch (err) {
        toast(err.message);
      } finally {
        submit.disabled = false;
      }
    } }, input, submit);
    const el = h("article", { class: "thread", data: { thread: id } }, root, count, replies, form);
    return { el, root, replies, count };
  }

  function upsertThread(threadId, message) {
    if (!threadId) {
      upsert(state.channelMessages, message);
      return;
    }
    const thread = state.threads.find((t) => t.id === threadId);
    if (thread) upsert(thread.messages, message);
    else state.threads.unshift({ id: threadId, messages: [message] });
    renderThreads();
  }

  function renderTabs() {
    const sees = state.me && state.me.sees_oncall;
    $("tab-oncall").hidden = !sees;
    if (!sees) state.tab = "phone";
    for (const name of ["phone", "oncall"]) {
      const active = state.tab === name;
      $("tab-" + name).setAttribute("aria-selected", active ? "true" : "false");
      $("tab-" + name).tabIndex = active ? 0 : -1;
      $("panel-" + name).hidden = !active;
    }
  }

  function selectTab(name) {
    state.tab = name;
    renderTabs();
  }

  // --- live updates -----------------------------------------------------------------------
  function connect() {
    const me = state.me;
    const stream = new EventSource(API + mine("/events"));
    state.stream = stream;
    const status = $("connection");
    status.textContent = "Connecting…";
    status.className = "connection";
    stream.addEventListener("ready", () => {
      status.textContent = "Live";
      status.className = "connection live";
      refreshAll();  // catch up on anything sent while we were not listening
    });
    stream.addEventListener("message", (e) => {
      if (state.me !== me) return;
      upsert(state.messages, JSON.parse(e.data).message);
      renderMessages(false);
    });
    stream.addEventListener("oncall", (e) => {
      if (state.me !== me) return;
      const data = JSON.parse(e.data);
      upsertThread(data.thread, data.message);
    });
    let phoneTimer = null;
    stream.addEventListener("phone", () => {
      clearTimeout(phoneTimer);
      phoneTimer = setTimeout(() => { if (state.me === me) loadPhone().catch(() => {}); }, 50);
    });
    stream.onerror = () => {
      if (state.stream !== stream) return;
      status.textContent = "Reconnecting…";
      status.className = "connection down";
    };
  }

  // --- start --------------------------------------------------------------------------------
  async function start() {
    renderMessages(true);
    renderPhone();
    const input = $("composer-input");
    input.addEventListener("input", updateSend);
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        $("composer").requestSubmit();
      }
    });
    $("composer").addEventListener("submit", (e) => {
      e.preventDefault();
      const text = input.value;
      if (!text.trim() || text.length > state.maxText) return;
      input.value = "";
      updateSend();
      send(text);
    });
    $("people-filter").addEventListener("input", (e) => {
      state.filter = e.target.value;
      renderPeople();
    });
    $("tab-phone").addEventListener("click", () => selectTab("phone"));
    $("tab-oncall").addEventListener("click", () => selectTab("oncall"));
    document.querySelector(".tabs").addEventListener("keydown", (e) => {
      if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
      if (!state.me || !state.me.sees_oncall) return;
      selectTab(state.tab === "phone" ? "oncall" : "phone");
      $("tab-" + state.tab).focus();
    });
    setInterval(renderPhoneClock, 30 * 1000);
    try {
      const data = await api("GET", "/people");
      Object.assign(state, { people: data.people, org: data.org, desk: data.desk,
        suggestions: data.suggestions || [],
        channel: data.oncall_channel, maxText: data.max_text });
      clockOffset = new Date(data.now).getTime() - Date.now();
      renderPhone();
      $("org-name").textContent = data.org;
      document.title = `${data.desk} · ${data.org}`;
      renderPeople();
      renderMessages(true);
      const wanted = decodeURIComponent(location.hash.slice(1));
      if (wanted && person(wanted)) await choose(wanted);
    } catch (err) {
      toast(`Could not load the organisation: ${err.message}`);
    }
  }

  function renderPhoneClock() {
    const now = deskNow();
    const clock = now.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
    $("phone-clock").textContent = clock;
    $("phone-time").textContent = clock;
    $("phone-date").textContent = now.toLocaleDateString([], { weekday: "long", day: "numeric",
      month: "long" });
  }

  start();
})();
