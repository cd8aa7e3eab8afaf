// The bot page: this bot's stream events for its fragments, live marks, the price chart,
// confirmations for the destructive actions, and open log entries kept open across refreshes.
import { onArena } from "./app.js";
import { signedMoney, tone, getJSON } from "./format.js";
import { themedChart, emptyNote } from "./chart.js";

const body = document.body;
const root = document.querySelector(".bot-page");
const botId = Number(root?.dataset.bot);
const lastPrices = {};

// Fragments refresh on "botpage:<type>": the arena's event, for this bot only, so another
// bot's trade does not re-render (and collapse) this page's tables and log.
const BOT_EVENTS = ["position_opened", "position_closed", "funding_applied", "balance_changed", "snapshot_taken",
  "decision_recorded", "bot_paused", "bot_resumed", "bot_reset", "bot_updated"];
for (const type of BOT_EVENTS) {
  onArena(type, (detail) => {
    if (Number(detail.bot) === botId) body.dispatchEvent(new CustomEvent(`botpage:${type}`, { detail }));
  });
}

/** Unrealized PnL of a row at `mark`: LONG quantity × (mark − entry), SHORT the opposite. */
export function unrealizedAt(side, entry, quantity, mark) {
  const move = Number(mark) - Number(entry);
  return (side === "SHORT" ? -1 : 1) * Number(quantity) * move;
}

function markRows(prices) {
  for (const row of document.querySelectorAll("#positions tr[data-position]")) {
    const price = prices[row.dataset.symbol];
    if (price === undefined) continue;
    const mark = row.querySelector('[data-cell="mark"]');
    const upnl = row.querySelector('[data-cell="upnl"]');
    if (mark) mark.textContent = String(price);
    if (upnl) {
      const value = unrealizedAt(row.dataset.side, row.dataset.entry, row.dataset.quantity, price);
      upnl.textContent = signedMoney(value.toFixed(8));
      upnl.classList.remove("pos", "neg");
      const t = tone(value);
      if (t) upnl.classList.add(t);
    }
  }
}

// ---- the price chart ----
const container = document.getElementById("bot-chart");
const select = document.getElementById("chart-symbol");
let chart = null;
let candles = null;
let markers = null;
let lines = [];
let lastBar = null;

async function loadChart() {
  if (!container || !select || !window.LightweightCharts) return;
  const LW = window.LightweightCharts;
  if (!chart) {
    chart = themedChart(container);
    candles = chart.addSeries(LW.CandlestickSeries, {
      upColor: "#3fb950", downColor: "#ff7b72", borderVisible: false, wickUpColor: "#3fb950", wickDownColor: "#ff7b72",
    });
    markers = LW.createSeriesMarkers(candles, []);
  }
  const url = `${select.dataset.url}?symbol=${encodeURIComponent(select.value)}`;
  let data;
  try {
    data = await getJSON(url);
  } catch (error) {
    emptyNote(container, `The chart could not be loaded: ${error.message}`);
    return;
  }
  const last = data.candles.length ? data.candles[data.candles.length - 1].close : 0;
  const precision = last >= 1000 ? 2 : last >= 10 ? 3 : last >= 1 ? 4 : 6;
  candles.applyOptions({ priceFormat: { type: "price", precision, minMove: 10 ** -precision } });
  candles.setData(data.candles);
  markers.setMarkers(data.markers);
  for (const line of lines) candles.removePriceLine(line);
  lines = data.lines.map((l) => candles.createPriceLine({
    price: l.price, color: l.color, lineWidth: 1, lineStyle: l.lineStyle, axisLabelVisible: true, title: l.title,
  }));
  lastBar = data.candles.length ? { ...data.candles[data.candles.length - 1] } : null;
  emptyNote(container, data.candles.length ? "" : `No stored candles for ${data.symbol} yet.`);
  showTrading(data);
}

// Open on the span the bot traded in (from a day of bars before its first marker), not on
// every stored candle, where a few hours of trades would crowd onto the last bars.
function showTrading(data) {
  const bars = data.candles.length;
  const first = data.markers.length ? Math.min(...data.markers.map((m) => m.time)) : null;
  const index = first === null ? -1 : data.candles.findIndex((c) => c.time >= first);
  if (index < 0) {
    chart.timeScale().fitContent();
    return;
  }
  chart.timeScale().setVisibleLogicalRange({ from: Math.max(0, index - 24), to: bars + 2 });
}

function tickChart(prices) {
  if (!lastBar || !select) return;
  const price = Number(prices[select.value]);
  if (!Number.isFinite(price)) return;
  lastBar = { ...lastBar, close: price, high: Math.max(lastBar.high, price), low: Math.min(lastBar.low, price) };
  candles.update(lastBar);
}

select?.addEventListener("change", loadChart);
// The chart script is deferred like this module: both have run by DOMContentLoaded's end.
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", loadChart);
else loadChart();
let reload = null;
for (const type of ["position_opened", "position_closed"]) {
  body.addEventListener(`botpage:${type}`, () => {
    clearTimeout(reload);
    reload = setTimeout(loadChart, 500);
  });
}

onArena("market_prices", (detail) => {
  Object.assign(lastPrices, detail.prices || {});
  markRows(detail.prices || {});
  tickChart(detail.prices || {});
});

// ---- confirmations: a form with data-confirm asks first, in a <dialog> ----
const dialog = document.createElement("dialog");
dialog.className = "confirm";
const question = document.createElement("p");
const buttons = document.createElement("form");
buttons.method = "dialog";
buttons.className = "actions";
const cancel = Object.assign(document.createElement("button"), { type: "submit", value: "cancel", className: "btn", textContent: "Cancel" });
const ok = Object.assign(document.createElement("button"), { type: "submit", value: "ok", className: "btn danger", textContent: "Confirm" });
buttons.append(cancel, ok);
dialog.append(question, buttons);
document.body.append(dialog);
let pending = null;

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm || form.dataset.confirmed) return;
  event.preventDefault();
  pending = form;
  question.textContent = form.dataset.confirm;
  dialog.returnValue = "";
  dialog.showModal();
  cancel.focus();
});
dialog.addEventListener("close", () => {
  if (dialog.returnValue === "ok" && pending) {
    pending.dataset.confirmed = "1";
    pending.requestSubmit();
  }
  pending = null;
});

// ---- refreshes: keep what the reader opened open, and re-apply the latest marks ----
let openDecisions = new Set();
body.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.target?.id === "ai-log") {
    openDecisions = new Set([...document.querySelectorAll("#ai-log details[open][data-decision]")].map((d) => d.dataset.decision));
  }
});
body.addEventListener("htmx:afterSettle", (event) => {
  const id = event.detail.target?.id;
  if (id === "ai-log" || event.detail.elt?.id === "ai-log") {
    for (const item of document.querySelectorAll("#ai-log details[data-decision]")) {
      if (openDecisions.has(item.dataset.decision)) item.open = true;
    }
  }
  if (Object.keys(lastPrices).length) markRows(lastPrices);
});
