// The second-factor dialog: the server's prompts (its text shown as text), one field per
// prompt (hidden input unless the server says echo), a countdown, any number of rounds.
// Answers go to POST /api/remote/connect/respond and are cleared at once.
import { post } from "./api.js";
import { h, fill } from "./dom.js";

export function answerChallenge(first) {
  const dialog = document.getElementById("challenge-dialog");
  const form = document.getElementById("challenge-form");
  const error = document.getElementById("challenge-error");
  let challenge = first;
  let timer = null;
  let busy = false;

  const show = () => {
    fill(document.getElementById("challenge-title"), challenge.name || "Second factor");
    fill(document.getElementById("challenge-instruction"), challenge.instruction || "The server asks for more.");
    const prompts = challenge.prompts.map((p, i) =>
      h("label", {}, p.prompt, h("input", { name: `r${i}`, type: p.echo ? "text" : "password",
        autocomplete: "one-time-code", spellcheck: false, required: false })));
    fill(document.getElementById("challenge-prompts"), prompts);
    let left = challenge.expires_in_seconds;
    const countdown = document.getElementById("challenge-countdown");
    fill(countdown, String(left));
    clearInterval(timer);
    timer = setInterval(() => { left = Math.max(0, left - 1); fill(countdown, String(left)); }, 1000);
    const firstInput = form.querySelector("input");
    if (firstInput) firstInput.focus();
  };

  return new Promise((resolve) => {
    const finish = (value) => {
      clearInterval(timer);
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onEscape);
      fill(document.getElementById("challenge-prompts"));
      error.hidden = true;
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onSubmit = async (event) => {
      event.preventDefault();
      if (busy) return;
      const inputs = [...form.querySelectorAll("#challenge-prompts input")];
      const responses = inputs.map((input) => input.value);
      for (const input of inputs) input.value = "";
      busy = true;
      try {
        const answer = await post("/api/remote/connect/respond", { challenge_id: challenge.challenge_id, responses });
        finish(answer);
      } catch (e) {
        if (e.code === "second_factor_required") { challenge = e.body.challenge; error.hidden = true; show(); }
        else if (e.code === "challenge_not_found") { fill(error, "The login expired: connect again."); error.hidden = false; }
        else { fill(error, `${e.message} (${e.code})`); error.hidden = false; if (e.code === "authentication_failed") setTimeout(() => finish(null), 1500); }
      } finally {
        busy = false;
      }
    };
    const onCancel = () => finish(null);
    const onEscape = (event) => { if (busy) event.preventDefault(); else finish(null); };
    const cancel = document.getElementById("challenge-cancel");
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onEscape);
    dialog.showModal();
    show();
  });
}
