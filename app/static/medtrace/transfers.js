/* MedTrace transfer page: pick by scan and receive at the destination. The
 * workflow action buttons and their dialog are common.js's. */
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

  function bindReceive() {
    var form = document.getElementById("mt-receive-form");
    if (!form) { return; }
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
