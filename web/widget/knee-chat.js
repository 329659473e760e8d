/*
 * The clinic's chat widget: one <script> tag, no framework, no CDN.
 *
 *   <script src="/static/knee-chat.js" data-server="https://assistant.clinic.example"
 *           data-clinic-name="Knee Clinic" data-clinic-phone="+1 555 010 0100"
 *           data-color="#0b5cad" data-lang="en" defer></script>
 *
 * It loads socket.io-client from the same folder (bundled by `make install` from the npm registry)
 * and talks to Rasa's socketio channel with session persistence.
 * Why it is built the way it is (rasa-webchat's users' complaints, issue #4):
 *   - history is kept in sessionStorage (this tab only, gone when it closes: a shared computer does
 *     not keep it), so a reload shows the conversation and goes on with the same session;
 *   - quick replies stay usable and show which one was chosen;
 *   - a typing indicator while the assistant answers;
 *   - new messages are announced to screen readers (role="log", aria-live);
 *   - every bot text is put in the page as text, never as HTML; links are made only from http(s)
 *     and tel: addresses, and open safely (rel="noopener noreferrer");
 *   - an emergency reply raises a banner with a tap-to-call link, which stays until "start over":
 *     the server marks each message of an emergency reply with the number to call
 *     ({"emergency": {"call": "<number>"}}, channels/socketio.py), so the widget keeps no number of its own;
 *   - socket.io reconnects by itself, and the widget asks for the same session again;
 *   - when the server is too busy to read a message it says so (marked {"busy": true}) and the widget
 *     offers a "Send again" button with the same message: nothing typed is lost;
 *   - it talks over a WebSocket, and falls back to long polling when a WebSocket cannot be opened
 *     (a proxy that drops the upgrade); data-transport="polling" asks for long polling only.
 * When the server requires a JWT (SOCKETIO_JWT_KEY), the page provides one, fresh for every
 * (re)connection, from the clinic's own backend:
 *   window.kneeChatToken = function (done) { fetch("/chat-token").then(r => r.text()).then(done); };
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var query = new URLSearchParams(window.location.search);
  var config = {
    server: data.server || query.get("server") || window.location.protocol + "//" + window.location.hostname + ":5005",
    clinicName: data.clinicName || "the clinic",
    clinicPhone: data.clinicPhone || "",
    color: data.color || "#0b5cad",
    lang: data.lang || document.documentElement.lang || "en",
    transport: data.transport || query.get("transport") || "websocket",
  };
  var base = script ? script.src.replace(/[^/]*$/, "") : "";
  var KEY = "knee-chat:";
  var store = window.sessionStorage;

  function load(name, fallback) {
    try { var value = JSON.parse(store.getItem(KEY + name)); return value === null ? fallback : value; }
    catch (e) { return fallback; }
  }
  function save(name, value) { try { store.setItem(KEY + name, JSON.stringify(value)); } catch (e) { /* full or off */ } }

  var state = { session: load("session", null), history: load("history", []), emergency: load("emergency", null),
                open: load("open", false) };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- the page parts ---------------------------------------------------------------------
  var root = el("div", { "class": "kc-root", lang: config.lang });
  root.style.setProperty("--kc-color", config.color);
  var launcher = el("button", { type: "button", "class": "kc-launcher", "aria-expanded": "false",
                                "aria-controls": "kc-panel", "aria-label": "Chat with " + config.clinicName + "'s assistant" }, "Chat");
  var panel = el("div", { id: "kc-panel", "class": "kc-panel", role: "dialog", "aria-modal": "false",
                              "aria-labelledby": "kc-title", hidden: "" });
  var header = el("div", { "class": "kc-header" });
  header.appendChild(el("h2", { id: "kc-title", "class": "kc-title" }, config.clinicName + " knee assistant"));
  var restart = el("button", { type: "button", "class": "kc-restart" }, "Start over");
  var close = el("button", { type: "button", "class": "kc-close", "aria-label": "Close chat" }, "×");
  header.appendChild(restart);
  header.appendChild(close);
  var banner = el("div", { "class": "kc-emergency", role: "alert", hidden: "" });
  var log = el("div", { "class": "kc-log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" });
  var typing = el("div", { "class": "kc-typing", hidden: "", "aria-hidden": "true" });
  typing.appendChild(el("span", { "class": "kc-dot" }));
  typing.appendChild(el("span", { "class": "kc-dot" }));
  typing.appendChild(el("span", { "class": "kc-dot" }));
  var status = el("p", { "class": "kc-visually-hidden", role: "status" });
  var form = el("form", { "class": "kc-form" });
  var label = el("label", { "for": "kc-input", "class": "kc-visually-hidden" }, "Your message");
  var input = el("input", { id: "kc-input", "class": "kc-input", type: "text", autocomplete: "off",
                            maxlength: "2000", placeholder: "Type your question" });
  var send = el("button", { type: "submit", "class": "kc-send" }, "Send");
  form.appendChild(label); form.appendChild(input); form.appendChild(send);
  var footer = el("p", { "class": "kc-footer" }, "General information from the clinic's articles, not a diagnosis or medical advice.");
  [header, banner, log, typing, status, form, footer].forEach(function (part) { panel.appendChild(part); });
  root.appendChild(panel);
  root.appendChild(launcher);

  // --- messages ---------------------------------------------------------------------------
  var LINK = /(https?:\/\/[^\s<>"']+|tel:\+?[0-9 ()-]{3,})/g;

  function textWithLinks(text) {
    var fragment = document.createDocumentFragment();
    var last = 0;
    text.replace(LINK, function (match, _url, offset) {
      fragment.appendChild(document.createTextNode(text.slice(last, offset)));
      var href = match.replace(/[.,;:!?)]+$/, "");
      var link = el("a", { href: href, target: "_blank", rel: "noopener noreferrer" }, href);
      fragment.appendChild(link);
      last = offset + href.length;
      return match;
    });
    fragment.appendChild(document.createTextNode(text.slice(last)));
    return fragment;
  }

  // The number to call if the server marked this message as part of an emergency reply, else null.
  function emergencyCall(message) {
    var call = message.emergency && message.emergency.call;
    return typeof call === "string" && /^[0-9+*#]{2,15}$/.test(call) ? call : null;
  }

  function showEmergency(number) {
    banner.textContent = "";
    banner.appendChild(document.createTextNode("This could be an emergency. "));
    banner.appendChild(el("a", { href: "tel:" + number, "class": "kc-call" }, "Call " + number + " now"));
    banner.hidden = false;
  }

  function render(entry, index) {
    var item = el("div", { "class": "kc-message kc-" + entry.from });
    var who = el("span", { "class": "kc-visually-hidden" }, entry.from === "bot" ? "Assistant: " : "You: ");
    item.appendChild(who);
    var body = el("p", { "class": "kc-text" });
    body.appendChild(textWithLinks(entry.text || ""));
    item.appendChild(body);
    if (entry.buttons && entry.buttons.length) {
      var group = el("div", { "class": "kc-replies", role: "group", "aria-label": "Suggested replies" });
      entry.buttons.forEach(function (button, position) {
        var choice = el("button", { type: "button", "class": "kc-reply",
                                    "aria-pressed": entry.chosen === position ? "true" : "false" }, button.title);
        choice.addEventListener("click", function () {
          state.history[index].chosen = position;
          save("history", state.history);
          group.querySelectorAll(".kc-reply").forEach(function (other) { other.setAttribute("aria-pressed", "false"); });
          choice.setAttribute("aria-pressed", "true");
          if (button.resend && !button.shown) emit(button.payload);  // the greeting: nothing to show
          else say(button.payload, button.resend ? button.shown : button.title);
        });
        group.appendChild(choice);
      });
      item.appendChild(group);
    }
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function add(entry) {
    state.history.push(entry);
    save("history", state.history);
    render(entry, state.history.length - 1);
  }

  function setTyping(on) {
    typing.hidden = !on;
    status.textContent = on ? "The assistant is typing" : "";
  }

  // --- the connection -----------------------------------------------------------------------
  var socket = null;
  var typingTimer = null;
  // Messages wait here until the server has confirmed our session (after a reconnect too): the
  // replies go to the session's room, which the connection joins only then. Nothing typed is lost.
  var confirmed = false;
  var pending = [];
  var greeted = false;

  // socket.io calls this on every (re)connection: a short-lived token from the page, if it has one.
  function authenticate(done) {
    if (typeof window.kneeChatToken === "function") window.kneeChatToken(function (token) { done({ token: token }); });
    else done({});
  }

  function newSessionId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // Each message carries an id that a busy reply names ({"busy": true, "resend": id}), so that
  // "Send again" offers exactly the message the server did not read. Kept for this page only.
  var sent = {};
  var nextId = 1;

  function emit(payload, shown) {
    var id = nextId++;
    sent[id] = { payload: payload, shown: shown || null };
    var event = { message: payload, session_id: state.session, metadata: { client_message_id: id } };
    if (confirmed) socket.emit("user_uttered", event);
    else pending.push(event);
  }

  function say(payload, shown) {
    add({ from: "user", text: shown });
    setTyping(true);
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { setTyping(false); }, 15000);
    emit(payload, shown);
  }

  // WebSocket first: one connection for the whole conversation, where long polling makes a full HTTP
  // request per poll. If it cannot be opened, the next attempt starts with long polling and tries to
  // upgrade from there (socket.io's classic order), so a proxy without WebSockets still works.
  function transports() {
    return config.transport === "polling" ? { transports: ["polling"], upgrade: false }
                                          : { transports: ["websocket"], upgrade: true };
  }

  function connect() {
    // The session id is made here, before connecting, and sent as `knee_session` with every request:
    // behind a load balancer, nginx sends all of one session's requests to the same Rasa instance.
    if (!state.session) {
      state.session = newSessionId();
      save("session", state.session);
    }
    var options = transports();
    // timeout: a connection attempt that hangs (a WebSocket opened and never answered) is given up
    // after 8 s, not socket.io's 20, and the next attempt long-polls.
    socket = window.io(config.server, { transports: options.transports, upgrade: options.upgrade, reconnection: true,
                                        timeout: 8000, query: { knee_session: state.session }, auth: authenticate });
    socket.on("connect_error", function () {
      if (socket.io.opts.transports[0] === "websocket") socket.io.opts.transports = ["polling", "websocket"];
    });
    socket.on("connect", function () { socket.emit("session_request", { session_id: state.session }); });
    socket.on("disconnect", function () { confirmed = false; });
    socket.on("session_confirm", function (sessionId) {
      var fresh = state.history.length === 0 && !greeted;
      state.session = sessionId;
      save("session", sessionId);
      confirmed = true;
      if (fresh) {  // it speaks first: greeting, what it can do, that it is not a doctor
        greeted = true;
        setTyping(true);
        emit("/greet");
      }
      pending.splice(0).forEach(function (event) { event.session_id = sessionId; socket.emit("user_uttered", event); });
    });
    socket.on("bot_uttered", function (message) {
      clearTimeout(typingTimer);
      setTyping(false);
      var text = message.text || "";
      var buttons = (message.quick_replies || message.buttons || []).map(function (b) {
        return { title: String(b.title), payload: String(b.payload) };
      });
      // "Busy, send it again": the server did not read (nor keep) the message; one tap sends it again.
      var refused = message.busy === true && sent[message.resend];
      if (refused) buttons = [{ title: "Send again", payload: refused.payload, shown: refused.shown, resend: true }];
      add({ from: "bot", text: text, buttons: buttons });
      var call = emergencyCall(message);
      if (call) {
        state.emergency = call;
        save("emergency", call);
        showEmergency(call);
      }
    });
  }

  function setOpen(open) {
    state.open = open;
    save("open", open);
    panel.hidden = !open;
    root.setAttribute("data-open", open ? "true" : "false");
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { log.scrollTop = log.scrollHeight; input.focus(); } else launcher.focus();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    say(text, text);
  });
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  close.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape") setOpen(false); });
  restart.addEventListener("click", function () {
    // A shared computer: forget this conversation in the browser and start a new session.
    state.history = []; state.emergency = null; state.session = null;
    ["history", "emergency", "session"].forEach(function (name) { store.removeItem(KEY + name); });
    log.textContent = ""; banner.hidden = true;
    confirmed = false;
    greeted = false;
    socket.off();
    socket.disconnect();
    connect();  // a new session id, so a new connection (the id is in every request's query)
    input.focus();
  });

  function start() {
    document.body.appendChild(root);
    state.history.forEach(render);
    if (typeof state.emergency === "string") showEmergency(state.emergency);
    if (state.open) {
      panel.hidden = false;
      root.setAttribute("data-open", "true");
      launcher.setAttribute("aria-expanded", "true");
      log.scrollTop = log.scrollHeight;  // the latest messages, not the first, after a reload
    }
    connect();
  }

  function withSocketIo(then) {
    if (window.io) return then();
    var loader = el("script", { src: base + "socket.io.min.js" });
    loader.onload = then;
    document.head.appendChild(loader);
  }

  var style = el("link", { rel: "stylesheet", href: base + "knee-chat.css" });
  document.head.appendChild(style);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { withSocketIo(start); });
  else withSocketIo(start);
})();
