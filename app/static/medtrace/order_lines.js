/* MedTrace order lines: the lines of a document that takes stock out of a
 * warehouse (a transfer request, a shipment), added by scanning a UDI barcode
 * (POST /api/v1/udi/parse) or by searching a product
 * (GET /api/v1/stock/available?warehouse=...&q=...), each showing what is
 * available at the warehouse, its earliest expiry and its lots; optionally
 * naming a lot. Plain JavaScript; needs common.js. Exposed as
 * MedTrace.orderLines(options) for transfer_entry.js and shipment.js.
 *
 * The page provides: #mt-scan, #mt-search, #mt-results (+ #mt-results-body),
 * #mt-lines-body, #mt-lines-empty, #mt-summary, #mt-message and texts (mt-text):
 * add, remove, any_lot, lot_option, lot_option_no_expiry, lot_not_here, serial,
 * short, nothing_found, scan_refused, unknown_di, duplicate_serial, need_source,
 * unreachable. */
(function () {
  "use strict";

  var M = window.MedTrace;
  var el = M.el;
  function $(id) { return document.getElementById(id); }
  function text(key, values) { return M.text(key, values); }

  function fmtQty(value) {
    var n = parseFloat(value);
    return isNaN(n) ? "0" : String(Math.round(n * 10000) / 10000);
  }

  function refusal(result) {
    if (result.status === 0) { return text("unreachable"); }
    return (result.data && (result.data.message || result.data.msg)) || ("HTTP " + result.status);
  }

  /* ``message`` in the error box; a refusal listing several problems shows them as a list. */
  function showError(message) {
    var box = $("mt-message");
    var split = M.splitProblems(message), problems = split[1];
    box.className = "alert alert-danger";
    box.textContent = split[0];
    if (problems.length) {
      var list = el("ul");
      problems.forEach(function (p) { list.appendChild(el("li", {text: p})); });
      box.appendChild(list);
    }
    box.hidden = false;
    box.scrollIntoView({block: "nearest"});
    M.beep();
  }

  function hideMessage() { var box = $("mt-message"); box.hidden = true; box.textContent = ""; }

  /* options.source: the <select> of the warehouse the goods leave from;
   * options.onChange: called whenever the lines change. */
  function orderLines(options) {
    var source = options.source, onChange = options.onChange || function () {};
    var scan = $("mt-scan"), search = $("mt-search"), results = $("mt-results"),
        resultsBody = $("mt-results-body"), body = $("mt-lines-body"), empty = $("mt-lines-empty"),
        summary = $("mt-summary");
    var lines = [];  // {id, product, lot, serial, row, qty, lotSelect, availableCell, expiryCell}

    function availableUrl(params) {
      return "/api/v1/stock/available?warehouse=" + encodeURIComponent(source.value) + params;
    }

    function lotLabel(lot) {
      return lot.expiry_date ? text("lot_option", {lot: lot.lot, expiry: lot.expiry_date, qty: lot.available})
                             : text("lot_option_no_expiry", {lot: lot.lot, qty: lot.available});
    }

    function fillLots(line) {
      var select = line.lotSelect, keep = line.lot;
      while (select.options.length) { select.remove(0); }
      if (line.serial) {
        select.appendChild(el("option", {value: "", text: text("serial", {serial: line.serial})}));
        select.disabled = true;
        return;
      }
      var tracked = line.product.tracking === "lot" || line.product.tracking === "lot_serial";
      select.appendChild(el("option", {value: "", text: text("any_lot")}));
      var lots = line.product.lots || [];
      lots.forEach(function (lot) { select.appendChild(el("option", {value: lot.lot, text: lotLabel(lot)})); });
      if (keep && !lots.some(function (l) { return l.lot === keep; })) {
        select.appendChild(el("option", {value: keep, text: text("lot_not_here", {lot: keep})}));
      }
      select.value = keep || "";
      select.disabled = !tracked;
    }

    function availableFor(line) {
      if (line.lot) {
        var lot = (line.product.lots || []).filter(function (l) { return l.lot === line.lot; })[0];
        return lot ? lot.available : "0";
      }
      return line.product.available || "0";
    }

    /* What is available for the line (its lot, if named), and a warning when it asks for more. */
    function showAvailability(line) {
      var available = availableFor(line);
      line.availableCell.textContent = fmtQty(available);
      line.expiryCell.textContent = line.product.earliest_expiry || "—";
      var short = line.row.querySelector(".mt-short");
      var q = parseFloat(line.qty.value);
      var tooMany = !isNaN(q) && q > parseFloat(available);
      if (tooMany && !short) {
        short = el("span", {className: "mt-short"});
        line.qty.parentNode.appendChild(short);
      }
      if (short) {
        short.textContent = tooMany ? text("short", {qty: fmtQty(available)}) : "";
        short.hidden = !tooMany;
      }
      line.row.classList.toggle("warning", tooMany);
    }

    /* Availability of every line's product at the chosen warehouse, in one request. */
    function refresh() {
      if (!lines.length || !source.value) { return Promise.resolve(); }
      var ids = {};
      lines.forEach(function (l) { ids[l.product.id] = true; });
      var params = Object.keys(ids).map(function (id) { return "&product=" + encodeURIComponent(id); }).join("");
      return M.getJson(availableUrl(params)).then(function (r) {
        if (!r.ok) { showError(refusal(r)); return; }
        var byId = {};
        (r.data.result || []).forEach(function (p) { byId[p.id] = p; });
        lines.forEach(function (line) {
          var p = byId[line.product.id];
          if (p) { line.product = p; fillLots(line); showAvailability(line); }
        });
      });
    }

    function renumber() {
      lines.forEach(function (line, i) { line.row.querySelector(".mt-no").textContent = String(i + 1); });
      empty.hidden = lines.length > 0;
      var units = 0;
      lines.forEach(function (line) { var q = parseFloat(line.qty.value); if (!isNaN(q)) { units += q; } });
      summary.textContent = lines.length ? text("summary", {n: lines.length, q: fmtQty(units)}) : "";
    }

    function flash(row) {
      row.classList.add("mt-flash");
      window.setTimeout(function () { row.classList.remove("mt-flash"); }, 900);
      row.scrollIntoView({block: "nearest"});
    }

    function removeLine(line) {
      lines.splice(lines.indexOf(line), 1);
      line.row.parentNode.removeChild(line.row);
      renumber();
      onChange();
    }

    function addLine(product, values) {
      values = values || {};
      var qty = el("input", {type: "number", className: "form-control input-sm mt-qty", min: "0", step: "any",
                             value: values.quantity || "1", "aria-label": "quantity"});
      var lotSelect = el("select", {className: "form-control input-sm mt-lot", "aria-label": "lot"});
      var remove = el("button", {type: "button", className: "btn btn-xs btn-default mt-remove",
                                 text: "✕ " + text("remove")});
      var availableCell = el("td", {className: "text-right mt-available"});
      var expiryCell = el("td", {className: "mt-expiry"});
      var row = el("tr", {"data-sku": product.sku}, [
        el("td", {className: "mt-no"}),
        el("td", {className: "mt-sku", text: product.sku}),
        el("td", {text: product.name || ""}),
        availableCell, expiryCell,
        el("td", {}, [lotSelect]),
        el("td", {className: "text-right"}, [qty]),
        el("td", {className: "text-right"}, [remove])
      ]);
      var line = {id: values.id || null, product: product, lot: values.lot || "", serial: values.serial || "",
                  row: row, qty: qty, lotSelect: lotSelect, availableCell: availableCell, expiryCell: expiryCell};
      if (line.serial) { qty.value = "1"; qty.readOnly = true; row.setAttribute("data-serial", line.serial); }
      remove.addEventListener("click", function () { removeLine(line); });
      qty.addEventListener("input", function () { showAvailability(line); renumber(); onChange(); });
      qty.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); scan.focus(); }
      });
      lotSelect.addEventListener("change", function () { line.lot = lotSelect.value; showAvailability(line); onChange(); });
      lines.push(line);
      body.appendChild(row);
      fillLots(line);
      showAvailability(line);
      renumber();
      flash(row);
      return line;
    }

    /* One more unit (or ``quantity``) of a product, lot, serial: on its line if there is one. */
    function addUnit(product, lot, serial, quantity) {
      for (var i = 0; i < lines.length; i++) {
        var line = lines[i];
        if (line.product.id !== product.id) { continue; }
        if (serial && line.serial === serial) {
          showError(text("scan_refused") + ": " +
                    text("duplicate_serial", {serial: serial, sku: product.sku, n: i + 1}));
          flash(line.row);
          return line;
        }
        if (!serial && !line.serial && line.lot === (lot || "")) {
          var q = parseFloat(line.qty.value);
          line.qty.value = fmtQty((isNaN(q) ? 0 : q) + (quantity || 1));
          showAvailability(line);
          renumber();
          flash(line.row);
          onChange();
          return line;
        }
      }
      var added = addLine(product, {lot: lot, serial: serial, quantity: String(quantity || 1)});
      onChange();
      return added;
    }

    function needSource() {
      if (source.value) { return false; }
      showError(text("need_source"));
      source.focus();
      return true;
    }

    // scanning: the parsed product, lot and serial decide the line, whatever the encoding
    M.scanField(scan, function (raw) {
      hideMessage();
      if (needSource()) { return null; }
      return M.post("/api/v1/udi/parse", {barcode: raw}).then(function (r) {
        if (!r.ok) { showError(text("scan_refused") + ": " + refusal(r)); return null; }
        var udi = r.data || {};
        if (!udi.product) {
          showError(text("scan_refused") + ": " + text("unknown_di", {di: udi.di || raw}));
          return null;
        }
        return M.getJson(availableUrl("&product=" + encodeURIComponent(udi.product.id))).then(function (a) {
          if (!a.ok) { showError(refusal(a)); return; }
          var product = a.data.result[0];
          var serialTracked = product.tracking === "serial" || product.tracking === "lot_serial";
          var lotTracked = product.tracking === "lot" || product.tracking === "lot_serial";
          addUnit(product, lotTracked ? (udi.lot || "") : "", serialTracked ? (udi.serial || "") : "",
                  serialTracked ? 1 : (udi.quantity || 1));
        });
      });
    });

    // searching
    var searchTimer = null, searchSeq = 0;

    function showResults(list, q) {
      while (resultsBody.firstChild) { resultsBody.removeChild(resultsBody.firstChild); }
      if (!list.length) {
        resultsBody.appendChild(el("tr", {}, [el("td", {colspan: "7", className: "mt-none",
                                                        text: text("nothing_found", {q: q})})]));
      }
      list.forEach(function (p) {
        var add = el("button", {type: "button", className: "btn btn-xs btn-primary mt-add", text: "+ " + text("add")});
        add.addEventListener("click", function () {
          hideMessage();
          var line = addUnit(p, "", "", 1);
          if (line) { line.qty.focus(); line.qty.select(); }
        });
        resultsBody.appendChild(el("tr", {"data-sku": p.sku}, [
          el("td", {className: "mt-sku", text: p.sku}), el("td", {text: p.name || ""}),
          el("td", {text: p.model || ""}), el("td", {className: "mt-mono", text: p.udi_di || ""}),
          el("td", {className: "text-right mt-available", text: fmtQty(p.available)}),
          el("td", {text: p.earliest_expiry || "—"}), el("td", {}, [add])]));
      });
      results.hidden = false;
    }

    function runSearch() {
      var q = search.value.trim();
      if (!q) { results.hidden = true; return; }
      if (needSource()) { return; }
      var seq = ++searchSeq;
      M.getJson(availableUrl("&q=" + encodeURIComponent(q))).then(function (r) {
        if (seq !== searchSeq) { return; }  // a newer search is on its way
        if (!r.ok) { showError(refusal(r)); return; }
        showResults(r.data.result || [], q);
      });
    }

    search.addEventListener("input", function () {
      window.clearTimeout(searchTimer);
      searchTimer = window.setTimeout(runSearch, 250);
    });
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); window.clearTimeout(searchTimer); runSearch(); }
    });
    source.addEventListener("change", function () { refresh(); if (search.value.trim()) { runSearch(); } });

    /* The lines as the API takes them; null and the field to fix when one is not a quantity. */
    function values(badQuantity) {
      var out = [];
      for (var i = 0; i < lines.length; i++) {
        var line = lines[i], raw = line.qty.value.trim(), q = Number(raw);
        if (!raw || isNaN(q) || q <= 0) { badQuantity(i + 1, line.qty); return null; }
        var l = {product: line.product.sku, quantity: raw};
        if (line.id) { l.id = line.id; }
        if (line.lot) { l.lot = line.lot; }
        if (line.serial) { l.serial = line.serial; }
        out.push(l);
      }
      return out;
    }

    renumber();
    return {
      lines: lines, addLine: addLine, values: values, refresh: refresh, count: function () { return lines.length; },
      clear: function () {
        lines.slice().forEach(function (line) { line.row.parentNode.removeChild(line.row); });
        lines.length = 0;
        renumber();
      },
      setIds: function (saved) { saved.forEach(function (l, i) { if (lines[i]) { lines[i].id = l.id; } }); }
    };
  }

  M.orderLines = orderLines;
  M.showError = showError;
  M.hideMessage = hideMessage;
  M.refusal = refusal;
}());
