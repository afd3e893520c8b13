/* MedTrace scan-to-receive (扫码收货). Plain JavaScript; common.js before it.
 *
 * The scan field keeps the focus: a scanner types the code and Enter; POST
 * /api/v1/receipts/scan says what receiving it would do (product, lot on record,
 * the expiry and where it comes from: the label's expiry, its best-before date
 * or the lot's record; whether the clerk must type it; expired goods refused or
 * taken into quarantine) and it becomes a line. Identical items (same product,
 * lot and expiry, whatever the encoding scanned) add up on one line. "Post
 * receipt" sends POST /api/v1/receipts/ with every line as {barcode, quantity,
 * expiry_date?}. Scans are handled one after the other, in the order they were
 * made, so a fast scanner never reorders or loses lines. */
(function () {
  "use strict";

  var readJson = window.MedTrace.readJson;
  var el = window.MedTrace.el;

  var T = readJson("mt-receive-text", {});
  var BINS = readJson("mt-receive-bins", {});
  var STORE_KEY = "medtrace-receive-choice";

  function $(id) { return document.getElementById(id); }
  var root = $("mt-receive");
  var scan = $("mt-scan"), supplier = $("mt-supplier"), warehouse = $("mt-warehouse"),
      bin = $("mt-bin"), inspection = $("mt-inspection"), reference = $("mt-reference"),
      errorBox = $("mt-error"), successBox = $("mt-success"), body = $("mt-lines-body"),
      empty = $("mt-lines-empty"), summary = $("mt-summary"), postButton = $("mt-post"),
      clearButton = $("mt-clear");
  if (!scan || !body) { return; }

  var lines = [];          // {barcode, product, di, scheme, lot, serial, expiry, row, qty}
  var queue = Promise.resolve();
  var posting = false;

  function text(key, values) { return window.MedTrace.format(T, key, values); }


  // --- focus: the scan field is where the next scan goes ---------------------------------
  function refocus() {
    if (document.activeElement !== scan) { scan.focus(); }
  }

  function isFormControl(node) {
    while (node && node !== document.body) {
      var tag = node.tagName;
      if (tag === "SELECT" || tag === "TEXTAREA" || tag === "OPTION" ||
          (tag === "INPUT" && node.type !== "checkbox" && node.type !== "button" && node.type !== "submit")) {
        return true;
      }
      if (tag === "A" && node.getAttribute("href") && node.getAttribute("href") !== "#") { return true; }
      node = node.parentNode;
    }
    return false;
  }

  // A click anywhere that is not into another field (the quantity, the delivery note,
  // a choice list, a menu link) gives the focus back to the scan field.
  document.addEventListener("click", function (event) {
    if (!isFormControl(event.target) && !(event.target.closest && event.target.closest(".navbar"))) {
      refocus();
    }
  });
  window.addEventListener("focus", function () {
    if (!document.activeElement || document.activeElement === document.body) { refocus(); }
  });

  // --- messages ----------------------------------------------------------------------------
  function beep() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) { return; }
      var ctx = beep.ctx || (beep.ctx = new Ctx());
      var osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.frequency.value = 330; gain.gain.value = 0.08;
      osc.connect(gain); gain.connect(ctx.destination);
      osc.start(); osc.stop(ctx.currentTime + 0.25);
    } catch (e) { /* no audio: the message is enough */ }
  }

  function showError(message) {
    var split = window.MedTrace.splitProblems(message), problems = split[1];
    successBox.hidden = true;
    errorBox.textContent = split[0];
    if (problems.length) {
      var list = el("ul");
      problems.forEach(function (p) { list.appendChild(el("li", {text: p})); });
      errorBox.appendChild(list);
    }
    errorBox.hidden = false;
    beep();
  }

  function hideError() { errorBox.hidden = true; errorBox.textContent = ""; }

  function showSuccess(message, links) {
    hideError();
    successBox.textContent = message;
    (links || []).forEach(function (link) {
      successBox.appendChild(document.createTextNode(" "));
      successBox.appendChild(el("a", {href: link.href, className: "alert-link", id: link.id, text: link.text}));
    });
    successBox.hidden = false;
  }

  /* Was the receipt posted into a receiving area (whose goods wait to be put away)? */
  function intoReceiving(code) {
    return (BINS[warehouse.value] || []).some(function (b) { return b.code === code && b.kind === "receiving"; });
  }

  function serverMessage(status, data) {
    if (status === 0) { return text("unreachable"); }
    if (status === 401) { return text("session"); }
    var msg = (data && (data.message || data.msg)) || "";
    if (status === 403) { return text("forbidden") + (msg && msg !== "Forbidden" ? ": " + msg : ""); }
    return msg || ("HTTP " + status);
  }

  // --- the API -----------------------------------------------------------------------------
  function post(url, payload) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: window.MedTrace.jsonHeaders(),
      body: JSON.stringify(payload)
    }).then(function (response) {
      return response.text().then(function (raw) {
        var data;
        try { data = raw ? JSON.parse(raw) : {}; } catch (e) { data = {message: raw.slice(0, 300)}; }
        return {ok: response.ok, status: response.status, data: data};
      });
    }, function () {
      return {ok: false, status: 0, data: {}};
    });
  }

  // --- header choices ------------------------------------------------------------------------
  function fillBins() {
    var keep = bin.value;
    while (bin.options.length > 1) { bin.remove(1); }
    (BINS[warehouse.value] || []).forEach(function (b) {
      var label = b.code + (b.name ? " · " + b.name : "");
      bin.appendChild(el("option", {value: b.code, text: label}));
    });
    bin.value = keep;
    if (bin.value !== keep) { bin.value = ""; }
  }

  function remember() {
    try {
      window.localStorage.setItem(STORE_KEY, JSON.stringify({
        supplier: supplier.value, warehouse: warehouse.value, bin: bin.value}));
    } catch (e) { /* private mode */ }
  }

  function restore() {
    var saved = null;
    try { saved = JSON.parse(window.localStorage.getItem(STORE_KEY) || "null"); } catch (e) { saved = null; }
    if (!saved) { return; }
    function choose(select, value) {
      if (!value) { return; }
      for (var i = 0; i < select.options.length; i++) {
        if (select.options[i].value === value) { select.value = value; return; }
      }
    }
    choose(supplier, saved.supplier);
    choose(warehouse, saved.warehouse);
    fillBins();
    choose(bin, saved.bin);
  }

  [supplier, warehouse, bin].forEach(function (select) {
    select.addEventListener("change", function () {
      if (select === warehouse) { fillBins(); }
      remember();
      refocus();
    });
  });
  inspection.addEventListener("change", refocus);
  reference.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); refocus(); }
  });

  // --- lines ---------------------------------------------------------------------------------
  function renumber() {
    lines.forEach(function (line, i) { line.row.querySelector(".mt-no").textContent = String(i + 1); });
    var units = 0;
    lines.forEach(function (line) {
      var q = parseFloat(line.qty.value);
      if (!isNaN(q)) { units += q; }
    });
    empty.hidden = lines.length > 0;
    summary.textContent = lines.length ? text("summary", {n: lines.length, q: Math.round(units * 10000) / 10000}) : "";
    postButton.disabled = posting || !lines.length;
    clearButton.disabled = posting || !lines.length;
  }

  function flash(row) {
    row.classList.add("mt-flash");
    window.setTimeout(function () { row.classList.remove("mt-flash"); }, 900);
  }

  function removeLine(line) {
    var i = lines.indexOf(line);
    if (i >= 0) { lines.splice(i, 1); }
    line.row.parentNode.removeChild(line.row);
    renumber();
    refocus();
  }

  function acceptsExpired() {
    var option = warehouse.options[warehouse.selectedIndex];
    return !!option && option.getAttribute("data-accept-expired") === "1";
  }

  /* The expiry cell: the date to be recorded and where it comes from, the
   * label's other dates, a date field where the clerk must type it, and a badge
   * for expired goods. */
  function expiryCell(data) {
    var cell = el("td", {className: "mt-expiry"});
    var input = null;
    if (data.needs_expiry) {
      input = el("input", {type: "date", className: "form-control input-sm mt-expiry-input", required: "required",
                           title: text("type_expiry"), "aria-label": text("type_expiry")});
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); refocus(); }
      });
      cell.appendChild(input);
      cell.appendChild(el("span", {className: "mt-dates", text: text("type_expiry")}));
    } else {
      cell.appendChild(el("span", {className: "mt-expiry-date", text: data.expiry_date || ""}));
      if (data.expiry_source === "best_before") {
        cell.appendChild(el("span", {className: "mt-dates", text: text("from_best_before")}));
      } else if (data.expiry_source === "lot") {
        cell.appendChild(el("span", {className: "mt-dates", text: text("from_lot")}));
      }
    }
    var dates = [];
    if (data.best_before && data.expiry_source !== "best_before") { dates.push(text("best_before", {date: data.best_before})); }
    if (data.sell_by) { dates.push(text("sell_by", {date: data.sell_by})); }
    if (data.due_date) { dates.push(text("due_date", {date: data.due_date})); }
    if (dates.length) { cell.appendChild(el("span", {className: "mt-dates mt-label-dates", text: dates.join(" · ")})); }
    if (data.expired) {
      cell.appendChild(document.createTextNode(" "));
      cell.appendChild(el("span", {className: "label label-danger mt-expired-badge",
                                   text: acceptsExpired() ? text("expired_quarantine") : text("expired")}));
    }
    return {cell: cell, input: input};
  }

  function addLine(raw, data) {
    var product = data.product;
    var serialTracked = !!data.serial || product.tracking === "serial" || product.tracking === "lot_serial";
    var qty = el("input", {type: "number", className: "form-control input-sm mt-qty", min: "0", step: "any",
                           value: String(data.serial ? 1 : (data.quantity || 1)), "aria-label": "quantity"});
    if (data.serial) { qty.readOnly = true; }
    qty.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); refocus(); }
    });
    qty.addEventListener("input", renumber);
    var expiry = expiryCell(data);
    var remove = el("button", {type: "button", className: "btn btn-xs btn-default mt-remove",
                               title: text("remove"), text: "✕ " + text("remove")});
    var row = el("tr", {"data-sku": product.sku, "data-lot": data.lot || "", "data-serial": data.serial || "",
                        className: data.expired ? "mt-expired" : ""}, [
      el("td", {className: "mt-no"}),
      el("td", {className: "mt-sku", text: product.sku}),
      el("td", {text: product.name || ""}),
      el("td", {className: "mt-mono", text: data.di || data.gtin || "", title: (data.scheme || "").toUpperCase()}),
      el("td", {className: "mt-lot mt-mono", text: data.lot || ""}),
      el("td", {className: "mt-serial mt-mono", text: data.serial || ""}),
      expiry.cell,
      el("td", {className: "text-right"}, [qty]),
      el("td", {className: "text-right"}, [remove])
    ]);
    var line = {barcode: raw, productId: product.id, sku: product.sku, di: data.di, lot: data.lot || "",
                serial: data.serial || "", expiry: data.expiry_date || "", serialTracked: serialTracked,
                expired: !!data.expired, expiryInput: expiry.input, row: row, qty: qty};
    remove.addEventListener("click", function () { removeLine(line); });
    lines.push(line);
    body.appendChild(row);
    renumber();
    flash(row);
    row.scrollIntoView({block: "nearest"});
  }

  function accept(raw, data) {
    if (!data.product) {
      showError(text("scan_refused") + ": " + text("unknown_di", {di: data.di || raw}));
      return;
    }
    var i, line;
    if (data.serial) {
      for (i = 0; i < lines.length; i++) {
        line = lines[i];
        if (line.productId === data.product.id && line.serial === data.serial) {
          showError(text("scan_refused") + ": " +
                    text("duplicate_serial", {serial: data.serial, sku: data.product.sku, n: i + 1}));
          flash(line.row);
          return;
        }
      }
    } else {
      // The same item again (same product, lot and expiry, in whatever encoding): one
      // more unit on its line. A line whose expiry is still to be typed takes it too.
      for (i = 0; i < lines.length; i++) {
        line = lines[i];
        if (!line.serial && line.productId === data.product.id && line.lot === (data.lot || "") &&
            (line.expiry === (data.expiry_date || "") || (line.expiryInput && data.needs_expiry))) {
          var q = parseFloat(line.qty.value);
          line.qty.value = String((isNaN(q) ? 0 : q) + (data.quantity || 1));
          hideError();
          successBox.hidden = true;
          renumber();
          flash(line.row);
          return;
        }
      }
    }
    hideError();
    successBox.hidden = true;
    addLine(raw, data);
  }

  function handleScan(raw) {
    queue = queue.then(function () {
      return post("/api/v1/receipts/scan", {barcode: raw, warehouse: warehouse.value || null}).then(function (r) {
        if (r.ok) { accept(raw, r.data || {}); }
        else { showError(text("scan_refused") + ": " + serverMessage(r.status, r.data)); }
      });
    }).then(null, function (err) { showError(String(err)); });
    return queue;
  }

  scan.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") { return; }
    event.preventDefault();
    var raw = scan.value.replace(/[\r\n\t]+/g, "");
    scan.value = "";
    refocus();
    if (raw.trim()) { handleScan(raw); }
  });

  // --- posting -------------------------------------------------------------------------------
  function setPosting(on) {
    posting = on;
    postButton.disabled = on || !lines.length;
    clearButton.disabled = on || !lines.length;
    postButton.setAttribute("aria-busy", on ? "true" : "false");
    if (on) { postButton.dataset.label = postButton.innerHTML; postButton.textContent = text("working"); }
    else if (postButton.dataset.label) { postButton.innerHTML = postButton.dataset.label; }
  }

  function postReceipt() {
    if (posting) { return; }
    if (!supplier.value) { showError(text("need_supplier")); supplier.focus(); return; }
    if (!warehouse.value) { showError(text("need_warehouse")); warehouse.focus(); return; }
    if (!lines.length) { showError(text("need_lines")); refocus(); return; }
    for (var i = 0; i < lines.length; i++) {
      var input = lines[i].expiryInput;
      if (input && !input.value) { showError(text("need_expiry", {n: i + 1})); input.focus(); return; }
      if (input && !/^\d{4}-\d{2}-\d{2}$/.test(input.value)) {
        showError(text("bad_expiry", {n: i + 1, date: input.value})); input.focus(); return;
      }
    }
    var expiredLines = lines.filter(function (line) { return line.expired; }).length;
    var payload = {
      supplier: supplier.value, warehouse: warehouse.value, inspection: inspection.checked,
      lines: lines.map(function (line) {
        var out = {barcode: line.barcode};
        var q = line.qty.value.trim();
        if (q !== "") { out.quantity = q; }
        if (line.expiryInput) { out.expiry_date = line.expiryInput.value; }
        return out;
      })
    };
    if (bin.value) { payload.location = bin.value; }
    if (reference.value.trim()) { payload.reference = reference.value.trim(); }
    setPosting(true);
    // Wait for scans still being parsed, so none is left out of the receipt.
    queue.then(function () { return post("/api/v1/receipts/", payload); }).then(function (r) {
      setPosting(false);
      if (r.ok) {
        var data = r.data || {};
        var n = (data.lines || payload.lines).length;
        var message = text("posted", {name: data.name, n: n, location: data.location || ""});
        if (data.inspection) { message += " " + text("posted_quarantine"); }
        else if (expiredLines) { message += " " + text("posted_expired", {n: expiredLines}); }
        lines.forEach(function (line) { line.row.parentNode.removeChild(line.row); });
        lines = [];
        reference.value = "";
        renumber();
        var links = [{href: "/receipts/" + encodeURIComponent(data.name || "") + "/", text: text("open_receipt"),
                      id: "mt-receipt-link"}];
        if (root.getAttribute("data-put-away") === "1" && intoReceiving(data.location)) {
          links.push({href: "/putaway/?warehouse=" + encodeURIComponent(payload.warehouse), text: text("put_away"),
                      id: "mt-putaway-link"});
        }
        showSuccess(message, links);
        successBox.setAttribute("data-receipt", data.name || "");
      } else {
        showError(window.MedTrace.withHead(text("post_failed"), serverMessage(r.status, r.data)));
        renumber();
      }
      refocus();
    });
  }

  postButton.addEventListener("click", postReceipt);
  clearButton.addEventListener("click", function () {
    if (!lines.length || !window.confirm(text("confirm_clear"))) { refocus(); return; }
    lines.forEach(function (line) { line.row.parentNode.removeChild(line.row); });
    lines = [];
    renumber();
    refocus();
  });

  window.addEventListener("beforeunload", function (event) {
    if (lines.length) { event.preventDefault(); event.returnValue = ""; }
  });

  fillBins();
  restore();
  renumber();
  refocus();
})();
