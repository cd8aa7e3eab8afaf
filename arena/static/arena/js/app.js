// Every page's live stream: one /ws/arena/ socket per tab, resumed from the last event seen.
//
// The page was rendered at event number <body data-seq>; the socket asks for everything
// after it (?since=N), so nothing falls between the page and the stream, and on every
// reconnect it asks again from the last event it received (no gap, no duplicate). Each
// event becomes a DOM event on document.body, "arena:<type>" with the event as its detail,
// plus "arena:event" for any of them; htmx fragments listen with
// hx-trigger="arena:position_opened from:body". A "resync" (the tab was away longer than
// the server keeps events) reloads the page, which is the state as of now. A page with
// <body data-stream="off"> (a private arena's sign-in pages) opens no socket.
const body = document.body;
const status = document.getElementById("live-status");
const HEARTBEAT_GRACE_MS = 70_000; // the server beats every 25 s by default: two missed = dead
let lastSeq = Number(body.dataset.seq || 0);
let socket = null;
let retry = 0;
let watchdog = null;
let reconnectTimer = null;

function setStatus(state, text) {
  if (!status) return;
  status.dataset.state = state;
  status.textContent = text;
}

function emit(event) {
  const detail = { seq: event.seq, type: event.type, ...(event.data || {}) };
  body.dispatchEvent(new CustomEvent(`arena:${event.type}`, { detail }));
  body.dispatchEvent(new CustomEvent("arena:event", { detail }));
}

function armWatchdog() {
  clearTimeout(watchdog);
  watchdog = setTimeout(() => socket && socket.close(4000, "no heartbeat"), HEARTBEAT_GRACE_MS);
}

function connect() {
  clearTimeout(reconnectTimer);
  if (socket && socket.readyState <= WebSocket.OPEN) return;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${location.host}/ws/arena/?since=${lastSeq}`);
  setStatus(retry ? "reconnecting" : "connecting", retry ? "Reconnecting…" : "Connecting…");
  socket.addEventListener("message", (message) => {
    armWatchdog();
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return; // not ours to show
    }
    if (event.type === "hello") {
      retry = 0;
      setStatus("live", "Live");
      return;
    }
    if (event.type === "resync") {
      setStatus("reconnecting", "Reloading…");
      location.reload();
      return;
    }
    if (typeof event.seq === "number") {
      if (event.seq <= lastSeq) return; // already shown
      lastSeq = event.seq;
      body.dataset.seq = String(lastSeq);
    }
    emit(event);
  });
  socket.addEventListener("close", () => {
    clearTimeout(watchdog);
    socket = null;
    retry += 1;
    const delay = Math.min(30_000, 1000 * 2 ** Math.min(retry - 1, 5)) * (0.75 + Math.random() / 2);
    setStatus("down", `Offline, retrying in ${Math.round(delay / 1000)} s`);
    reconnectTimer = setTimeout(connect, delay);
  });
}

// Back online or back in view: try at once rather than waiting out the back-off.
if (body.dataset.stream !== "off") {
  window.addEventListener("online", connect);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !socket) connect();
  });
}

/** Call handler(detail) for every event of this type ("*" for all); returns an unsubscribe. */
export function onArena(type, handler) {
  const name = type === "*" ? "arena:event" : `arena:${type}`;
  const listener = (e) => handler(e.detail);
  body.addEventListener(name, listener);
  return () => body.removeEventListener(name, listener);
}

if (body.dataset.stream !== "off") connect();
