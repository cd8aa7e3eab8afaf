// The bot form: how much of the prompt's room is used. The field can be replaced by a
// strategy template (htmx), so the counter listens on the document, not on the field.
const LIMIT = 10000;

function count() {
  const field = document.getElementById("id_prompt");
  const out = document.getElementById("prompt-count");
  if (!field || !out) return;
  const used = field.value.length;
  out.textContent = `${used.toLocaleString("en")} of ${LIMIT.toLocaleString("en")} characters`;
  out.classList.toggle("neg", used > LIMIT * 0.95);
}

document.addEventListener("input", (event) => {
  if (event.target instanceof HTMLElement && event.target.id === "id_prompt") count();
});
document.body.addEventListener("htmx:afterSwap", count);
count();
