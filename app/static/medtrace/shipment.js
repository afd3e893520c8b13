/* MedTrace shipping to a hospital (发货出库). Plain JavaScript; common.js and
 * order_lines.js (the lines, by scan or product search) before it.
 * "Post shipment" sends POST /api/v1/shipments/: allocation and every rule are
 * the server's; on success the shipment's page shows its pick list. */
(function () {
  "use strict";

  var M = window.MedTrace;
  function $(id) { return document.getElementById(id); }
  function text(key, values) { return M.text(key, values); }

  var root = $("mt-ship");
  if (!root) { return; }
  var warehouse = $("mt-from"), customer = $("mt-customer"), reference = $("mt-reference"),
      strategy = $("mt-strategy"), note = $("mt-note"), postButton = $("mt-post");
  var busy = false, dirty = false;
  var lines = M.orderLines({source: warehouse, onChange: function () { dirty = true; }});

  function post() {
    if (busy) { return; }
    M.hideMessage();
    if (!warehouse.value) { M.showError(text("need_source")); warehouse.focus(); return; }
    if (!customer.value) { M.showError(text("need_customer")); customer.focus(); return; }
    if (!lines.count()) { M.showError(text("need_lines")); $("mt-scan").focus(); return; }
    var items = lines.values(function (n, input) { M.showError(text("bad_quantity", {n: n})); input.focus(); });
    if (!items) { return; }
    var body = {warehouse: warehouse.value, customer: customer.value, lines: items};
    if (reference.value.trim()) { body.reference = reference.value.trim(); }
    if (strategy.value) { body.strategy = strategy.value; }
    if (note.value.trim()) { body.note = note.value.trim(); }
    busy = true;
    postButton.disabled = true;
    M.post("/api/v1/shipments/", body).then(function (r) {
      if (r.ok) {
        dirty = false;
        M.flashAndGo(text("posted", {name: r.data.name, customer: customer.value}),
                     "/shipments/" + encodeURIComponent(r.data.name) + "/");
        return;
      }
      busy = false;
      postButton.disabled = false;
      M.showError(M.withHead(text("not_posted"), M.refusal(r)));
    });
  }

  postButton.addEventListener("click", post);
  [customer, reference, strategy, note].forEach(function (input) {
    input.addEventListener("change", function () { dirty = true; });
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirty && !busy) { event.preventDefault(); event.returnValue = text("leave"); }
  });
  (warehouse.value ? customer : warehouse).focus();
}());
