/* MedTrace transfer page: pick by scan at the source and receive by scan at the
 * destination. The workflow action buttons and their dialog are common.js's. */
(function () {
  "use strict";

  var M = window.MedTrace;

  function transferUrl(name) { return "/api/v1/transfers/" + encodeURIComponent(name); }

  function bindPick() {
    var form = document.getElementById("mt-pick-form");
    if (!form) { return; }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var barcode = form.elements.barcode.value;
      if (!barcode.trim()) { form.elements.barcode.focus(); return; }
      var body = {barcode: barcode};
      if (form.elements.quantity.value) { body.quantity = form.elements.quantity.value; }
      M.post(transferUrl(form.dataset.transfer) + "/pick", body).then(function (result) {
        if (result.ok) { M.flashAndReload(form.dataset.transfer + ": " + result.data.picked + " · " + M.text("done")); return; }
        M.showMessage("error", M.errorText(result.status, result.data));
        form.elements.barcode.select();
      });
    });
  }

  /* Receiving by scan: each scan adds one unit (or the label's quantity) to the
   * in-transit row of the same product, lot and serial, whatever the encoding
   * (GS1 element string, printed text, Digital Link, HIBC): what the server
   * parsed is compared, never the raw text. */
  function bindReceiveScan(form) {
    var input = document.getElementById("mt-receive-scan");
    var counter = document.getElementById("mt-receive-count");
    var rows = Array.prototype.slice.call(form.querySelectorAll(".mt-receive-line"));
    if (!input) { return; }

    function num(v) { var n = parseFloat(v); return isNaN(n) ? 0 : n; }
    function tidy(n) { return String(Math.round(n * 10000) / 10000); }
    function qtyInput(row) { return row.querySelector("input[name=quantity]"); }

    function count() {
      var got = 0, all = 0;
      rows.forEach(function (row) { got += num(qtyInput(row).value); all += num(row.dataset.transit); });
      counter.textContent = M.text("counted", {n: tidy(got), m: tidy(all)});
      counter.className = "label " + (got >= all ? "label-success" : got > 0 ? "label-info" : "label-default");
    }

    function flash(row) {
      row.classList.add("mt-flash");
      window.setTimeout(function () { row.classList.remove("mt-flash"); }, 900);
    }

    function refuse(message) {
      M.showMessage("error", M.text("scan_refused") + ": " + message);
      M.beep();
    }

    M.scanField(input, function (raw) {
      return M.post("/api/v1/udi/parse", {barcode: raw}).then(function (r) {
        if (!r.ok) { refuse(M.errorText(r.status, r.data)); return; }
        var udi = r.data || {};
        if (!udi.product) { refuse(M.text("unknown_di", {di: udi.di || raw})); return; }
        var sku = udi.product.sku;
        var what = udi.serial ? M.text("serial_of", {serial: udi.serial, sku: sku})
                 : udi.lot ? M.text("lot_of", {lot: udi.lot, sku: sku}) : sku;
        var matching = rows.filter(function (row) {
          return row.dataset.product === sku &&
            (!row.dataset.lot || !udi.lot || row.dataset.lot === udi.lot) &&
            (!row.dataset.serial || row.dataset.serial === udi.serial);
        });
        if (!matching.length) { refuse(M.text("not_on_truck", {what: what})); return; }
        var add = udi.serial ? 1 : (udi.quantity || 1);
        var row = matching.filter(function (x) { return num(qtyInput(x).value) + add <= num(x.dataset.transit); })[0];
        if (!row) {
          var total = matching.reduce(function (n, x) { return n + num(x.dataset.transit); }, 0);
          refuse(M.text("all_counted", {n: tidy(total), what: what}));
          flash(matching[0]);
          return;
        }
        var box = document.getElementById("mt-message");
        if (box) { box.hidden = true; }
        qtyInput(row).value = tidy(num(qtyInput(row).value) + add);
        flash(row);
        count();
      });
    });
    rows.forEach(function (row) { qtyInput(row).addEventListener("input", count); });
    document.getElementById("mt-receive-all").addEventListener("click", function () {
      rows.forEach(function (row) { qtyInput(row).value = row.dataset.transit; });
      count();
      input.focus();
    });
    count();
  }

  function bindReceive() {
    var form = document.getElementById("mt-receive-form");
    if (!form) { return; }
    bindReceiveScan(form);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var lines = [];
      form.querySelectorAll(".mt-receive-line").forEach(function (row) {
        var qty = row.querySelector("input[name=quantity]").value;
        var damaged = row.querySelector("input[name=damaged]").value;
        if (!qty || Number(qty) <= 0) { return; }
        var line = {product: row.dataset.product, quantity: qty};
        if (row.dataset.lot) { line.lot = row.dataset.lot; }
        if (row.dataset.serial) { line.serial = row.dataset.serial; }
        if (damaged && Number(damaged) > 0) { line.damaged = damaged; }
        lines.push(line);
      });
      if (!lines.length && form.elements.complete.checked && !window.confirm(M.text("confirm_nothing"))) { return; }
      var body = {lines: lines, complete: form.elements.complete.checked};
      if (form.elements.comment.value.trim()) { body.comment = form.elements.comment.value.trim(); }
      M.post(transferUrl(form.dataset.transfer) + "/receive", body).then(function (result) {
        if (result.ok) { M.flashAndReload(M.doneMessage(form.dataset.transfer, result)); return; }
        M.showMessage("error", M.errorText(result.status, result.data));
      });
    });
  }

  bindPick();
  bindReceive();
}());
