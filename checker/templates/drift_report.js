
(function () {
  "use strict";
  // Every value from the report reaches the page through text(): textContent, never markup.
  // Links are built from the bases in data.links (the settings' URLs) and ids only.
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var links = data.links;
  var STATUS = data.status;
  var KINDS = data.kinds;
  var RANK = { drifted: 0, missing: 1, unknown: 2, in_sync: 3 };
  var KEYS = ["status", "instance", "csm", "field", "kind", "q", "sort", "dir"];
  var SORTS = ["name", "instance", "id", "csm", "status", "items", "fields", "links"];
  var collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });
  var tbody = document.getElementById("rows");
  var shown = document.getElementById("shown");
  var form = document.getElementById("filters");
  var controls = {};
  var state = {};

  function el(tag, cls, value) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (value !== undefined && value !== null) node.textContent = String(value);
    return node;
  }
  function httpBase(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
  }
  function link(href, label, title) {
    var a = el("a", null, label);
    a.href = href;
    a.rel = "noreferrer noopener";
    if (title) a.title = title;
    return a;
  }
  function pathHref(base, path) {
    return base + path.split("/").map(encodeURIComponent).join("/");
  }

  // ------------------------------------------------------------------ rows

  var rows = data.orgs.map(function (o, index) {
    var search = [o.n.toLowerCase(), String(o.id)].concat(o.em || []).join("\n");
    return { o: o, index: index, search: search, tr: null, detail: null };
  });

  function statusCell(s) {
    var td = el("td");
    td.appendChild(el("span", "status st-" + s, STATUS[s] || s));
    return td;
  }
  function linksCell(o) {
    var td = el("td", "links");
    var file = httpBase(links.file);
    if (o.p && file) td.appendChild(link(pathHref(file, o.p), "file", o.p));
    else if (o.pt) td.appendChild(el("span", "muted", "file: " + o.pt));
    var zd = links.zendesk && httpBase(links.zendesk[o.i]);
    if (zd) td.appendChild(link(zd + encodeURIComponent(o.id) + "/tickets", "Zendesk"));
    if (o.is) tracked(td, o.is, links.issue, "issue #");
    else if (o.s !== "in_sync" && httpBase(links.search)) {
      // not in this run's plan (its issue did not change, or the org could not be checked and
      // its issue was left alone): GitLab's search finds it by the org id
      td.appendChild(link(links.search + encodeURIComponent(o.id), "find issue", "Issues of this org (by its id)"));
    }
    tracked(td, o.mr, links.mr, "MR !");
    return td;
  }
  function tracked(td, t, base, prefix) {
    if (!t) return;
    var label = prefix + t[0] + (t[1] === "close" ? " (closed)" : "");
    var href = httpBase(base);
    if (href && t[2]) td.appendChild(link(href + encodeURIComponent(t[0]), label));
    else td.appendChild(el("span", null, label));
  }
  function makeRow(r) {
    var o = r.o;
    var tr = el("tr");
    var name = el("td", "name");
    if (hasDetail(o)) {
      var b = el("button", "toggle", "+");
      b.type = "button";
      b.setAttribute("aria-expanded", "false");
      b.setAttribute("aria-label", "Show the items of " + o.n);
      b.addEventListener("click", function () { toggle(r, b); });
      name.appendChild(b);
    }
    name.appendChild(document.createTextNode(o.n));
    tr.appendChild(name);
    tr.appendChild(el("td", null, o.i));
    tr.appendChild(el("td", "num", o.id));
    tr.appendChild(el("td", null, o.c === null ? "" : o.c));
    tr.appendChild(statusCell(o.s));
    tr.appendChild(el("td", "num", (o.it || []).length));
    tr.appendChild(el("td", "fields", o.fs.join(", ")));
    tr.appendChild(linksCell(o));
    r.tr = tr;
    return tr;
  }
  function hasDetail(o) {
    return !!(o.it || o.sup || o.info || o.err);
  }

  // ------------------------------------------------------------------ details

  function valueNode(v) {
    if (v === null || v === undefined || v === "") return el("span", "empty", "(empty)");
    return el("span", "value", v);
  }
  function itemTable(items, suppressed) {
    var table = el("table");
    var head = el("tr");
    var cols = ["Field", "Item", "Difference", "Expected (org file)", "Actual (Zendesk)", "Who is right", "Fix"];
    cols.push(suppressed ? "Suppressed" : "Drifting since");
    cols.forEach(function (c) { var th = el("th", null, c); th.scope = "col"; head.appendChild(th); });
    var thead = el("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    var body = el("tbody");
    var diffs = [];
    items.forEach(function (it) {
      var tr = el("tr");
      var f = el("td");
      f.appendChild(el("code", null, it.f));
      tr.appendChild(f);
      var item = el("td");
      item.appendChild(it.it ? el("span", "value", it.it) : el("span", "empty", "–"));
      tr.appendChild(item);
      tr.appendChild(el("td", null, KINDS[it.k] || it.k));
      if (it.d) {
        tr.appendChild(el("td", "muted", "see the diff below"));
        tr.appendChild(el("td", "muted", "see the diff below"));
        diffs.push(it);
      } else {
        var e = el("td"); e.appendChild(valueNode(it.e)); tr.appendChild(e);
        var a = el("td"); a.appendChild(valueNode(it.a)); tr.appendChild(a);
      }
      tr.appendChild(el("td", null, it.t === "zendesk" ? "Zendesk" : "the org file"));
      tr.appendChild(el("td", null, it.t === "zendesk" ? "update the file (merge request)" : "change Zendesk (support-ops request)"));
      if (suppressed) tr.appendChild(el("td", null, "until " + it.until + (it.why ? ": " + it.why : "")));
      else tr.appendChild(el("td", null, it.since || (data.history ? "" : "–")));
      body.appendChild(tr);
    });
    table.appendChild(body);
    return { table: table, diffs: diffs };
  }
  function diffList(it) {
    var wrap = el("div");
    wrap.appendChild(el("p", null, "Diff of " + it.f + ": − org file, + Zendesk"));
    var ul = el("ul", "diff");
    it.d.forEach(function (line) {
      var op = line[0];
      var cls = op === "-" ? "del" : op === "+" ? "ins" : op === "@" ? "gap" : "";
      var mark = op === "-" ? "− " : op === "+" ? "+ " : op === "@" ? "" : "  ";
      ul.appendChild(el("li", cls, mark + line[1]));
    });
    if (!it.d.length) ul.appendChild(el("li", "gap", "(the texts differ only in whitespace or line endings)"));
    wrap.appendChild(ul);
    return wrap;
  }
  function makeDetail(r) {
    var o = r.o;
    var tr = el("tr", "detail");
    tr.id = "detail-" + r.index;
    var td = el("td");
    td.colSpan = 8;
    if (o.err) td.appendChild(el("p", null, (o.s === "unknown" ? "Could not be checked: " : "") + o.err));
    if (o.since) td.appendChild(el("p", null, "Drifting since " + o.since + " (the first run of this streak in the history)."));
    if (o.it) {
      td.appendChild(el("h3", null, o.it.length + (o.it.length === 1 ? " item" : " items")));
      var made = itemTable(o.it, false);
      td.appendChild(made.table);
      made.diffs.forEach(function (it) { td.appendChild(diffList(it)); });
    }
    if (o.sup) {
      td.appendChild(el("h3", null, "Suppressed (accepted drift, not counted)"));
      var sup = itemTable(o.sup, true);
      td.appendChild(sup.table);
      sup.diffs.forEach(function (it) { td.appendChild(diffList(it)); });
    }
    if (o.info) {
      td.appendChild(el("h3", null, "Information (not drift)"));
      var ul = el("ul");
      o.info.forEach(function (i) {
        ul.appendChild(el("li", null, i[0] + ": the file says " + (i[1] === null ? "(empty)" : i[1]) + ", Zendesk says " + (i[2] === null ? "(empty)" : i[2])));
      });
      td.appendChild(ul);
    }
    tr.appendChild(td);
    r.detail = tr;
    return tr;
  }
  function toggle(r, button) {
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    button.textContent = open ? "−" : "+";
    button.setAttribute("aria-label", (open ? "Hide" : "Show") + " the items of " + r.o.n);
    if (open) {
      if (!r.detail) makeDetail(r);
      button.setAttribute("aria-controls", r.detail.id);
      r.tr.after(r.detail);
    } else if (r.detail) {
      r.detail.remove();
    }
  }

  // ------------------------------------------------------------------ filters and sorting

  function matches(r) {
    var o = r.o;
    if (state.status && o.s !== state.status) return false;
    if (state.instance && o.i !== state.instance) return false;
    if (state.csm && (o.c || "") !== state.csm) return false;
    if (state.field || state.kind) {
      var hit = o.ks.some(function (fk) {
        return (!state.field || fk[0] === state.field) && (!state.kind || fk[1] === state.kind);
      });
      if (!hit) return false;
    }
    if (state.q) {
      var words = state.q.toLowerCase().split(/\s+/).filter(Boolean);
      for (var i = 0; i < words.length; i++) if (r.search.indexOf(words[i]) < 0) return false;
    }
    return true;
  }
  function sortKey(r, key) {
    var o = r.o;
    switch (key) {
      case "name": return o.n;
      case "instance": return o.i;
      case "id": return o.id;
      case "csm": return o.c || "";
      case "status": return RANK[o.s];
      case "items": return (o.it || []).length;
      case "fields": return o.fs.join(", ");
      case "links": return o.p || o.pt || "";
    }
    return r.index;
  }
  function compare(a, b) {
    var key = state.sort || "status";
    var ka = sortKey(a, key), kb = sortKey(b, key);
    var c = typeof ka === "number" && typeof kb === "number" ? ka - kb : collator.compare(String(ka), String(kb));
    if (state.dir === "desc") c = -c;
    return c || a.index - b.index;
  }
  // Rows go in by chunks: the first screenful at once (the table is usable from then on), the
  // rest in the following tasks, so 5,000 orgs never block the page. A new filter or sort
  // abandons the chunks of the previous one; printing first puts every row in.
  var FIRST = 200, CHUNK = 500, generation = 0, pending = null;
  function appendRows(list, from, to) {
    var frag = document.createDocumentFragment();
    for (var i = from; i < to; i++) {
      var r = list[i];
      frag.appendChild(r.tr || makeRow(r));
      if (r.detail && r.tr.querySelector("button.toggle[aria-expanded=true]")) frag.appendChild(r.detail);
    }
    tbody.appendChild(frag);
  }
  function finish() {
    if (pending) pending(true);
  }
  function render() {
    var visible = rows.filter(matches);
    if (state.sort && (state.sort !== "status" || state.dir === "desc")) visible.sort(compare);
    var gen = ++generation, done = 0;
    tbody.replaceChildren();
    tbody.removeAttribute("data-complete");
    var step = function (all) {
      if (gen !== generation || done >= visible.length && done > 0) return;
      var to = all ? visible.length : Math.min(visible.length, done + (done ? CHUNK : FIRST));
      appendRows(visible, done, to);
      done = to;
      if (done < visible.length) {
        var later = function () { setTimeout(function () { step(false); }, 0); };
        // the first screenful is painted before any more rows go in
        if (to <= FIRST) requestAnimationFrame(later);
        else later();
      }
      else { pending = null; tbody.setAttribute("data-complete", "1"); }
    };
    pending = step;
    step(false);
    shown.textContent = "Showing " + visible.length + " of " + rows.length + " orgs";
    document.querySelectorAll("th[data-sort]").forEach(function (th) {
      var key = th.getAttribute("data-sort");
      if (key === (state.sort || "status")) th.setAttribute("aria-sort", state.dir === "desc" ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    });
  }
  window.addEventListener("beforeprint", finish);

  function fillSelect(select, values, labels) {
    values.forEach(function (v) {
      var opt = el("option", null, labels ? labels[v] || v : v);
      opt.value = v;
      select.appendChild(opt);
    });
  }
  function uniq(list) {
    var seen = new Set(list);
    return Array.from(seen).sort(collator.compare);
  }
  function setControl(key, value) {
    var c = controls[key];
    if (!c) return;
    if (c.tagName === "SELECT" && value && !Array.prototype.some.call(c.options, function (o) { return o.value === value; })) {
      var opt = el("option", null, value + " (not in this report)");
      opt.value = value;
      c.appendChild(opt);
    }
    c.value = value;
  }
  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    KEYS.forEach(function (k) { state[k] = params.get(k) || ""; });
    if (SORTS.indexOf(state.sort) < 0) state.sort = "";
    if (state.dir !== "desc") state.dir = "";
    KEYS.forEach(function (k) { setControl(k, state[k]); });
  }
  function writeHash() {
    var params = new URLSearchParams();
    KEYS.forEach(function (k) { if (state[k]) params.set(k, state[k]); });
    var text = params.toString();
    var url = location.href.replace(/#.*$/, "") + (text ? "#" + text : "");
    if (url !== location.href) history.replaceState(null, "", text ? url : location.pathname + location.search);
  }
  function changed() {
    writeHash();
    render();
  }

  ["status", "instance", "csm", "field", "kind", "q"].forEach(function (k) {
    controls[k] = document.getElementById("f-" + k);
  });
  fillSelect(controls.status, ["drifted", "missing", "unknown", "in_sync"], STATUS);
  fillSelect(controls.instance, uniq(rows.map(function (r) { return r.o.i; })));
  fillSelect(controls.csm, uniq(rows.map(function (r) { return r.o.c; }).filter(function (c) { return c; })));
  fillSelect(controls.field, uniq([].concat.apply([], rows.map(function (r) { return r.o.fs; }))));
  fillSelect(controls.kind, Object.keys(KINDS), KINDS);

  ["status", "instance", "csm", "field", "kind"].forEach(function (k) {
    controls[k].addEventListener("change", function () { state[k] = controls[k].value; changed(); });
  });
  var typing = null;
  controls.q.addEventListener("input", function () {
    clearTimeout(typing);
    typing = setTimeout(function () { state.q = controls.q.value.trim(); changed(); }, 120);
  });
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  form.addEventListener("reset", function (e) {
    e.preventDefault();
    KEYS.forEach(function (k) { if (k !== "sort" && k !== "dir") { state[k] = ""; setControl(k, ""); } });
    changed();
  });
  document.querySelectorAll("th[data-sort] button").forEach(function (button) {
    button.addEventListener("click", function () {
      var key = button.parentNode.getAttribute("data-sort");
      var current = state.sort || "status";
      state.dir = current === key && state.dir !== "desc" ? "desc" : "";
      state.sort = key === "status" && !state.dir ? "" : key;
      changed();
    });
  });
  document.querySelectorAll("button.pick").forEach(function (button) {
    button.addEventListener("click", function () {
      state.field = button.getAttribute("data-field") || "";
      state.instance = button.getAttribute("data-instance") || "";
      state.kind = "";
      setControl("field", state.field);
      setControl("instance", state.instance);
      setControl("kind", "");
      changed();
      document.getElementById("orgs-h").scrollIntoView();
    });
  });
  window.addEventListener("hashchange", function () { readHash(); render(); });

  readHash();
  render();
  document.documentElement.setAttribute("data-ready", "1");
  window.reportReadyAt = performance.now();
  // after the first paint of the rows, and once every row is in (for the benchmark)
  requestAnimationFrame(function () { requestAnimationFrame(function () { window.reportPaintedAt = performance.now(); }); });
  (function allIn() {
    if (tbody.hasAttribute("data-complete")) {
      requestAnimationFrame(function () { requestAnimationFrame(function () { window.reportCompleteAt = performance.now(); }); });
    } else setTimeout(allIn, 20);
  })();
})();
