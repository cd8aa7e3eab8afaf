// Numbers as the pages show them, and DOM built from data without ever parsing it as HTML.

const usd = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** "1,234.57" (money arrives as exact decimal strings; shown to the cent). */
export function money(value) {
  if (value === null || value === undefined || value === "") return "—";
  const n = Number(value);
  return Number.isFinite(n) ? usd.format(n) : "—";
}

/** "+1,234.57" with its sign, for changes and PnL. */
export function signedMoney(value) {
  const n = Number(value);
  if (value === null || value === undefined || !Number.isFinite(n)) return "—";
  return (n > 0 ? "+" : "") + usd.format(n);
}

/** A fraction as a percentage: 0.0123 → "+1.23 %". */
export function pct(fraction, { signed = true } = {}) {
  const n = Number(fraction);
  if (fraction === null || fraction === undefined || !Number.isFinite(n)) return "—";
  return `${signed && n > 0 ? "+" : ""}${(n * 100).toFixed(2)} %`;
}

/** "pos", "neg" or "" for colouring a signed figure. */
export function tone(value) {
  const n = Number(value);
  return n > 0 ? "pos" : n < 0 ? "neg" : "";
}

/** el("td", {class: "num"}, "text", child…): children are text or nodes, never HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** "14:05:09 UTC" from an ISO time. */
export function clock(iso) {
  if (!iso) return "—";
  return new Date(iso).toISOString().slice(11, 19) + " UTC";
}

/** Read a JSON API answer, throwing its error message ({"error": {"message"}}) on failure. */
export async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data?.error?.message || `${response.status} ${response.statusText}`);
  return data;
}
