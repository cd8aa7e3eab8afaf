// The bot deep dive's charts: its value and its drawdown over the page's range, read from
// /api/analytics/bots/<id>/performance/ (the URL the page renders, with the session).
import { chartTime, emptyNote, themedChart } from "./chart.js";
import { el, getJSON, money, pct } from "./format.js";

const root = document.getElementById("bot-charts");
const status = document.getElementById("chart-status");
const figures = document.getElementById("chart-figures");

const percent = { type: "custom", formatter: (v) => `${v.toFixed(2)} %`, minMove: 0.01 };

/** "3 h 20 min" from seconds; "—" for none. */
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

function figure(label, text, reason) {
  const value = el("dd", reason ? { title: reason } : {}, text);
  return el("div", {}, el("dt", {}, label), value);
}

function showFigures(data) {
  const reasons = data.reasons || {};
  const exposure = data.exposure || {};
  figures.replaceChildren(
    figure("Return", pct(data.total_return), reasons.total_return),
    figure("Max drawdown", pct(data.max_drawdown, { signed: false }), reasons.max_drawdown),
    figure("Longest drawdown", duration(data.max_drawdown_duration?.seconds), reasons.max_drawdown_duration),
    figure("Time long", pct(exposure.long, { signed: false }), exposure.reasons?.long),
    figure("Time short", pct(exposure.short, { signed: false }), exposure.reasons?.short),
    figure("Time flat", pct(exposure.flat, { signed: false }), exposure.reasons?.flat),
  );
}

async function draw() {
  const LW = window.LightweightCharts;
  const valueBox = document.getElementById("value-chart");
  const drawdownBox = document.getElementById("drawdown-chart");
  let data;
  try {
    data = await getJSON(root.dataset.url);
  } catch (error) {
    status.textContent = `Could not load the chart: ${error.message}`;
    return;
  }
  status.textContent = `${data.points.length} points, every ${data.interval}`;
  showFigures(data);
  const valueChart = themedChart(valueBox);
  const value = valueChart.addSeries(LW.AreaSeries, {
    lineColor: "#58a6ff", topColor: "rgba(88,166,255,0.35)", bottomColor: "rgba(88,166,255,0.02)", lineWidth: 2,
    priceFormat: { type: "custom", formatter: (v) => money(v), minMove: 0.01 },
  });
  value.setData(data.points.map((p) => ({ time: chartTime(p.at), value: Number(p.value) })));
  const drawdownChart = themedChart(drawdownBox);
  const drawdown = drawdownChart.addSeries(LW.AreaSeries, {
    lineColor: "#ff7b72", topColor: "rgba(255,123,114,0.02)", bottomColor: "rgba(255,123,114,0.35)", lineWidth: 2,
    invertFilledArea: true, priceFormat: percent,
  });
  drawdown.setData(data.points.map((p) => ({ time: chartTime(p.at), value: -100 * p.drawdown })));
  const empty = data.points.length ? null : "No snapshot in this range yet.";
  emptyNote(valueBox, empty);
  emptyNote(drawdownBox, empty);
  valueChart.timeScale().fitContent();
  drawdownChart.timeScale().fitContent();
  // The two charts scroll and zoom together.
  let syncing = false;
  const follow = (from, to) => (range) => {
    if (syncing || !range) return;
    syncing = true;
    to.timeScale().setVisibleLogicalRange(range);
    syncing = false;
  };
  valueChart.timeScale().subscribeVisibleLogicalRangeChange(follow(valueChart, drawdownChart));
  drawdownChart.timeScale().subscribeVisibleLogicalRangeChange(follow(drawdownChart, valueChart));
}

if (root) {
  // The chart library is a deferred classic script: wait until the document has run it.
  if (window.LightweightCharts) draw();
  else window.addEventListener("DOMContentLoaded", draw, { once: true });
}
