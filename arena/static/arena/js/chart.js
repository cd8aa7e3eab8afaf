// lightweight-charts (loaded as the classic script vendor/lightweight-charts/
// lightweight-charts.standalone.production.js, the global LightweightCharts) in the arena's theme.

export const PALETTE = ["#58a6ff", "#3fb950", "#ff9e64", "#d2a8ff", "#ff7b72", "#e3b341", "#56d4dd", "#f778ba", "#a5d6ff", "#7ee787"];

/** A chart filling `container`, resized with it, in the dark theme, times in UTC. */
export function themedChart(container, options = {}) {
  const LW = window.LightweightCharts;
  const chart = LW.createChart(container, {
    autoSize: true,
    layout: { background: { type: "solid", color: "transparent" }, textColor: "#a3adb8", fontSize: 12, attributionLogo: false },
    grid: { vertLines: { color: "#21262d" }, horzLines: { color: "#21262d" } },
    rightPriceScale: { borderColor: "#30363d" },
    timeScale: { borderColor: "#30363d", timeVisible: true, secondsVisible: false },
    crosshair: { mode: LW.CrosshairMode.Normal },
    ...options,
  });
  return chart;
}

/** Seconds since the epoch (the charts' time) from an ISO string. */
export function chartTime(iso) {
  return Math.floor(new Date(iso).getTime() / 1000);
}

/** Show or hide a "no data yet" note over a chart's container. */
export function emptyNote(container, text) {
  let note = container.querySelector(".chart-empty");
  if (!text) { note?.remove(); return; }
  if (!note) {
    note = document.createElement("div");
    note.className = "chart-empty";
    container.append(note);
  }
  note.textContent = text;
}
