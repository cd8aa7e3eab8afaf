// The comparison chart: each bot's return (or value) at the same boundaries, from the
// comparison the page embeds as JSON (the body of /api/analytics/comparison/).
import { PALETTE, chartTime, emptyNote, themedChart } from "./chart.js";
import { el, money } from "./format.js";

const box = document.getElementById("compare-chart");
const source = document.getElementById("compare-data");
const legend = document.getElementById("compare-legend");
const buttons = [...document.querySelectorAll("button[data-unit]")];

function seriesData(data, bot, unit) {
  const out = [];
  data.boundaries.forEach((at, i) => {
    const raw = unit === "pct" ? bot.returns[i] : bot.values[i];
    if (raw === null || raw === undefined) return;
    out.push({ time: chartTime(at), value: unit === "pct" ? 100 * Number(raw) : Number(raw) });
  });
  return out;
}

function draw() {
  if (!box || !source) return;
  const LW = window.LightweightCharts;
  const data = JSON.parse(source.textContent);
  const chart = themedChart(box);
  const formats = {
    pct: { type: "custom", formatter: (v) => `${v >= 0 ? "+" : ""}${v.toFixed(2)} %`, minMove: 0.01 },
    usd: { type: "custom", formatter: (v) => money(v), minMove: 0.01 },
  };
  const lines = data.bots.map((bot, i) => chart.addSeries(LW.LineSeries, {
    color: PALETTE[i % PALETTE.length], lineWidth: 2, title: bot.bot.name, priceFormat: formats.pct,
  }));
  document.querySelectorAll(".swatch[data-index]").forEach((swatch) => {
    swatch.style.background = PALETTE[Number(swatch.dataset.index) % PALETTE.length];
  });
  legend.replaceChildren(...data.bots.map((bot, i) => el("li", {},
    el("span", { class: "swatch", style: `background:${PALETTE[i % PALETTE.length]}`, "aria-hidden": "true" }),
    bot.bot.name)));
  function show(unit) {
    data.bots.forEach((bot, i) => {
      lines[i].applyOptions({ priceFormat: formats[unit] });
      lines[i].setData(seriesData(data, bot, unit));
    });
    buttons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.unit === unit)));
    chart.timeScale().fitContent();
  }
  buttons.forEach((b) => b.addEventListener("click", () => show(b.dataset.unit)));
  const any = data.bots.some((bot) => bot.values.some((v) => v !== null));
  emptyNote(box, any ? null : "No snapshot in this range yet.");
  show("pct");
}

if (window.LightweightCharts) draw();
else window.addEventListener("DOMContentLoaded", draw, { once: true });
