/* MedTrace put-away (上架). Plain JavaScript; common.js before it.
 *
 * Scan an item (POST /api/v1/udi/parse, matched by product, lot and serial to
 * what waits in receiving) or click "Choose"; scan the bin and press Enter; the
 * move posts through POST /api/v1/moves/ keeping the stock's status. */
(function () {
  "use strict";

  var M = window.MedTrace;
  var el = M.el;
  function $(id) { return document.getElementById(id); }
  function text(key, values) { return M.text(key, values); }

  var root = $("mt-putaway");
  var select = $("mt-warehouse");
  if (select) {
    select.addEventListener("change", function () { if (select.value) { $("mt-warehouse-form").submit(); } });
  }
  var itemScan = $("mt-item-scan");
  if (!root || !itemScan) { return; }

  var warehouse = root.getAttribute("data-warehouse");
  var items = M.readJson("mt-putaway-items", []);
  var bins = M.readJson("mt-putaway-bins", []);
  var why = M.readJson("mt-putaway-why", {});
  var binInput = $("mt-bin"), qty = $("mt-qty"), selected = $("mt-selected"), postButton = $("mt-post"),
      suggestion = $("mt-suggestion");
  var chosen = null, busy = false;

  function refuse(message) { M.showMessage("error", message); M.beep(); }
  function num(v) { var n = parseFloat(v); return isNaN(n) ? 0 : n; }

  function describe(item) {
    return item.serial_number ? text("serial_of", {serial: item.serial_number, sku: item.sku})
         : item.lot_number ? text("lot_of", {lot: item.lot_number, sku: item.sku}) : item.sku;
  }

  function choose(index) {
    chosen = items[index];
    document.querySelectorAll("#mt-items tr[data-index]").forEach(function (row) {
      row.classList.toggle("mt-chosen", row.getAttribute("data-index") === String(index));
    });
    while (selected.firstChild) { selected.removeChild(selected.firstChild); }
    selected.className = "";
    selected.appendChild(el("strong", {id: "mt-selected-item", text: describe(chosen)}));
    selected.appendChild(document.createTextNode(" · " + chosen.location + " · " + chosen.status_label +
                                                 " · " + chosen.movable));
    qty.value = chosen.movable;
    qty.max = chosen.movable;
    qty.readOnly = !!chosen.serial_number;
    if (chosen.suggested_bin) {
      $("mt-suggested-bin").textContent = chosen.suggested_bin;
      $("mt-suggested-why").textContent = "(" + (why[chosen.suggested_because] || "") + ")";
      suggestion.hidden = false;
    } else {
      suggestion.hidden = true;
    }
    binInput.value = "";
    binInput.focus();
  }

  document.querySelectorAll("#mt-items .mt-pick").forEach(function (button) {
    button.addEventListener("click", function () {
      $("mt-message").hidden = true;
      choose(Number(button.closest("tr").getAttribute("data-index")));
    });
  });
  $("mt-use-suggested").addEventListener("click", function () {
    if (chosen && chosen.suggested_bin) { binInput.value = chosen.suggested_bin; binInput.focus(); }
  });

  M.scanField(itemScan, function (raw) {
    $("mt-message").hidden = true;
    return M.post("/api/v1/udi/parse", {barcode: raw}).then(function (r) {
      if (!r.ok) { refuse(text("scan_refused") + ": " + M.errorText(r.status, r.data)); return; }
      var udi = r.data || {};
      if (!udi.product) { refuse(text("scan_refused") + ": " + text("unknown_di", {di: udi.di || raw})); return; }
      var index = -1;
      for (var i = 0; i < items.length && index < 0; i++) {
        var item = items[i];
        if (item.sku === udi.product.sku && (!udi.lot || !item.lot_number || item.lot_number === udi.lot) &&
            (!item.serial_number || item.serial_number === udi.serial) && num(item.movable) > 0) {
          index = i;
        }
      }
      if (index < 0) {
        var what = udi.serial ? text("serial_of", {serial: udi.serial, sku: udi.product.sku})
                 : udi.lot ? text("lot_of", {lot: udi.lot, sku: udi.product.sku}) : udi.product.sku;
        refuse(text("scan_refused") + ": " + text("not_waiting", {what: what}));
        return;
      }
      choose(index);
    });
  });

  function knownBin(code) {
    var wanted = code.trim().toUpperCase();
    var found = bins.filter(function (b) { return b.code.toUpperCase() === wanted; })[0];
    return found ? found.code : null;
  }

  function post() {
    if (busy) { return; }
    $("mt-message").hidden = true;
    if (!chosen) { refuse(text("need_item")); itemScan.focus(); return; }
    var typed = binInput.value.trim();
    if (!typed) { refuse(text("need_bin")); binInput.focus(); return; }
    var bin = knownBin(typed);
    if (!bin) { refuse(text("not_a_bin", {bin: typed, warehouse: warehouse})); binInput.select(); return; }
    if (bin === chosen.location) { refuse(text("same_bin", {bin: bin})); binInput.select(); return; }
    var q = Number(qty.value);
    if (!qty.value.trim() || isNaN(q) || q <= 0 || q > num(chosen.movable)) {
      refuse(text("bad_quantity", {max: chosen.movable}));
      qty.focus();
      return;
    }
    var line = {product: chosen.sku, from_location: chosen.location, to_location: bin,
                quantity: qty.value.trim(), status: chosen.status};
    if (chosen.lot_number) { line.lot = chosen.lot_number; }
    if (chosen.serial_number) { line.serial = chosen.serial_number; }
    busy = true;
    postButton.disabled = true;
    M.post("/api/v1/moves/", {warehouse: warehouse, reason: "put-away", lines: [line]}).then(function (r) {
      if (r.ok) {
        M.flashAndReload(text("done", {qty: line.quantity, what: describe(chosen), bin: bin, name: r.data.name}));
        return;
      }
      busy = false;
      postButton.disabled = false;
      var problems = r.data && r.data.details && r.data.details.problems;
      refuse(text("failed") + ": " + (r.status === 0 ? text("unreachable")
             : (r.data && r.data.message) || (problems || []).join("; ") || ("HTTP " + r.status)));
    });
  }

  postButton.addEventListener("click", post);
  binInput.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); post(); }
  });
  qty.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); post(); }
  });
}());
