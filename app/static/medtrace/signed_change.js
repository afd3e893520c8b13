/* The signed-change page: collect the changed regulated fields, the reason and
 * the signature, post them to the signed-change API, reload on success. */
(function () {
  "use strict";
  var M = window.MedTrace;
  var page = document.getElementById("signed-change");
  var form = document.getElementById("mt-signed-form");
  if (!page || !form) { return; }

  function value(input) {
    var raw = input.value;
    if (input.dataset.type === "bool") { return raw === "true"; }
    if (input.dataset.type === "link") { return Number(raw); }
    return raw;
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var changes = {};
    form.querySelectorAll("[data-current]").forEach(function (input) {
      if (input.value !== "" && input.value !== input.dataset.current) { changes[input.name] = value(input); }
    });
    if (!Object.keys(changes).length) { M.showMessage("error", M.text("nothing")); return; }
    var reason = form.elements.reason.value.trim();
    if (!reason) { M.showMessage("error", M.text("need_reason")); form.elements.reason.focus(); return; }
    var body = {changes: changes, reason: reason};
    if (form.elements.password) {
      if (!form.elements.password.value) { M.showMessage("error", M.text("need_password")); return; }
      body.signature = {password: form.elements.password.value};
    }
    M.post(page.dataset.url, body).then(function (result) {
      if (result.ok) { M.flashAndReload(M.text("done")); return; }
      if (form.elements.password) { form.elements.password.value = ""; }
      M.showMessage("error", M.errorText(result.status, result.data));
    });
  });
}());
