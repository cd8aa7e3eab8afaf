// The account and manage pages: a "Copy" button beside a secret shown once (a new API
// token, a password-reset link). Without a clipboard the text is selected instead.

async function copyFrom(button) {
  const field = document.querySelector(button.dataset.copy);
  if (!field) return;
  field.select();
  let copied = false;
  try {
    await navigator.clipboard.writeText(field.value);
    copied = true;
  } catch {
    copied = false; // no clipboard (plain http, or refused): the text stays selected
  }
  const label = button.textContent;
  button.textContent = copied ? "Copied" : "Press Ctrl+C";
  setTimeout(() => { button.textContent = label; }, 2000);
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (button) copyFrom(button);
});
