// API key management for the customer: create (secret shown once) and revoke.
import { api, el } from "./api.js";

const $ = (id) => document.getElementById(id);

async function refresh() {
  const keys = await api("/v2/api_keys");
  const rows = keys.map((key) => el("tr", {},
    el("td", {}, key.label), el("td", {}, el("code", {}, key.key_id)),
    el("td", {}, new Date(key.created_at).toLocaleString()),
    el("td", {}, String(key.rate_limit_per_minute)),
    el("td", {}, key.revoked_at ? `revoked ${new Date(key.revoked_at).toLocaleString()}` : "active"),
    el("td", {}, key.revoked_at ? "" : el("button", { class: "link", onclick: () => revoke(key) }, "Revoke"))));
  $("key-rows").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No keys yet"))]));
}

async function revoke(key) {
  if (!window.confirm(`Revoke ${key.label} (${key.key_id})? Programs using it stop working at once.`)) return;
  await api(`/v2/api_keys/${key.id}`, { method: "DELETE" });
  refresh();
}

$("new-key").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  try {
    const key = await api("/v2/api_keys", { method: "POST", body: { label: form.label.value } });
    const box = $("new-secret");
    box.replaceChildren(
      el("p", {}, el("strong", {}, "Copy the secret now: it is not shown again.")),
      el("p", {}, "Key id: ", el("code", {}, key.key_id)),
      el("p", {}, "Secret: ", el("code", {}, key.secret_key)));
    box.hidden = false;
    form.reset();
    refresh();
  } catch (error) {
    window.alert(error.message);
  }
});

refresh();
