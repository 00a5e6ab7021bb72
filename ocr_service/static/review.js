// Review screens: keyboard-first field review, blind double entry, arbitration, CSV download.
// No framework and no network beyond this server: the screens must work on closed LGWAN networks.
"use strict";
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  function toast(text) {
    const box = $("#toast");
    if (!box) return;
    box.textContent = text;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.textContent = ""; }, 5000);
  }

  // The CSRF token the server bound to this login session (see api/security.py).
  const csrfToken = () => {
    const match = document.cookie.match(/(?:^|;\s*)ocr_csrf=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  };
  window.ocrCsrfToken = csrfToken;

  // Headers every state-changing request sends (fetch and the upload XHR): the CSRF token.
  function requestHeaders() { return { "x-csrf-token": csrfToken() }; }

  async function api(method, url, body) {
    const init = { method, credentials: "same-origin", headers: requestHeaders() };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(url, init);
    const data = (res.headers.get("content-type") || "").includes("json") ? await res.json() : null;
    return { res, data };
  }

  const messageOf = (data, fallback) => (data && data.detail && data.detail.message) || fallback;

  // ---- header, login ------------------------------------------------------------------------
  const logout = $("#logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      await api("POST", "/api/v1/auth/logout");
      location.href = "/login";
    });
  }
  const loginForm = $("#login-form");
  if (loginForm) {
    loginForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const otpBox = $("#otp-box");
      const body = { username: $("#username").value, password: $("#password").value };
      if (!otpBox.hidden && $("#otp").value) body.otp = $("#otp").value;
      const { res, data } = await api("POST", "/api/v1/auth/login", body);
      // 監査担当 reads the log only: the default landing page (the review queue) is not theirs.
      const requested = loginForm.dataset.next;
      const next = data && data.role === "auditor" && requested === "/review" ? "/admin/audit" : requested;
      if (res.ok) {
        if (data.password_warning) sessionStorage.setItem("ocrNotice", data.password_warning);
        if (data.stage === "password_change") location.href = `/account/password?next=${encodeURIComponent(next)}`;
        else if (data.stage === "mfa_enrol") location.href = `/account/mfa?next=${encodeURIComponent(next)}`;
        else location.href = next;
        return;
      }
      if (data && data.detail && data.detail.code === "mfa_required") {
        otpBox.hidden = false;
        $("#login-error").textContent = messageOf(data, "");
        $("#otp").focus();
        return;
      }
      $("#login-error").textContent = messageOf(data, "ログインできませんでした。");
      if (!otpBox.hidden) { $("#otp").value = ""; $("#otp").focus(); }
    });
  }

  const notice = sessionStorage.getItem("ocrNotice");
  if (notice && !loginForm) { sessionStorage.removeItem("ocrNotice"); toast(notice); }

  // ---- queue --------------------------------------------------------------------------------
  const firstOpen = $("[data-autofocus]");
  if (firstOpen) firstOpen.focus();

  async function exportCsv(button) {
    button.disabled = true;
    const errors = $("#export-errors");
    errors.textContent = "";
    const extra = ["batch", "pages", "received"].filter((k) => { const box = $(`#opt-${k}`); return box && box.checked; });
    const query = extra.length ? `?extra=${extra.join(",")}` : "";
    const res = await fetch(`/api/v1/forms/${encodeURIComponent(button.dataset.form)}/export.csv${query}`,
      { method: "POST", credentials: "same-origin", headers: requestHeaders() });
    if (!res.ok) {
      const data = await res.json().catch(() => null);
      errors.textContent = messageOf(data, "出力できませんでした。");
      errors.focus();
      button.disabled = false;
      return;
    }
    const blob = await res.blob();
    const disposition = res.headers.get("content-disposition") || "";
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = decodeURIComponent(disposition.split("''")[1] || "export.csv");
    document.body.appendChild(link);
    link.click();
    link.remove();
    toast(`${res.headers.get("x-export-rows")} 件を出力しました（出力済になりました）。`);
    setTimeout(() => location.reload(), 2000);
  }
  $$("button.export").forEach((button) => button.addEventListener("click", () => exportCsv(button)));

  // ---- document review ----------------------------------------------------------------------
  const root = $("#review");
  if (root) initReview(root);

  function initReview(root) {
    const docId = root.dataset.document;
    const editable = root.dataset.editable === "1";
    const viewer = $("#viewer");
    const canvas = $("#canvas");
    const autoRows = $("#auto-rows");
    const pending = new Map(); // row -> promise of its last save; saves of one row run in order
    let lastInput = null;
    const view = { scale: 1, x: 0, y: 0 };

    const rows = () => $$(".row", root);
    const inputOf = (row) => $(".value", row);
    const valueOf = (row) => { const input = inputOf(row); return input.type === "checkbox" ? (input.checked ? "1" : "0") : input.value; };
    const setValue = (row, value) => { const input = inputOf(row); if (input.type === "checkbox") input.checked = value === "1"; else input.value = value; };
    const needsAttention = (row) => !row.classList.contains("done") && (row.dataset.flagged === "1" || $(".reason", row).textContent.trim() !== "");

    function save(row, accept) {
      if (!editable) return Promise.resolve(true);
      const run = (pending.get(row) || Promise.resolve(true)).then(() => sendSave(row, accept));
      pending.set(row, run.catch(() => false));
      return run;
    }

    async function sendSave(row, accept) {
      const value = valueOf(row);
      if (value === row.dataset.saved && (!accept || row.dataset.accepted === "1")) return true;
      const { res, data } = await api("PATCH", `/api/v1/review/documents/${docId}/fields/${row.dataset.id}`,
        { value, version: Number(row.dataset.version) });
      const reason = $(".reason", row);
      if (res.ok) {
        row.dataset.version = data.version;
        row.dataset.saved = data.value;
        row.dataset.accepted = "1";
        row.classList.remove("conflict");
        // Saved but still invalid (e.g. a 6-digit postal code): it keeps needing attention.
        row.classList.toggle("done", !data.reason);
        reason.textContent = data.reason || "";
        return true;
      }
      row.classList.remove("done");
      if (res.status === 409 && data && data.detail.current) {
        // Someone else saved first: show their value, never overwrite it silently.
        const current = data.detail.current;
        row.dataset.version = current.version;
        row.dataset.saved = current.value;
        setValue(row, current.value);
        row.classList.add("conflict");
        reason.textContent = `${data.detail.message}（現在の値：「${current.value}」）`;
      } else {
        reason.textContent = messageOf(data, "保存できませんでした。");
      }
      toast(reason.textContent);
      return false;
    }

    function focusRow(row) {
      if (row.closest("details") && !autoRows.open) autoRows.open = true;
      inputOf(row).focus();
    }

    function nextAttention(current) {
      const all = rows();
      const start = all.indexOf(current);
      const order = [...all.slice(start + 1), ...all.slice(0, Math.max(start, 0))];
      return order.find(needsAttention) || null;
    }

    function accept(row) {
      // Move on at once and save in the background: typing never waits for the network.
      row.classList.add("done");
      save(row, true);
      const next = nextAttention(row);
      const confirm = $("#confirm");
      if (next) focusRow(next);
      else if (confirm) confirm.focus();
    }

    async function confirmDocument(bulk = false) {
      const confirm = $("#confirm");
      if (!confirm) return;
      if (bulk && !window.confirm("未確認の要確認項目が残っていても確定します。監査記録に未確認の項目が残ります。よろしいですか。")) return;
      confirm.disabled = true;
      const saved = await Promise.all([...pending.values()]);
      const problems = $("#problems");
      if (saved.includes(false)) {
        problems.textContent = "保存できていない項目があります。赤字の理由を確認してください。";
        confirm.disabled = false;
        problems.focus();
        return;
      }
      const { res, data } = await api("POST", `/api/v1/review/documents/${docId}/confirm`, bulk ? { bulk: true } : undefined);
      if (res.ok) {
        toast("確認済にしました。");
        location.href = data.next_url || "/review";
        return;
      }
      confirm.disabled = false;
      problems.textContent = messageOf(data, "確認できませんでした。");
      if (data && data.detail && data.detail.fields) {
        // Flagged fields nobody accepted yet: mark them and go to the first one.
        const unseen = new Set(data.detail.fields.map((f) => f.id));
        for (const row of rows()) if (unseen.has(row.dataset.id)) row.classList.remove("done");
        const firstUnseen = rows().find((r) => unseen.has(r.dataset.id));
        if (firstUnseen) { focusRow(firstUnseen); return; }
      }
      const first = data && data.detail.problems ? data.detail.problems[0] : null;
      for (const problem of (data && data.detail.problems) || []) {
        const row = rows().find((r) => r.dataset.field === problem.field);
        if (row) { $(".reason", row).textContent = problem.reason; row.classList.remove("done"); }
      }
      const row = first && rows().find((r) => r.dataset.field === first.field);
      if (row) focusRow(row); else problems.focus();
    }

    // -- page image: zoom and pan ------------------------------------------------------------
    function apply() { canvas.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`; }
    function zoom(factor, cx = viewer.clientWidth / 2, cy = viewer.clientHeight / 2) {
      const scale = Math.min(8, Math.max(0.5, view.scale * factor));
      view.x = cx - (cx - view.x) * (scale / view.scale);
      view.y = cy - (cy - view.y) * (scale / view.scale);
      view.scale = scale;
      apply();
    }
    function showBox(id) {
      $$(".box.current", canvas).forEach((b) => b.classList.remove("current"));
      const box = $(`.box[data-for="${id}"]`, canvas);
      if (!box) return;
      box.classList.add("current");
      const page = box.parentElement;
      const cx = (page.offsetLeft + box.offsetLeft + box.offsetWidth / 2) * view.scale;
      const cy = (page.offsetTop + box.offsetTop + box.offsetHeight / 2) * view.scale;
      view.x = view.scale > 1 ? viewer.clientWidth / 2 - cx : 0;
      view.y = Math.min(0, viewer.clientHeight / 2 - cy);
      apply();
    }
    viewer.addEventListener("wheel", (event) => {
      event.preventDefault();
      const rect = viewer.getBoundingClientRect();
      zoom(event.deltaY < 0 ? 1.2 : 1 / 1.2, event.clientX - rect.left, event.clientY - rect.top);
    }, { passive: false });
    let drag = null;
    viewer.addEventListener("pointerdown", (event) => { drag = { x: event.clientX - view.x, y: event.clientY - view.y }; viewer.setPointerCapture(event.pointerId); });
    viewer.addEventListener("pointermove", (event) => { if (drag) { view.x = event.clientX - drag.x; view.y = event.clientY - drag.y; apply(); } });
    viewer.addEventListener("pointerup", () => { drag = null; });
    viewer.addEventListener("keydown", (event) => {
      const step = 60;
      const actions = {
        "+": () => zoom(1.25), "=": () => zoom(1.25), ";": () => zoom(1.25), "-": () => zoom(0.8),
        "0": () => { view.scale = 1; view.x = 0; view.y = 0; apply(); },
        ArrowLeft: () => { view.x += step; apply(); }, ArrowRight: () => { view.x -= step; apply(); },
        ArrowUp: () => { view.y += step; apply(); }, ArrowDown: () => { view.y -= step; apply(); },
        Escape: () => { if (lastInput) lastInput.focus(); },
      };
      if (actions[event.key]) { event.preventDefault(); actions[event.key](); }
    });

    // -- fields -------------------------------------------------------------------------------
    root.addEventListener("focusin", (event) => {
      const input = event.target.closest(".value");
      if (!input) return;
      lastInput = input;
      rows().forEach((r) => r.classList.toggle("current", r.contains(input)));
      const row = input.closest(".row");
      showBox(row.dataset.id);
      const crop = $(".crop", row);
      const zoomImg = $("#zoom-img");
      if (zoomImg && crop) {
        zoomImg.src = crop.src;
        $("#zoom-caption").textContent = `${row.dataset.label}（${row.dataset.page} ページ目）`;
      }
      if (input.type === "text") input.select();
    });
    root.addEventListener("change", (event) => {
      const row = event.target.closest(".row");
      if (row && event.target.matches(".value")) save(row, false);
    });
    let typingTimer = null;
    root.addEventListener("input", (event) => {
      const row = event.target.closest(".row");
      if (!row) return;
      clearTimeout(typingTimer);
      // Saved shortly after typing stops, so closing the tab loses nothing.
      typingTimer = setTimeout(() => save(row, false), 800);
    });
    root.addEventListener("keydown", (event) => {
      const input = event.target.closest && event.target.closest(".value");
      if (!input || event.isComposing || event.keyCode === 229) return;
      const row = input.closest(".row");
      if (event.key === "Enter" && !event.ctrlKey && !event.metaKey && !event.altKey && !event.shiftKey) {
        event.preventDefault();
        clearTimeout(typingTimer);
        accept(row);
      } else if (event.key === "Escape") {
        event.preventDefault();
        setValue(row, row.dataset.saved);
      }
    });
    document.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter") { event.preventDefault(); confirmDocument(false); }
      else if (event.altKey && event.code === "KeyA") {
        event.preventDefault();
        autoRows.open = !autoRows.open;
        const first = $(".row .value", autoRows);
        if (autoRows.open && first) first.focus();
        else if (!autoRows.open && autoRows.contains(document.activeElement)) {
          // Focus must not stay on a hidden input: go back to what still needs attention.
          const next = rows().find(needsAttention);
          if (next) focusRow(next); else if ($("#confirm")) $("#confirm").focus();
        }
      } else if (event.altKey && event.code === "KeyI") { event.preventDefault(); viewer.focus(); }
      else if (event.altKey && event.code === "KeyR") { event.preventDefault(); toggleRaw(); }
      else if (event.altKey && event.code === "KeyZ") { event.preventDefault(); $("#zoom").classList.toggle("zoomed"); }
    });
    window.addEventListener("pagehide", () => {
      // A closed tab still delivers what was typed last (keepalive outlives the page).
      if (!editable) return;
      for (const row of rows()) {
        const value = valueOf(row);
        if (value === row.dataset.saved) continue;
        fetch(`/api/v1/review/documents/${docId}/fields/${row.dataset.id}`, {
          method: "PATCH", keepalive: true, credentials: "same-origin",
          headers: { "content-type": "application/json", "x-csrf-token": csrfToken() },
          body: JSON.stringify({ value, version: Number(row.dataset.version) }),
        });
      }
    });
    function toggleRaw() {
      // The aligned page (boxes sit on the handwriting) is the default; the raw scan is one key away.
      const raw = canvas.dataset.view !== "raw";
      canvas.dataset.view = raw ? "raw" : "aligned";
      for (const img of $$("img[data-raw]", canvas)) img.src = raw ? img.dataset.raw : img.dataset.aligned;
      $("#view-mode").textContent = raw ? "表示：元のスキャン（Alt+R で位置合わせ後の画像）" : "表示：位置合わせ後の画像（Alt+R で元のスキャン）";
    }
    const confirm = $("#confirm");
    if (confirm) confirm.addEventListener("click", () => confirmDocument(false));
    const bulk = $("#bulk-confirm");
    if (bulk) bulk.addEventListener("click", () => confirmDocument(true));
    const eraseButton = $("#erase-button");
    if (eraseButton) {
      eraseButton.addEventListener("click", async () => {
        const reason = $("#erase-reason").value.trim();
        if (!reason) { toast("削除理由を入力してください。"); $("#erase-reason").focus(); return; }
        if (!window.confirm("この文書を削除します。元に戻せません。よろしいですか。")) return;
        eraseButton.disabled = true;
        const { res, data } = await api("POST", `/api/v1/documents/${docId}/erase`, { reason });
        if (res.ok) {
          toast(`削除しました（削除証明書 ${data.certificate_id}）。`);
          location.href = "/review";
          return;
        }
        eraseButton.disabled = false;
        toast(messageOf(data, "削除できませんでした。"));
      });
    }

    const start = rows().find(needsAttention) || rows()[0];
    if (start && editable) focusRow(start);
    else if (confirm) confirm.focus();
  }

  // ---- blind entry and arbitration ----------------------------------------------------------
  const blind = $("#blind-form");
  if (blind) {
    const inputs = $$(".value", blind);
    blind.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.isComposing || !event.target.matches(".value")) return;
      const index = inputs.indexOf(event.target);
      if (index < inputs.length - 1) { event.preventDefault(); inputs[index + 1].focus(); }
    });
    blind.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = Object.fromEntries(inputs.map((input) => [input.name, input.value]));
      const { res, data } = await api("POST", `/api/v1/review/documents/${blind.dataset.document}/${blind.dataset.action}`, { values });
      if (res.ok) { location.href = data.next_url || "/review"; return; }
      $("#form-error").textContent = messageOf(data, "送信できませんでした。");
    });
  }

  // ---- 様式不明: assign a form, exclude, delete ----------------------------------------------
  const resolve = $("#resolve");
  if (resolve) {
    const docId = resolve.dataset.document;
    const fail = (data, fallback) => { const box = $("#resolve-error"); box.textContent = messageOf(data, fallback); box.focus(); };
    const act = async (event, path, body, fallback) => {
      event.preventDefault();
      const { res, data } = await api("POST", `/api/v1/review/documents/${docId}/${path}`, body);
      if (res.ok) { toast(`「${data.status_label}」にしました。`); location.href = data.next_url || "/review"; }
      else fail(data, fallback);
    };
    const assign = $("#assign-form");
    if (assign) {
      assign.addEventListener("submit", (e) => act(e, "assign-form", { form_code: $("#form-code").value }, "読み直しを受け付けられませんでした。"));
      $("#exclude-form").addEventListener("submit", (e) => act(e, "exclude", { reason: $("#exclude-reason").value }, "対象外にできませんでした。"));
      $("#delete-form").addEventListener("submit", (e) => {
        if (!window.confirm("この文書のページ画像を削除します。よろしいですか。")) { e.preventDefault(); return; }
        act(e, "delete", { reason: $("#delete-reason").value }, "削除できませんでした。");
      });
      $("#form-code").focus();
    }
  }

  // ---- upload screen -----------------------------------------------------------------------
  const drop = $("#drop");
  if (drop) {
    const input = $("#upload-files");
    const list = $("#upload-list");
    const uploadOne = (file) => new Promise((resolve) => {
      const row = document.createElement("tr");
      const name = document.createElement("td"); name.textContent = file.name;
      const bar = document.createElement("progress"); bar.max = 100; bar.value = 0;
      const barCell = document.createElement("td"); barCell.append(bar);
      const result = document.createElement("td"); result.textContent = "送信中";
      row.append(name, barCell, result); list.append(row);
      const body = new FormData();
      body.append("file", file);
      const code = $("#upload-form-code").value;
      if (code) body.append("form_code", code);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/documents");
      xhr.withCredentials = true;
      for (const [name, value] of Object.entries(requestHeaders())) xhr.setRequestHeader(name, value);
      xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) bar.value = Math.round(e.loaded / e.total * 100); });
      xhr.addEventListener("load", () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (err) { data = null; }
        if (xhr.status === 201) { bar.value = 100; result.textContent = "受け付けました（読取待ち）"; }
        else { result.textContent = messageOf(data, `受け付けられませんでした（${xhr.status}）`); result.className = "refused"; }
        resolve();
      });
      xhr.addEventListener("error", () => { result.textContent = "通信できませんでした。"; result.className = "refused"; resolve(); });
      xhr.send(body);
    });
    const uploadAll = async (files) => { for (const file of files) await uploadOne(file); toast("アップロードが終わりました。"); };
    input.addEventListener("change", () => uploadAll(Array.from(input.files)));
    drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); uploadAll(Array.from(e.dataTransfer.files)); });
  }
})();
