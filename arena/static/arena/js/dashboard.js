// The dashboard's live parts that are not htmx fragments: market prices from the ticks,
// the stale-market badge, the turn countdown, the all-bots value chart, and the cards'
// confirm step staying open while the list refreshes around it.
import { onArena } from "./app.js";
import { money, el, clock, getJSON } from "./format.js";
import { themedChart, chartTime, emptyNote, PALETTE } from "./chart.js";

// ---- market ticker ---------------------------------------------------------------
const ticker = document.getElementById("market-ticker");
const staleBadge = document.getElementById("market-stale");
const priceFormat = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 6 });

function checkStale(now = Date.now()) {
  if (!ticker || !staleBadge) return;
  const at = Date.parse(ticker.dataset.updatedAt || "");
  const after = Number(ticker.dataset.staleAfter || 0) * 1000;
  const stale = Number.isFinite(at) && after > 0 && now - at > after;
  staleBadge.hidden = !stale;
  if (stale) {
    const time = staleBadge.querySelector("time") || staleBadge.appendChild(el("time"));
    time.setAttribute("datetime", new Date(at).toISOString());
    time.textContent = clock(new Date(at).toISOString());
  }
}

onArena("market_prices", (detail) => {
  if (!ticker) return;
  for (const [symbol, price] of Object.entries(detail.prices || {})) {
    const cell = ticker.querySelector(`[data-symbol="${CSS.escape(symbol)}"] .price`);
    if (!cell) continue;
    const before = Number(cell.dataset.price);
    const now = Number(price);
    cell.dataset.price = price;
    cell.textContent = Number.isFinite(now) ? priceFormat.format(now) : "—";
    cell.classList.remove("up", "down");
    if (Number.isFinite(before) && before !== now) {
      void cell.offsetWidth; // restart the flash
      cell.classList.add(now > before ? "up" : "down");
    }
  }
  if (detail.at) ticker.dataset.updatedAt = detail.at;
  checkStale();
});

// ---- turn countdown ----------------------------------------------------------------
function span(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

function tickTurn(now = Date.now()) {
  for (const node of document.querySelectorAll("#turn-state [data-next-at]")) {
    const at = Date.parse(node.dataset.nextAt);
    if (!Number.isFinite(at)) continue;
    node.textContent = at > now ? `in ${span((at - now) / 1000)}` : "due now";
    node.title = clock(new Date(at).toISOString());
  }
  for (const node of document.querySelectorAll("#turn-state [data-since]")) {
    const at = Date.parse(node.dataset.since);
    if (Number.isFinite(at)) node.textContent = `${clock(node.dataset.since)} (${span((now - at) / 1000)})`;
  }
}

setInterval(() => { tickTurn(); checkStale(); }, 1000);
tickTurn();
checkStale();
document.body.addEventListener("htmx:afterSwap", () => tickTurn());

// ---- the cards' confirm step ----------------------------------------------------------
// A whole-list refresh would wipe a half-confirmed reset: wait until it is answered.
document.body.addEventListener("htmx:beforeRequest", (event) => {
  const source = event.detail.elt;
  if (source?.id === "bot-cards" && source.querySelector(".confirm-step")) event.preventDefault();
});
// A confirm step that just appeared takes the focus once (keyboard users land on it).
document.body.addEventListener("htmx:afterSettle", () => {
  const step = document.querySelector(".confirm-step:not([data-focused])");
  if (!step) return;
  step.dataset.focused = "1";
  step.querySelector("[data-confirm]")?.focus();
});

// ---- the value chart -----------------------------------------------------------------
const container = document.getElementById("values-chart");
const legend = document.getElementById("values-legend");
const state = { range: container?.dataset.range || "24h", unit: "usd", data: null, series: new Map() };
let chart = null;

function pointOf(point, unit) {
  // point: [time, value, return]
  const y = unit === "pct" ? (point[2] === null ? null : point[2] * 100) : Number(point[1]);
  return y === null || !Number.isFinite(y) ? null : { time: point[0], value: y };
}

function seriesOptions(color) {
  const formatter = state.unit === "pct" ? (v) => `${v.toFixed(2)} %` : (v) => money(v);
  return { color, lineWidth: 2, priceLineVisible: false, lastValueVisible: false,
           priceFormat: { type: "custom", formatter, minMove: 0.01 } };
}

function draw() {
  if (!container || !window.LightweightCharts || !state.data) return;
  if (!chart) chart = themedChart(container);
  for (const { series } of state.series.values()) chart.removeSeries(series);
  state.series.clear();
  legend.replaceChildren();
  let any = false;
  state.data.bots.forEach((bot, index) => {
    const color = PALETTE[index % PALETTE.length];
    const points = bot.points.map((p) => pointOf(p, state.unit)).filter(Boolean);
    const series = chart.addSeries(window.LightweightCharts.LineSeries, { ...seriesOptions(color), title: "" });
    series.setData(points);
    any ||= points.length > 0;
    const last = bot.points[bot.points.length - 1] || null;
    state.series.set(bot.id, { series, last, lastTime: last ? last[0] : 0 });
    legend.append(el("li", {}, el("span", { class: "swatch", style: `background:${color}` }),
      el("a", { href: `/bots/${bot.id}/` }, bot.name)));
  });
  emptyNote(container, any ? "" : "No snapshots in this range yet.");
  chart.timeScale().fitContent();
}

async function load() {
  if (!container) return;
  const url = `${container.dataset.url}?range=${encodeURIComponent(state.range)}`;
  try {
    state.data = await getJSON(url);
    draw();
  } catch (error) {
    emptyNote(container, `The chart could not load: ${error.message}`);
  }
}

function press(selector, attribute, value) {
  for (const button of document.querySelectorAll(selector)) {
    button.setAttribute("aria-pressed", String(button.getAttribute(attribute) === value));
  }
}

document.addEventListener("click", (event) => {
  const range = event.target.closest("button[data-range]");
  const unit = event.target.closest("button[data-unit]");
  if (range) {
    state.range = range.dataset.range;
    press("button[data-range]", "data-range", state.range);
    load();
  } else if (unit) {
    state.unit = unit.dataset.unit;
    press("button[data-unit]", "data-unit", state.unit);
    draw();
  }
});

// A snapshot lands between the comparison's boundaries: append it to its bot's line. Its
// return is chained from the line's last return (value over last value), how a return
// grows between two points without deposits.
onArena("snapshot_taken", (detail) => {
  const line = state.series.get(Number(detail.bot));
  if (!line || !detail.taken_at) return;
  const time = chartTime(detail.taken_at);
  if (time <= line.lastTime) return;
  const prev = line.last;
  const value = Number(detail.total_value);
  let ret = null;
  if (prev && prev[2] !== null && Number(prev[1]) > 0) ret = (1 + prev[2]) * (value / Number(prev[1])) - 1;
  const point = [time, detail.total_value, ret];
  const shown = pointOf(point, state.unit);
  if (shown) line.series.update(shown);
  line.last = point;
  line.lastTime = time;
  const bot = state.data?.bots.find((b) => b.id === Number(detail.bot));
  bot?.points.push(point);
  emptyNote(container, "");
});

if (container) {
  if (window.LightweightCharts) load();
  else window.addEventListener("load", load, { once: true });
}

