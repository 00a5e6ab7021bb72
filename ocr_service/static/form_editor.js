// 様式エディタ (layout editor). Vanilla JS, no inline script: works under a strict CSP.
"use strict";
(function () {
  const root = document.getElementById("editor");
  if (!root) return;
  const PX_PER_PT = 100 / 72; // page images are rendered at 100 dpi
  const SNAP_PT = 3;
  const $ = (id) => document.getElementById(id);
  const state = { page: 1, draft: null, layout: null, proposals: [], selected: null, drawing: false, failed: new Set(), invalid: new Set(), diff: [] };

  function csrfHeaders() {
    // The token the server bound to this login session travels in a readable cookie (api/security.py).
    const match = document.cookie.match(/(?:^|;\s*)ocr_csrf=([^;]+)/);
    return match ? { "x-csrf-token": decodeURIComponent(match[1]) } : {};
  }

  async function call(method, url, body, raw) {
    const init = { method, credentials: "same-origin", headers: csrfHeaders() };
    if (body instanceof FormData) init.body = body;
    else if (raw !== undefined) { init.body = raw; init.headers["content-type"] = "text/plain; charset=utf-8"; }
    else if (body !== undefined) { init.body = JSON.stringify(body); init.headers["content-type"] = "application/json"; }
    const res = await fetch(url, init);
    const data = (res.headers.get("content-type") || "").includes("json") ? await res.json() : null;
    if (!res.ok) {
      const detail = (data && data.detail) || {};
      const err = new Error(detail.message || `エラー（${res.status}）`);
      err.errors = detail.errors || [];
      throw err;
    }
    return data;
  }

  function toast(message) {
    const el = $("toast");
    if (el) { el.textContent = message; el.classList.add("show"); setTimeout(() => el.classList.remove("show"), 4000); }
  }

  const base = () => `/api/v1/admin/form-drafts/${state.draft.id}`;
  const fields = () => state.layout.fields;

  function current() {
    if (!state.selected) return null;
    const list = state.selected.kind === "field" ? fields() : state.proposals;
    return list[state.selected.index] || null;
  }

  function render() {
    const page = $("page");
    page.querySelectorAll(".box").forEach((el) => el.remove());
    const add = (spec, kind, index, extra) => {
      if ((spec.page || 1) !== state.page) return;
      const [x0, y0, x1, y1] = spec.box;
      const el = document.createElement("div");
      el.className = `box ${kind}${extra || ""}`;
      el.dataset.kind = kind; el.dataset.index = String(index); el.dataset.name = spec.name || "";
      el.style.left = `${x0 * PX_PER_PT}px`; el.style.top = `${y0 * PX_PER_PT}px`;
      el.style.width = `${(x1 - x0) * PX_PER_PT}px`; el.style.height = `${(y1 - y0) * PX_PER_PT}px`;
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = `${spec.label || spec.name}${spec.cells ? ` ×${spec.cells}` : ""}`;
      el.appendChild(tag);
      el.title = `${spec.name}（${spec.type || "text"}）`;
      page.appendChild(el);
    };
    state.proposals.forEach((p, i) => add(p, "proposal", i, sel("proposal", i)));
    fields().forEach((f, i) => add(f, "field", i, sel("field", i) + (state.failed.has(f.name) ? " failed" : "") + (state.invalid.has(f.name) ? " invalid" : "")));
    // A moved box is drawn twice: where it was (dotted, grey) and where it is now.
    state.diff.filter((d) => d.change === "moved").forEach((d, i) => add({ name: d.field, label: `${d.label}（移動前）`, box: d.box_old, page: d.page }, "diff", i, " diff-removed"));
    state.diff.forEach((d, i) => add({ name: d.field, label: `${d.label}（${{ added: "追加", removed: "削除", moved: "移動", changed: "変更" }[d.change]}）`, box: d.box_new || d.box_old, page: d.page }, "diff", i, ` diff-${d.change}`));
    $("counts").textContent = `採用 ${fields().length} 項目・候補 ${state.proposals.length} 件`;
    fillPanel();
  }
  const sel = (kind, i) => (state.selected && state.selected.kind === kind && state.selected.index === i ? " selected" : "");

  function fillPanel() {
    const spec = current();
    $("field-form").hidden = !spec;
    if (!spec) return;
    $("f-label").value = spec.label || ""; $("f-name").value = spec.name || "";
    $("f-type").value = spec.type || "text"; $("f-cells").value = spec.cells || 0;
    $("f-multiline").checked = !!spec.multiline; $("f-required").checked = !!spec.required;
    $("f-csv").value = spec.csv_column || ""; $("f-box").value = spec.box.join(", ");
    $("f-options").value = spec.options && spec.options.length ? JSON.stringify(spec.options) : "";
    $("f-rules").value = spec.rules ? JSON.stringify(spec.rules) : "";
    document.querySelectorAll("#field-form [data-rule]").forEach((el) => {
      const value = spec.rules ? spec.rules[el.dataset.rule] : undefined;
      if (el.type === "checkbox") el.checked = !!value;
      else el.value = value === undefined || value === null ? "" : String(value);
    });
    $("accept-one").hidden = state.selected.kind !== "proposal";
    const mine = state.lastErrors ? state.lastErrors.filter((e) => e.field && e.field === spec.name) : [];
    $("field-error").textContent = mine.map((e) => e.message).join(" ");
  }

  function readPanel(event) {
    const spec = current();
    if (!spec) return;
    const key = event.target.dataset.key;
    const el = event.target;
    try {
      if (key === "cells") spec.cells = Number(el.value) || 0;
      else if (key === "multiline" || key === "required") spec[key] = el.checked;
      else if (key === "box") spec.box = el.value.split(",").map((v) => Number(v.trim()));
      else if (key === "options") { if (el.value.trim()) spec.options = JSON.parse(el.value); else delete spec.options; }
      else if (key === "rules") { if (el.value.trim()) spec.rules = JSON.parse(el.value); else delete spec.rules; }
      else if (key === "csv_column") { if (el.value) spec.csv_column = el.value; else delete spec.csv_column; }
      else spec[key] = el.value;
      $("field-error").textContent = "";
    } catch (_e) {
      $("field-error").textContent = "JSONとして読めません。";
    }
    render();
  }

  function readRule(event) {
    const spec = current();
    if (!spec) return;
    const el = event.target;
    const rules = Object.assign({}, spec.rules || {});
    const key = el.dataset.rule;
    let value;
    if (el.dataset.kind === "bool") value = el.checked || undefined;
    else if (el.dataset.kind === "int") value = el.value === "" ? undefined : Number(el.value);
    else value = el.value === "" ? undefined : el.value;
    if (value === undefined) delete rules[key]; else rules[key] = value;
    if (Object.keys(rules).length) spec.rules = rules; else delete spec.rules;
    render();
  }

  function parseJsonArea(id, fallback) {
    const text = $(id).value.trim();
    return text ? JSON.parse(text) : fallback;
  }

  function layoutForSave() {
    const layout = Object.assign({}, state.layout);
    layout.code = $("form-code").value.trim();
    layout.title = $("form-title").value.trim();
    layout.cross_field_rules = parseJsonArea("cross-rules", []);
    const ident = parseJsonArea("ident-opts", null); if (ident) layout.identification = ident; else delete layout.identification;
    const review = parseJsonArea("review-opts", null); if (review) layout.review = review; else delete layout.review;
    const exp = parseJsonArea("export-opts", null); if (exp) layout.export = exp; else delete layout.export;
    return layout;
  }

  async function save() {
    let layout;
    try { layout = layoutForSave(); } catch (_e) { toast("様式全体の設定がJSONとして読めません。"); return false; }
    try {
      const data = await call("PUT", base(), { layout, proposals: state.proposals });
      state.lastErrors = []; state.invalid = new Set(); $("errors").textContent = "";
      load(data, true);
      toast("保存しました。");
      return true;
    } catch (err) {
      state.lastErrors = err.errors; state.invalid = new Set(err.errors.map((e) => e.field).filter(Boolean));
      $("errors").textContent = err.errors.length ? err.errors.map((e) => e.message).join("\n") : err.message;
      const bad = fields().findIndex((f) => state.invalid.has(f.name));
      if (bad >= 0) state.selected = { kind: "field", index: bad };
      render();
      return false;
    }
  }

  function load(data, keepSelection) {
    state.draft = data;
    state.layout = JSON.parse(JSON.stringify(data.layout));
    state.layout.fields = state.layout.fields || [];
    state.proposals = data.proposals || [];
    if (!keepSelection) state.selected = null;
    $("form-code").value = state.layout.code || ""; $("form-title").value = state.layout.title || "";
    const rules = (state.layout.cross_field_rules && state.layout.cross_field_rules.length) ? state.layout.cross_field_rules : data.proposed_rules || [];
    $("cross-rules").value = rules.length ? JSON.stringify(rules) : "";
    $("ident-opts").value = state.layout.identification ? JSON.stringify(state.layout.identification) : "";
    $("review-opts").value = state.layout.review ? JSON.stringify(state.layout.review) : "";
    $("export-opts").value = state.layout.export ? JSON.stringify(state.layout.export) : "";
    $("export-yaml").href = `${base()}/yaml`;
    const pages = Number(data.pages || 1);
    $("page-picker").hidden = pages < 2;
    if (!$("page-no").options.length) {
      for (let n = 1; n <= pages; n += 1) { const o = document.createElement("option"); o.value = String(n); o.textContent = `${n}`; $("page-no").appendChild(o); }
    }
    $("workspace").hidden = false;
    render();
    loadVersions();
  }

  async function loadVersions() {
    const list = $("versions");
    list.textContent = "";
    let rows = [];
    try { rows = await call("GET", `/api/v1/admin/forms/${encodeURIComponent(state.layout.code)}/versions`); } catch (_e) { return; }
    rows.forEach((row, i) => {
      const li = document.createElement("li");
      li.textContent = `第${row.version}版（${row.fields}項目）`;
      if (i > 0) {
        const button = document.createElement("button");
        button.type = "button"; button.textContent = `第${rows[i - 1].version}版との差分`;
        button.className = "diff-button";
        button.addEventListener("click", () => showDiff(rows[i - 1].version, row.version));
        li.appendChild(button);
      }
      list.appendChild(li);
    });
  }

  async function showDiff(oldV, newV) {
    const data = await call("GET", `/api/v1/admin/forms/${encodeURIComponent(state.layout.code)}/diff?old=${oldV}&new=${newV}`);
    state.diff = data.changes;
    $("diff").textContent = data.changes.length ? data.changes.map((c) => `${c.label}（${c.field}）: ${{ added: "追加", removed: "削除", moved: "移動", changed: "設定変更" }[c.change]}`).join("\n") : "枠の違いはありません。";
    render();
  }

  function snap(value, lines) {
    let best = value;
    let dist = SNAP_PT;
    lines.forEach((line) => { const d = Math.abs(line - value); if (d < dist) { dist = d; best = line; } });
    return Math.round(best * 10) / 10;
  }
  function snapLines() {
    const xs = []; const ys = [];
    const moving = current();
    state.proposals.concat(fields()).forEach((s) => { if (s !== moving) { xs.push(s.box[0], s.box[2]); ys.push(s.box[1], s.box[3]); } });
    const printed = (state.draft.snap || {})[String(state.page)] || { x: [], y: [] };
    printed.x.forEach((x) => xs.push(x)); printed.y.forEach((y) => ys.push(y));
    return { xs, ys };
  }

  function pointOf(event) {
    const rect = $("page").getBoundingClientRect();
    return [(event.clientX - rect.left) / PX_PER_PT, (event.clientY - rect.top) / PX_PER_PT];
  }

  let drag = null;
  function onMouseDown(event) {
    const target = event.target.closest(".box");
    $("page").focus();
    if (state.drawing) {
      drag = { mode: "draw", start: pointOf(event) };
      event.preventDefault();
      return;
    }
    if (target && target.dataset.kind !== "diff") {
      state.selected = { kind: target.dataset.kind, index: Number(target.dataset.index) };
      const spec = current();
      const [px, py] = pointOf(event);
      // Grabbing the box near its right or bottom edge resizes it; elsewhere moves it.
      const near = 6 / PX_PER_PT;
      const resize = Math.abs(px - spec.box[2]) < near || Math.abs(py - spec.box[3]) < near;
      drag = { mode: resize ? "resize" : "move", start: [px, py], box: spec.box.slice() };
      render();
      event.preventDefault();
    }
  }
  function onMouseMove(event) {
    if (!drag || (drag.mode !== "move" && drag.mode !== "resize")) return;
    const spec = current();
    const [x, y] = pointOf(event);
    const dx = x - drag.start[0]; const dy = y - drag.start[1];
    const lines = snapLines();
    if (drag.mode === "resize") {
      const x1 = snap(drag.box[2] + dx, lines.xs); const y1 = snap(drag.box[3] + dy, lines.ys);
      if (x1 - drag.box[0] >= 2 && y1 - drag.box[1] >= 2) spec.box = [drag.box[0], drag.box[1], x1, y1];
      render();
      return;
    }
    const w = drag.box[2] - drag.box[0]; const h = drag.box[3] - drag.box[1];
    const x0 = snap(drag.box[0] + dx, lines.xs); const y0 = snap(drag.box[1] + dy, lines.ys);
    spec.box = [x0, y0, Math.round((x0 + w) * 10) / 10, Math.round((y0 + h) * 10) / 10];
    render();
  }
  function onMouseUp(event) {
    if (drag && drag.mode === "draw") {
      const end = pointOf(event);
      const lines = snapLines();
      const box = [snap(Math.min(drag.start[0], end[0]), lines.xs), snap(Math.min(drag.start[1], end[1]), lines.ys), snap(Math.max(drag.start[0], end[0]), lines.xs), snap(Math.max(drag.start[1], end[1]), lines.ys)];
      if (box[2] - box[0] > 3 && box[3] - box[1] > 3) {
        let n = fields().length + 1;
        while (fields().some((f) => f.name === `field_${n}`)) n += 1;
        fields().push({ name: `field_${n}`, label: "新しい項目", box, type: "text", page: state.page });
        state.selected = { kind: "field", index: fields().length - 1 };
      }
      state.drawing = false; $("draw").classList.remove("on");
      render();
    }
    drag = null;
  }

  function onKey(event) {
    const spec = current();
    const dirs = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (event.key === "Delete" && spec) { removeSelected(); event.preventDefault(); return; }
    if (event.key === "Enter" && spec && state.selected.kind === "proposal") { acceptSelected(); event.preventDefault(); return; }
    if ((event.key === "s" || event.key === "S") && spec) {
      // Snap every edge of the selected box to the nearest printed rule (within 3 pt).
      const lines = snapLines();
      const own = spec.box;
      const others = { xs: lines.xs.filter((v) => v !== own[0] && v !== own[2]), ys: lines.ys.filter((v) => v !== own[1] && v !== own[3]) };
      spec.box = [snap(own[0], others.xs), snap(own[1], others.ys), snap(own[2], others.xs), snap(own[3], others.ys)];
      event.preventDefault(); render(); return;
    }
    if (!spec || !dirs[event.key]) return;
    const step = event.altKey ? 0.1 : 1;
    const [dx, dy] = dirs[event.key].map((v) => v * step);
    const b = spec.box.slice();
    if (event.shiftKey) { b[2] += dx; b[3] += dy; } else { b[0] += dx; b[2] += dx; b[1] += dy; b[3] += dy; }
    if (b[2] - b[0] >= 2 && b[3] - b[1] >= 2 && b[0] >= 0 && b[1] >= 0) spec.box = b.map((v) => Math.round(v * 10) / 10);
    event.preventDefault();
    render();
  }

  function acceptSelected() {
    if (!state.selected || state.selected.kind !== "proposal") return;
    const [spec] = state.proposals.splice(state.selected.index, 1);
    fields().push(spec);
    state.selected = { kind: "field", index: fields().length - 1 };
    render();
  }
  function removeSelected() {
    if (!state.selected) return;
    (state.selected.kind === "field" ? fields() : state.proposals).splice(state.selected.index, 1);
    state.selected = null;
    render();
  }

  async function init() {
    $("upload-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = $("template-file").files[0];
      if (!file) { toast("PDFファイルを選んでください。"); return; }
      const body = new FormData(); body.append("file", file);
      $("upload").disabled = true; toast("候補を作っています…");
      try { const data = await call("POST", "/api/v1/admin/form-drafts", body); window.location.assign(`/admin/forms/drafts/${data.id}`); }
      catch (err) { toast(err.message); $("upload").disabled = false; }
    });
    $("open-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = new FormData(); body.append("code", $("open-code").value);
      try { const data = await call("POST", "/api/v1/admin/form-drafts/from-form", body); window.location.assign(`/admin/forms/drafts/${data.id}`); }
      catch (err) { toast(err.message); }
    });
    try {
      const drafts = await call("GET", "/api/v1/admin/form-drafts");
      drafts.forEach((d) => {
        const li = document.createElement("li");
        const a = document.createElement("a");
        a.href = `/admin/forms/drafts/${d.id}`;
        a.textContent = `${d.title}（${d.code}、${d.fields}項目・候補${d.proposals}件）`;
        li.appendChild(a); $("drafts").appendChild(li);
      });
    } catch (_e) { /* list is optional */ }
    try {
      const forms = await call("GET", "/api/v1/admin/forms");
      forms.forEach((f) => { const o = document.createElement("option"); o.value = f.code; o.textContent = `${f.title}（${f.code} 第${f.version}版）`; $("open-code").appendChild(o); });
    } catch (_e) { /* list is optional */ }
    const page = $("page");
    page.addEventListener("mousedown", onMouseDown);
    window.addEventListener("mousemove", onMouseMove);
    window.addEventListener("mouseup", onMouseUp);
    page.addEventListener("keydown", onKey);
    document.querySelectorAll("#field-form [data-key]").forEach((el) => el.addEventListener("change", readPanel));
    document.querySelectorAll("#field-form [data-rule]").forEach((el) => el.addEventListener("change", readRule));
    $("page-no").addEventListener("change", () => {
      state.page = Number($("page-no").value);
      state.selected = null;
      $("page-img").src = `${base()}/pages/${state.page}.png`;
      render();
    });
    $("accept-one").addEventListener("click", acceptSelected);
    $("reject-one").addEventListener("click", removeSelected);
    $("accept-all").addEventListener("click", () => { state.layout.fields = fields().concat(state.proposals); state.proposals = []; state.selected = null; render(); });
    $("reject-all").addEventListener("click", () => { state.proposals = []; state.selected = null; render(); });
    $("draw").addEventListener("click", () => { state.drawing = true; $("draw").classList.add("on"); toast("ページ上をドラッグして枠を描いてください。"); });
    $("save").addEventListener("click", save);
    $("check").addEventListener("click", async () => {
      if (!(await save())) return;
      const img = $("check-img"); img.src = `${base()}/check.png?t=${Date.now()}`; img.hidden = false;
    });
    $("trial").addEventListener("click", async () => {
      if (!(await save())) return;
      $("trial").disabled = true; $("trial-result").textContent = "試し読み中…（しばらくかかります）";
      try {
        const r = await call("POST", `${base()}/trial?n=2`);
        state.failed = new Set(r.failed_fields);
        const table = document.createElement("table"); table.id = "trial-table";
        table.innerHTML = "<tr><th>項目</th><th>正解率</th></tr>";
        r.fields.forEach((row) => {
          const tr = document.createElement("tr");
          if (state.failed.has(row.field)) tr.className = "failed";
          [row.field, `${Math.round(row.field_acc * 100)}%`].forEach((t) => { const td = document.createElement("td"); td.textContent = t; tr.appendChild(td); });
          table.appendChild(tr);
        });
        $("trial-result").textContent = `試し読み：${r.n_sheets}枚、全項目の正解率 ${Math.round(r.field_acc * 1000) / 10}%（誤りのあった項目 ${r.failed_fields.length}）`;
        $("trial-result").appendChild(table);
        render();
      } catch (err) { $("trial-result").textContent = err.message; }
      $("trial").disabled = false;
    });
    $("publish").addEventListener("click", async () => {
      if (!(await save())) return;
      try {
        const r = await call("POST", `${base()}/publish`);
        toast(r.created ? `第${r.version}版を公開しました。` : `変更がないため公開しませんでした（第${r.version}版のまま）。`);
        $("errors").textContent = r.created ? `公開済み：第${r.version}版` : `変更なし：第${r.version}版`;
        loadVersions();
      } catch (err) { toast(err.message); }
    });
    $("import-yaml").addEventListener("change", async () => {
      const file = $("import-yaml").files[0];
      if (!file) return;
      try { load(await call("POST", `${base()}/yaml`, undefined, await file.text())); toast("YAMLを取り込みました。"); }
      catch (err) { $("errors").textContent = err.message; }
    });
    const draftId = root.dataset.draft;
    if (draftId) {
      const data = await call("GET", `/api/v1/admin/form-drafts/${draftId}`);
      $("page-img").src = `/api/v1/admin/form-drafts/${draftId}/pages/1.png`;
      load(data);
    }
  }
  init();
})();
