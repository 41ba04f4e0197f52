// bashgym UI: keyboard review (j/k move, g/b label, x select), label/tier/note buttons, curation lists.
// Plain JS, no build step. Writes go through post(), which sends the X-Bashgym-Request header the server
// requires of every write (a cross-site form cannot send it).
"use strict";

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  function toast(text, bad) {
    const el = $("#toast");
    if (!el) return;
    el.textContent = text;
    el.className = "toast show" + (bad ? " bad" : "");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { el.className = "toast"; }, 2200);
  }

  async function post(url, body) {
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Bashgym-Request": "1" },
      body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || data.detail || res.statusText);
    return data;
  }

  function showState(controls, state) {
    const note = $(".note", controls);
    if (note) note.textContent = state.note ? "“" + state.note + "”" : "";
    const box = $(".state", controls);
    if (box) box.textContent = "";
    if (box && state.label) {
      const s = document.createElement("span");
      s.className = "lab lab-" + state.label;
      s.textContent = state.label;
      box.appendChild(s);
    }
    if (box && state.tier) {
      const s = document.createElement("span");
      s.className = "tier tier-" + state.tier;
      s.textContent = " " + state.tier;
      box.appendChild(s);
    }
    $$(".lbl", controls).forEach((b) => b.classList.toggle("on", b.dataset.label === state.label));
    const row = controls.closest("tr.row");
    if (row) {
      const cell = $(".labels .lab", row);
      if (cell) { cell.textContent = state.label || ""; cell.className = "lab lab-" + (state.label || "none"); }
    }
  }

  // The tier datasets use, as the server computed it (quality.effective_tier), next to the controls.
  function showEffective(controls, tier) {
    const head = controls.closest(".turn-head, .session-curate");
    const badge = head && $("[data-effective-tier]", head);
    if (!badge) return;
    badge.textContent = tier || "";
    badge.className = "tier tier-" + (tier || "none");
    badge.dataset.effectiveTier = tier || "";
    badge.parentElement.classList.toggle("hidden", !tier);
  }

  async function label(sessionId, turn, fields, controls) {
    try {
      const data = await post("/api/labels", Object.assign({ session_id: sessionId, turn_idx: turn }, fields));
      if (controls) showState(controls, data.state);
      if (controls) showEffective(controls, data.effective_tier);
      const what = turn < 0 ? "session" : "turn " + turn;
      toast(what + ": " + Object.entries(fields).map(([k, v]) => k + "=" + (v || "cleared")).join(", "));
      return data;
    } catch (err) {
      toast("not saved: " + err.message, true);
    }
  }

  function wireControls(root) {
    $$(".curate-controls", root).forEach((c) => {
      const sid = c.dataset.session, turn = parseInt(c.dataset.turn, 10);
      $$(".lbl", c).forEach((b) => b.addEventListener("click", () => {
        const next = b.classList.contains("on") ? "" : b.dataset.label;
        label(sid, turn, { label: next }, c);
      }));
      const tier = $(".tier-select", c);
      if (tier) tier.addEventListener("change", () => label(sid, turn, { tier: tier.value }, c));
      const note = $(".note-btn", c);
      if (note) note.addEventListener("click", () => openNote(c));
      const form = $(".note-form", c);
      if (form) form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const input = $("input", form);
        const saved = await label(sid, turn, { note: input.value }, c);
        if (saved) closeNote(c);
      });
    });
  }

  // The note is typed in an inline form (not window.prompt) and shown as soon as it is saved.
  function openNote(controls) {
    const form = $(".note-form", controls);
    if (!form) return;
    form.hidden = false;
    $(".note-btn", controls).setAttribute("aria-expanded", "true");
    const input = $("input", form);
    input.focus();
    input.select();
  }

  function closeNote(controls) {
    const form = $(".note-form", controls);
    if (!form) return;
    form.hidden = true;
    $(".note-btn", controls).setAttribute("aria-expanded", "false");
  }

  // ---------------------------------------------------------------------------------- cursor (j/k)

  let items = [];
  let cursor = -1;

  function move(to) {
    if (!items.length) return;
    cursor = Math.max(0, Math.min(items.length - 1, to));
    items.forEach((el, i) => el.classList.toggle("current", i === cursor));
    const el = items[cursor];
    el.scrollIntoView({ block: "nearest" });
    if (el.tagName === "SECTION") el.focus({ preventScroll: true });
  }

  function currentControls() {
    if (cursor >= 0 && items[cursor]) return $(".curate-controls", items[cursor]);
    return $(".session-head .curate-controls");
  }

  function onKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea" || ev.target.isContentEditable) {
      if (ev.key === "Escape") {
        const c = ev.target.closest(".curate-controls");
        if (c) closeNote(c);
        ev.target.blur();
      }
      return;
    }
    const page = document.body.dataset.page;
    switch (ev.key) {
      case "j": {
        const next = $('a[rel="next"]');
        if (page === "sessions" && cursor === items.length - 1 && next) { window.location.href = next.href; break; }
        move(cursor + 1);
        break;
      }
      case "k": move(cursor - 1); break;
      case "g": case "b": case "u": {
        const c = currentControls();
        if (!c) return;
        const value = ev.key === "g" ? "good" : ev.key === "b" ? "bad" : "";
        label(c.dataset.session, parseInt(c.dataset.turn, 10), { label: value }, c);
        break;
      }
      case "n": {
        const c = currentControls();
        if (c) openNote(c);
        break;
      }
      case "x":
        if (page === "sessions" && items[cursor]) { const p = $(".pick", items[cursor]); p.checked = !p.checked; }
        break;
      case "o": case "Enter":
        if (page === "sessions" && items[cursor]) window.location.href = items[cursor].dataset.href;
        break;
      case "/": {
        const q = $("#q");
        if (q) { q.focus(); q.select(); } else window.location.href = "/sessions#search";
        break;
      }
      case "1": case "2": case "3": case "4": case "0": {
        const c = currentControls();
        if (!c) return;
        const tier = ["", "gold", "silver", "bronze", "failed"][parseInt(ev.key, 10)];
        const select = $(".tier-select", c);
        if (select) select.value = tier;
        label(c.dataset.session, parseInt(c.dataset.turn, 10), { tier: tier }, c);
        break;
      }
      case "c":
        if (page === "session" && items[cursor]) toggleTurn(items[cursor]);
        break;
      case "]": case "[": {
        const to = $(ev.key === "]" ? "#older-session" : "#newer-session");
        if (to) window.location.href = to.href;
        break;
      }
      case "?": { const h = $("#help"); if (h && !h.open) h.showModal(); break; }
      default: return;
    }
    ev.preventDefault();
  }

  function toggleTurn(section, collapse) {
    const on = collapse === undefined ? !section.classList.contains("collapsed") : collapse;
    section.classList.toggle("collapsed", on);
    const b = $(".turn-toggle", section);
    if (b) { b.textContent = on ? "expand" : "collapse"; b.setAttribute("aria-expanded", on ? "false" : "true"); }
  }

  // ---------------------------------------------------------------------------------- curation lists

  async function addToList(ids) {
    const name = ($("#list-name") || {}).value || "review";
    if (!ids.length) { toast("select sessions first (x or the checkboxes)", true); return; }
    try {
      const data = await post("/api/curation", { name: name, session_ids: ids });
      toast("added " + data.changed + " to “" + data.name + "” (" + data.size + " in list)");
    } catch (err) {
      toast("not saved: " + err.message, true);
    }
  }

  function init() {
    const page = document.body.dataset.page;
    if (page === "sessions") {
      if (window.location.hash === "#search") { const q = $("#q"); if (q) q.focus(); }
      items = $$("tr.row");
      items.forEach((row, i) => row.addEventListener("click", (ev) => {
        if (ev.target.closest("a, input, button")) return;
        move(i);
      }));
      const all = $("#select-all");
      if (all) all.addEventListener("change", () => $$(".pick").forEach((p) => { p.checked = all.checked; }));
      const add = $("#add-to-list");
      if (add) add.addEventListener("click", () => addToList($$(".pick:checked").map((p) => p.value)));
      // Session-level labelling from the list: controls are virtual (no buttons on rows).
      items.forEach((row) => {
        const c = document.createElement("span");
        c.className = "curate-controls hidden";
        c.dataset.session = row.dataset.session;
        c.dataset.turn = "-1";
        row.lastElementChild.appendChild(c);  // no state box of its own: showState writes the labels cell
      });
    } else if (page === "session") {
      items = $$("main > .turns > section.turn");
      const add = $("#add-session-to-list");
      if (add) add.addEventListener("click", () => addToList([add.dataset.session]));
      items.forEach((section) => {
        const b = $(".turn-toggle", section);
        if (b) b.addEventListener("click", () => toggleTurn(section));
      });
      const all = [["#collapse-all", true], ["#expand-all", false]];
      all.forEach(([sel, on]) => { const b = $(sel); if (b) b.addEventListener("click", () => items.forEach((t) => toggleTurn(t, on))); });
      const m = /^#turn-(\d+)$/.exec(window.location.hash);
      if (m) move(items.findIndex((el) => el.dataset.turn === m[1]));
      // A search result or an evidence link lands on a step: the cursor follows to its turn.
      const target = window.location.hash.length > 1 && document.getElementById(window.location.hash.slice(1));
      if (target && !m) {
        const turn = target.closest("section.turn");
        if (turn) { move(items.indexOf(turn)); target.scrollIntoView({ block: "start" }); }
      }
    }
    $$(".build-list").forEach((b) => b.addEventListener("click", async () => {
      b.disabled = true;
      b.textContent = "building…";
      try {
        const data = await post("/api/curation/" + encodeURIComponent(b.dataset.list) + "/build", {});
        toast("built " + data.id);
        window.location.href = data.url;
      } catch (err) {
        toast("not built: " + err.message, true);
        b.disabled = false;
        b.textContent = "build a dataset from this list";
      }
    }));
    $$(".tool-toggle").forEach((b) => b.addEventListener("click", () => {
      const tool = b.closest(".tool");
      const on = tool.classList.toggle("collapsed");
      b.setAttribute("aria-expanded", on ? "false" : "true");
      b.setAttribute("aria-label", (on ? "expand" : "collapse") + " this tool call");
    }));
    wireControls(document);
    document.addEventListener("keydown", onKey);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
