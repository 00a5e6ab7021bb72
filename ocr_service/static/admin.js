// Admin console: forms marked data-api are sent to the JSON API (with the CSRF token), so every
// write goes through the same audited API path as machine clients. No inline script (CSP).
"use strict";
(() => {
  const csrf = () => (window.ocrCsrfToken ? window.ocrCsrfToken() : "");

  function formBody(form) {
    const body = {};
    for (const el of Array.from(form.elements)) {
      if (!el.name || el.disabled) continue;
      if (el.type === "checkbox") body[el.name] = el.checked;
      else if (el.dataset.kind === "lines") {
        const lines = el.value.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
        body[el.name] = lines.length ? lines : null;
      }
      else if (el.dataset.kind === "bool3") body[el.name] = el.value === "" ? null : el.value === "true";
      else if (el.dataset.kind === "int") body[el.name] = el.value === "" ? null : Number(el.value);
      else if (el.type === "radio") { if (el.checked) body[el.name] = el.value; }
      else body[el.name] = el.value;
    }
    return body;
  }

  async function submit(form, event) {
    event.preventDefault();
    const twin = form.querySelector("[data-same-as]");
    if (twin && twin.value !== form.elements[twin.dataset.sameAs].value) {
      const out = form.querySelector(".result");
      out.textContent = "確認のために入力したパスワードが一致しません。";
      out.classList.add("error");
      twin.focus();
      return;
    }
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const out = form.querySelector(".result") || document.getElementById("toast");
    const button = form.querySelector("button[type=submit], button:not([type])");
    if (button) button.disabled = true;
    const method = form.dataset.method || "POST";
    const init = { method, credentials: "same-origin", headers: { "x-csrf-token": csrf() } };
    if (method !== "DELETE") {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(formBody(form));
    }
    const res = await fetch(form.dataset.api, init);
    const data = (res.headers.get("content-type") || "").includes("json") ? await res.json() : null;
    if (button) button.disabled = false;
    if (!res.ok) {
      const message = (data && data.detail && (data.detail.message || (Array.isArray(data.detail) && "入力内容を確認してください。"))) || "操作できませんでした。";
      out.textContent = message;
      out.classList.add("error");
      out.setAttribute("role", "alert");
      return;
    }
    out.classList.remove("error");
    if (data && data.secret) {
      // Shown once: tokens, recovery codes. The page is not reloaded so the value stays visible.
      out.textContent = "";
      const label = document.createElement("p");
      label.textContent = data.notice || "この値は一度だけ表示されます。控えてください。";
      const value = document.createElement("pre");
      value.className = "secret";
      value.id = "issued-secret";
      value.tabIndex = 0;
      value.textContent = Array.isArray(data.secret) ? data.secret.join("\n") : data.secret;
      out.append(label, value);
      value.focus();
      const more = document.getElementById("mfa-continue");
      if (more) more.hidden = false;
      return;
    }
    if (data && data.stage === "password_change") { location.href = "/account/password"; return; }
    if (data && data.stage === "mfa_enrol") {
      location.href = `/account/mfa?next=${encodeURIComponent(form.dataset.next || "/review")}`;
      return;
    }
    if (form.dataset.next) { location.href = form.dataset.next; return; }
    out.textContent = (data && data.message) || "保存しました。";
    setTimeout(() => location.reload(), 600);
  }

  document.querySelectorAll("form[data-api]").forEach((form) => {
    form.addEventListener("submit", (event) => submit(form, event));
  });
})();
