// The page's layouts (columns, groups, panes), its filters and the cell
// opened are drawn here from two embedded documents: the result as
// everywhere saved it, and what Go decided about it (clean text, which
// hosts differ, the groups, the reasons). Only what is on screen is built,
// so 2,000 hosts × 12 steps cost what a screenful does. Remote text is
// only ever set as textContent, never parsed as markup.
"use strict";
(() => {
  const $ = (sel) => document.querySelector(sel);
  const res = JSON.parse($("#everywhere-result").textContent);
  const view = JSON.parse($("#everywhere-view").textContent);
  for (const k of ["steps", "hosts", "cells", "times", "groups", "reasons"]) view[k] = view[k] || []; // Go's nil slices
  view.extra = view.extra || {};
  const steps = view.steps, hosts = view.hosts, nh = hosts.length, ns = steps.length;
  const NAME = { o: "ok", k: "flaky", f: "failed", t: "timeout", e: "error", s: "skipped", "-": "none" }; // html.go's statusLetter
  const BAD = new Set(["failed", "timeout", "error"]);
  const ICON = { ...view.icons, none: "–" };
  const count = (n, noun) => n + " " + noun + (n === 1 ? "" : "s");

  // Per cell (h * ns + s): status, whether the host differs, duration.
  const status = new Array(nh * ns), odd = new Uint8Array(nh * ns), times = new Array(nh * ns);
  const slowest = new Array(ns).fill(0);
  for (let h = 0; h < nh; h++) {
    const letters = view.cells[h], t = view.times[h].split(" ");
    for (let s = 0; s < ns; s++) {
      const ch = letters[s], lower = ch.toLowerCase();
      status[h * ns + s] = NAME[lower] || "error";
      odd[h * ns + s] = ch !== lower ? 1 : 0;
      times[h * ns + s] = t[s];
      const st = raw(h, s);
      if (st && st.duration_ms > slowest[s]) slowest[s] = st.duration_ms;
    }
  }
  function raw(h, s) {
    const st = steps[s], list = st.k ? res.hosts[h].cleanup : res.hosts[h].steps;
    return list ? list[st.i] : undefined;
  }
  const extra = (h, s) => view.extra[h + "." + s];

  // streams is a cell's output in the order shown (stderr first for a
  // failure), each {n, h, c, t}: from the result, or as Go cleaned or cut it.
  function streams(h, s) {
    const st = raw(h, s);
    if (!st) return [];
    const fixed = {}, x = extra(h, s);
    for (const f of (x && x.f) || []) fixed[f.n] = f;
    const order = BAD.has(status[h * ns + s]) ? ["stderr", "stdout"] : ["stdout", "stderr"];
    const out = [];
    for (const n of order) {
      const f = fixed[n] || { n, h: st[n] || "" };
      if (f.h || f.t || f.c) out.push(f);
    }
    return out;
  }

  // firstLines is up to k lines of s, without splitting all of it.
  function firstLines(s, k, into) {
    let from = 0;
    while (into.length < k && from < s.length) {
      let end = s.indexOf("\n", from);
      if (end < 0) end = s.length;
      into.push(s.slice(from, Math.min(end, from + 400)));
      from = end + 1;
    }
  }

  // preview is what a cell shows without a click: its reason, then the
  // first lines of its outputs.
  function preview(body, k) {
    const lines = [];
    if (body.r) lines.push({ t: "→ " + body.r.split("\n")[0], cls: "reason" });
    for (const f of body.f || []) {
      const got = [];
      firstLines(f.h || f.c || f.t || "", k - lines.length, got);
      for (const t of got) lines.push({ t });
      if (lines.length >= k) break;
    }
    return lines;
  }
  function cellBody(h, s) {
    const x = extra(h, s) || {}, st = status[h * ns + s];
    return { r: st === "skipped" ? "" : x.r, f: streams(h, s) };
  }

  // The state, all of it in the URL's fragment.
  const KEYS = ["layout", "q", "host", "arch", "label", "step", "status", "reason", "lines", "cell"];
  let state = {};
  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    state = {};
    for (const k of KEYS) state[k] = p.get(k) || "";
    if (!["columns", "groups", "panes"].includes(state.layout)) state.layout = "";
  }
  function writeHash() {
    const p = new URLSearchParams();
    for (const k of KEYS) if (state[k]) p.set(k, state[k]);
    const hash = p.toString();
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  }
  const layout = () => state.layout || view.layout;
  const lines = () => Math.max(1, Math.min(20, parseInt(state.lines, 10) || 3));

  // Filters: which hosts, and which of their cells, pass.
  const hostIndex = new Map(hosts.map((x, i) => [x.n, i]));
  const stepIndex = new Map(steps.map((x, i) => [x.l, i]));
  // found says whether a cell's reason, output or command has text in it
  // (re: the text searched for, any case): read where it is kept, not
  // copied, so a search costs no memory.
  function found(i, re) {
    const h = Math.floor(i / ns), s = i % ns, st = raw(h, s);
    if (!st) return false;
    const x = extra(h, s);
    return re.test(st.stdout || "") || re.test(st.stderr || "") || re.test((x && x.r) || "") || re.test(st.command || "");
  }
  let rows = [], cols = [], hit = null, reasonCells = null, shownCells = 0;
  function filter() {
    // host: words, any of which a name contains; * in a word matches the whole name as a glob.
    const terms = state.host.toLowerCase().split(/[\s,]+/).filter(Boolean).map((t) => {
      if (!t.includes("*")) return (n) => n.includes(t);
      const re = new RegExp("^" + t.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*") + "$");
      return (n) => re.test(n);
    });
    const step = stepIndex.has(state.step) ? stepIndex.get(state.step) : -1;
    cols = step >= 0 ? [step] : steps.map((_, i) => i);
    const q = state.q && new RegExp(state.q.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "i");
    const reason = view.reasons[parseInt(state.reason, 10)];
    reasonCells = null;
    if (reason && state.reason !== "") {
      reasonCells = new Set();
      reasonCells.connect = new Set(); // hosts not reached for this reason
      for (let i = 0; i < reason.c.length; i += 2) {
        if (reason.c[i + 1] < 0) reasonCells.connect.add(reason.c[i]);
        else reasonCells.add(reason.c[i] * ns + reason.c[i + 1]);
      }
    }
    const byCell = state.status || q || reasonCells;
    hit = byCell ? new Uint8Array(nh * ns) : null;
    rows = [];
    shownCells = 0;
    for (let h = 0; h < nh; h++) {
      const x = hosts[h];
      if (terms.length && !terms.some((match) => match(x.n.toLowerCase()))) continue;
      if (state.arch && x.a !== state.arch && x.r !== state.arch) continue;
      if (state.label && !(x.l || []).includes(state.label)) continue;
      if (!byCell) { rows.push(h); continue; }
      let any = step < 0 && x.x && connectPasses(h, q, x);
      for (const s of cols) {
        const i = h * ns + s;
        if (!cellPasses(i, q, x)) continue;
        hit[i] = 1;
        shownCells++;
        any = true;
      }
      if (any) rows.push(h);
    }
  }
  // connectPasses says whether a host's failure to connect passes the
  // filters, as a cell of its own would.
  function connectPasses(h, q, x) {
    if (reasonCells && !reasonCells.connect.has(h)) return false;
    if (!["", "bad", "error", "odd"].includes(state.status)) return false;
    return !q || q.test(x.x) || q.test(x.n);
  }
  function cellPasses(i, q, x) {
    const st = status[i];
    if (reasonCells && !reasonCells.has(i)) return false;
    switch (state.status) {
      case "": break;
      case "bad": if (!BAD.has(st)) return false; break;
      case "odd": if (!odd[i]) return false; break;
      default: if (st !== state.status) return false;
    }
    return !q || q.test(x.n) || found(i, q);
  }

  // Drawing.
  const main = $("#layout");
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const HOSTW = 190, COLW = 230;
  const LH = parseFloat(getComputedStyle(document.documentElement).getPropertyValue("--lh")) || 18;
  const lineH = () => LH;
  let drawn = null; // what scrolling redraws: {body, rowH, count, draw(i), at: Map}

  // cell is one host × step: its status, duration and first lines;
  // named: the step's name too (a pane has no column header).
  function cell(h, s, named) {
    const i = h * ns + s, st = status[i];
    const c = el("div", "c s-" + st + (odd[i] ? " differs" : "") + (hit && hit[i] && (state.q || state.reason) ? " hit" : ""));
    c.dataset.h = h;
    c.dataset.s = s;
    c.tabIndex = 0; // Enter opens it, as a click does
    const top = c.appendChild(el("div", "top"));
    if (odd[i]) top.appendChild(el("span", "odd-mark", "≠ "));
    top.appendChild(document.createTextNode(ICON[st] + " " + (named ? steps[s].l + " · " : "") + (st === "skipped" || st === "none" ? st : st + " " + times[i])));
    for (const l of preview(cellBody(h, s), lines())) c.appendChild(el("div", "l" + (l.cls ? " " + l.cls : ""), l.t || " "));
    const r = raw(h, s);
    if (r && st !== "skipped" && slowest[s] > 0) {
      c.appendChild(el("i", "bar")).style.width = (Math.sqrt(r.duration_ms / slowest[s]) * 100).toFixed(1) + "%";
    }
    if (state.cell && state.cell === hosts[h].n + "/" + steps[s].l) c.classList.add("target");
    return c;
  }
  function hostCell(h) {
    const x = hosts[h], c = el("div", "hostcell" + (x.x ? " s-error" : ""));
    c.style.width = HOSTW + "px";
    c.dataset.h = h;
    c.appendChild(el("b", "", x.n));
    const arch = c.appendChild(el("small", "", x.a));
    if (x.r) arch.appendChild(el("span", x.m ? "bad" : "", " reports " + x.r));
    if (x.e) arch.appendChild(document.createTextNode(" emulated"));
    c.appendChild(el("small", x.x ? "bad" : "", x.x ? "! unreachable: " + x.x.split("\n")[0] : (x.c ? "connect " + x.c : "") + (x.d ? " · " + x.d : "")));
    if (x.l) c.appendChild(el("small", "", x.l.join(", ")));
    return c;
  }

  function drawColumns() {
    const grid = el("div", "grid"), head = grid.appendChild(el("div", "ghead"));
    grid.style.width = HOSTW + cols.length * COLW + "px";
    head.appendChild(el("div", "hostcell", "host")).style.width = HOSTW + "px";
    for (const s of cols) {
      const d = head.appendChild(el("div", "", steps[s].l));
      d.style.width = COLW + "px";
      d.title = steps[s].c || steps[s].l;
      if (steps[s].c && steps[s].c !== steps[s].l) d.appendChild(el("code", "", steps[s].c));
    }
    const body = grid.appendChild(el("div", "gbody"));
    const rowH = (1 + lines()) * lineH() + 5;
    main.replaceChildren(grid);
    virtual(body, rowH, rows.length, (i) => {
      const h = rows[i], r = el("div", "row");
      r.style.height = rowH + "px";
      r.style.width = grid.style.width;
      r.appendChild(hostCell(h)).style.height = rowH - 1 + "px";
      for (const s of cols) {
        const c = r.appendChild(cell(h, s));
        c.style.width = COLW + "px";
      }
      return r;
    });
  }

  function drawPanes() {
    const wrap = el("div", "panes"), paneW = 420, gap = 10;
    main.replaceChildren(wrap);
    const perRow = Math.max(1, Math.floor((main.clientWidth - 32 + gap) / (paneW + gap)));
    const lh = lineH(), k = Math.min(lines(), 8);
    const cellH = (1 + k) * lh + 5, paneH = Math.ceil(lh + 4 + cols.length * cellH);
    virtual(wrap, paneH + gap, Math.ceil(rows.length / perRow), (i) => {
      const line = el("div", "row");
      line.style.height = paneH + "px";
      for (let j = 0; j < perRow && i * perRow + j < rows.length; j++) {
        const h = rows[i * perRow + j], x = hosts[h];
        const pane = line.appendChild(el("div", "pane s-" + (NAME[x.s] || "error")));
        pane.style.cssText = `left:${j * (paneW + gap)}px;width:${paneW}px;height:${paneH}px`;
        const title = pane.appendChild(el("div", "title", x.n + " · " + x.a + (x.r ? " reports " + x.r : "") + " · " + (x.x ? "unreachable" : NAME[x.s] || x.s)));
        title.dataset.h = h;
        if (x.x) title.classList.add("hostcell");
        for (const s of cols) pane.appendChild(cell(h, s, true)).style.height = cellH + "px";
      }
      return line;
    });
  }

  // virtual lays count rows of height rowH into body and keeps only those
  // near the screen built, as the window scrolls.
  function virtual(body, rowH, count, make) {
    body.style.height = count * rowH + "px";
    drawn = { body, rowH, count, make, at: new Map() };
    scrolled();
  }
  function scrolled() {
    if (!drawn) return;
    const top = drawn.body.getBoundingClientRect().top;
    const first = Math.max(0, Math.floor(-top / drawn.rowH) - 4);
    const last = Math.min(drawn.count, Math.ceil((innerHeight - top) / drawn.rowH) + 4);
    for (const [i, r] of drawn.at) if (i < first || i >= last) { r.remove(); drawn.at.delete(i); }
    for (let i = first; i < last; i++) {
      if (drawn.at.has(i)) continue;
      const r = drawn.make(i);
      r.style.top = i * drawn.rowH + "px";
      drawn.body.appendChild(r);
      drawn.at.set(i, r);
    }
  }
  let pending = false;
  addEventListener("scroll", () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; scrolled(); });
  }, { passive: true });
  addEventListener("resize", () => { if (layout() === "panes") draw(); else scrolled(); });

  // Groups: each step's outcomes, the largest first, as the terminal draws
  // them; a group shows while one of its hosts' cells passes the filters.
  const GROUPS_AT_ONCE = 30;
  function drawGroups() {
    drawn = null;
    const inRows = new Set(rows), frag = document.createDocumentFragment();
    const section = (title, command, groups, s) => {
      const shown = [];
      for (const g of groups) {
        if (s < 0 && state.status && (g.s === "o" || !["bad", "error", "odd"].includes(state.status))) continue;
        const n = g.i.filter((h) => inRows.has(h) && (s < 0 || !hit || hit[h * ns + s])).length;
        if (n > 0) shown.push([g, n]);
      }
      if (!shown.length) return;
      const div = frag.appendChild(el("div", "step"));
      div.appendChild(el("h2", "", title));
      if (command && command !== title) div.appendChild(el("code", "", "$ " + command));
      const add = (from) => {
        for (const [g, n] of shown.slice(from, from + GROUPS_AT_ONCE)) div.appendChild(group(g, n, s));
        if (from + GROUPS_AT_ONCE < shown.length) {
          const more = div.appendChild(el("button", "more", count(shown.length - from - GROUPS_AT_ONCE, "more group")));
          more.type = "button";
          more.addEventListener("click", () => { more.remove(); add(from + GROUPS_AT_ONCE); });
        }
      };
      add(0);
    };
    if (view.connect && cols.length === ns) section("connect", "", view.connect, -1);
    for (const s of cols) section(steps[s].l, steps[s].c, view.groups[s] || [], s);
    main.replaceChildren(frag);
  }
  function group(g, n, s) {
    const st = NAME[g.s] || "error", d = el("div", "group s-" + st);
    const head = d.appendChild(el("div", "head"));
    if (g.o) head.appendChild(el("span", "odd", "≠ "));
    head.appendChild(document.createTextNode((ICON[st] ? ICON[st] + " " : "") + g.h + " · "));
    head.appendChild(el("span", "hosts", g.l + (n < g.i.length ? ` — ${n} shown` : "")));
    const b = g.b || {};
    for (const l of preview(b, lines())) d.appendChild(el("div", "l" + (l.cls ? " " + l.cls : ""), l.t || " "));
    d.addEventListener("click", () => {
      if (d.querySelector(".body")) { d.querySelector(".body").remove(); return; }
      d.appendChild(bodyEl(b, null)); // a group's body has its exit status
    });
    return d;
  }

  // bodyEl is all that was kept of a cell or group: reason, expectations,
  // each stream's head, cut and tail, how it exited.
  function bodyEl(b, st) {
    const d = el("div", "body");
    if (b.r) d.appendChild(el("p", "reason", "→ " + b.r));
    for (const e of b.e || []) d.appendChild(el("p", e.ok ? "met" : "unmet", (e.ok ? "✔ " : "✘ ") + e.n + (e.d ? ": " + e.d : "")));
    for (const f of b.f || []) {
      const pre = d.appendChild(el("pre", f.n));
      pre.appendChild(document.createTextNode(f.h || ""));
      if (f.c) pre.appendChild(el("span", "cut", (!f.h || f.h.endsWith("\n") ? "" : "\n") + f.c + "\n"));
      if (f.t) pre.appendChild(document.createTextNode(f.t));
    }
    const exit = b.x || (st && st.exit_code !== undefined && st.exit_code !== null ? "exit " + Number(st.exit_code) : "");
    if (exit) d.appendChild(el("p", "exit", exit));
    return d;
  }

  // The cell opened, named in the URL as cell=HOST/STEP (or HOST/connect).
  const detail = $("#detail");
  function findCell(v) {
    for (let p = v.indexOf("/"); p >= 0; p = v.indexOf("/", p + 1)) {
      const h = hostIndex.get(v.slice(0, p)), rest = v.slice(p + 1);
      if (h === undefined) continue;
      if (rest === "connect") return [h, -1];
      if (stepIndex.has(rest)) return [h, stepIndex.get(rest)];
    }
    return null;
  }
  function drawDetail() {
    const at = state.cell && findCell(state.cell);
    if (!at) { detail.hidden = true; detail.replaceChildren(); return; }
    const [h, s] = at, x = hosts[h];
    const close = el("button", "close", "✕");
    close.type = "button";
    close.title = "close (Esc)";
    close.addEventListener("click", () => setState({ cell: "" }));
    const link = el("a", "", "link to this cell");
    link.href = location.hash || "#";
    const parts = [close, el("h2", "", x.n + " · " + (s < 0 ? "connect" : steps[s].l)), link];
    if (s < 0) {
      parts.push(el("p", "status s-error", x.x ? "! unreachable" : "reached in " + x.c));
      if (x.x) parts.push(bodyEl({ r: x.x }, null));
    } else {
      const i = h * ns + s, st = status[i], r = raw(h, s), ex = extra(h, s) || {};
      parts.push(el("p", "status s-" + st, ICON[st] + " " + st + (r ? " · " + times[i] : "") + (odd[i] ? " · ≠ differs from the step's largest group" : "")));
      if (steps[s].c) parts.push(el("p", "", "$ " + steps[s].c));
      parts.push(bodyEl({ r: ex.r, e: ex.e, x: ex.x, f: streams(h, s) }, r));
    }
    detail.replaceChildren(...parts);
    detail.hidden = false;
  }

  // The controls.
  const form = $(".filters"), shown = $(".shown");
  function fillSelect(name, values) {
    const sel = form.querySelector(`[name=${name}]`);
    for (const v of values) sel.appendChild(el("option", "", v)).value = v;
  }
  fillSelect("arch", [...new Set(hosts.flatMap((x) => (x.r ? [x.a, x.r] : [x.a])))].sort());
  fillSelect("label", [...new Set(hosts.flatMap((x) => x.l || []))].sort());
  fillSelect("step", steps.map((x) => x.l));
  form.hidden = false;
  const why = form.querySelector(".layouts");
  why.title = view.why;

  function syncControls() {
    for (const input of form.querySelectorAll("input, select")) {
      const v = input.name === "lines" ? String(lines()) : state[input.name];
      if (input.value !== v) input.value = v;
      input.classList.toggle("active", input.name !== "lines" && v !== "");
    }
    for (const b of form.querySelectorAll("[data-layout]")) b.setAttribute("aria-pressed", String(b.dataset.layout === layout()));
    for (const tr of document.querySelectorAll(".reasons tbody tr")) {
      tr.classList.toggle("on", tr.querySelector("a").getAttribute("href") === "#reason=" + state.reason);
    }
    const reason = state.reason !== "" && view.reasons[parseInt(state.reason, 10)];
    shown.textContent = `${rows.length} of ${count(nh, "host")}` + (hit ? ` · ${count(shownCells, "cell")}` : "") +
      (reason ? ` · reason: ${reason.r}` : "") + (state.layout ? "" : ` · ${view.why}`);
  }
  function draw() {
    filter();
    const l = layout();
    if (l === "groups") drawGroups();
    else if (l === "panes") drawPanes();
    else drawColumns();
    syncControls();
    drawDetail();
  }
  function setState(change) {
    Object.assign(state, change);
    writeHash();
    if (Object.keys(change).every((k) => k === "cell")) {
      for (const c of main.querySelectorAll(".target")) c.classList.remove("target");
      drawDetail();
      return;
    }
    draw();
  }
  form.addEventListener("input", (e) => {
    if (e.target.name) setState({ [e.target.name]: e.target.name === "lines" && e.target.value === "3" ? "" : e.target.value });
  });
  form.addEventListener("click", (e) => {
    const b = e.target.closest("button");
    if (!b) return;
    if (b.dataset.layout) setState({ layout: b.dataset.layout });
    if (b.hasAttribute("data-clear")) setState({ q: "", host: "", arch: "", label: "", step: "", status: "", reason: "" });
  });
  document.addEventListener("click", (e) => {
    const a = e.target.closest(".reasons a");
    if (a) {
      e.preventDefault();
      const r = a.getAttribute("href").slice("#reason=".length);
      setState({ reason: state.reason === r ? "" : r });
      return;
    }
    const c = e.target.closest("main .c, main .hostcell[data-h]");
    if (!c || c.closest(".ghead")) return;
    const h = +c.dataset.h, s = c.dataset.s === undefined ? -1 : +c.dataset.s;
    if (s < 0 && !hosts[h].x) return;
    setState({ cell: hosts[h].n + "/" + (s < 0 ? "connect" : steps[s].l) });
    c.classList.add("target");
  });
  addEventListener("keydown", (e) => {
    if (e.key === "Escape" && state.cell) setState({ cell: "" });
    if (e.key === "Enter" && e.target.matches("main .c")) e.target.click();
  });
  addEventListener("hashchange", () => { readHash(); draw(); reveal(); });

  // reveal scrolls the cell the URL names into view, once.
  function reveal() {
    const at = state.cell && findCell(state.cell);
    if (!at || layout() !== "columns" || !drawn) return;
    const i = rows.indexOf(at[0]);
    if (i >= 0) scrollTo({ top: drawn.body.getBoundingClientRect().top + scrollY + i * drawn.rowH - 80 });
  }
  readHash();
  draw();
  reveal();
})();
