/* MedTrace transfer board and transfer detail: workflow action buttons, the
 * comment / electronic-signature dialog, pick by scan, receive and exception
 * resolution. Plain JavaScript, no dependencies: every call goes to the REST API
 * (/api/v1/transfers/...) with the session cookie, and the page reloads on success. */
(function () {
  "use strict";

  var readJson = window.MedTrace.readJson;
  var el = window.MedTrace.el;

  var T = readJson("mt-text", {});
  var CARRIERS = readJson("mt-carriers", []);
  var FLASH_KEY = "medtrace-transfer-flash";

  function text(key, values) { return window.MedTrace.format(T, key, values); }


  // --- messages -----------------------------------------------------------------------
  function showMessage(kind, message) {
    var box = document.getElementById("mt-message");
    if (!box) { window.alert(message); return; }
    box.className = "alert alert-" + (kind === "error" ? "danger" : "success");
    box.textContent = message;
    box.hidden = false;
    box.scrollIntoView({block: "nearest"});
  }

  function flashAndReload(message) {
    try { window.sessionStorage.setItem(FLASH_KEY, message); } catch (e) { /* private mode */ }
    window.location.reload();
  }

  function showPendingFlash() {
    var message = null;
    try {
      message = window.sessionStorage.getItem(FLASH_KEY);
      window.sessionStorage.removeItem(FLASH_KEY);
    } catch (e) { /* ignore */ }
    if (message) { showMessage("ok", message); }
  }

  function errorText(status, data) {
    var msg = (data && (data.message || data.msg)) || "";
    if (!msg && data && data.details && data.details.problems) { msg = data.details.problems.join("; "); }
    return text("failed") + " (" + status + ")" + (msg ? ": " + msg : "");
  }

  // --- the API ------------------------------------------------------------------------
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: window.MedTrace.jsonHeaders(),
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : {}; } catch (e) { data = {message: raw.slice(0, 300)}; }
        return {ok: response.ok, status: response.status, data: data};
      });
    }, function (err) {
      return {ok: false, status: 0, data: {message: String(err)}};
    });
  }

  function transferUrl(name) { return "/api/v1/transfers/" + encodeURIComponent(name); }

  function doneMessage(name, result) {
    var state = result.data && (result.data.state_label || result.data.state);
    return name + (state ? " → " + state : "") + " · " + text("done");
  }

  // --- the action dialog --------------------------------------------------------------
  function injectStyle() {
    if (document.getElementById("mt-dialog-style")) { return; }
    var style = el("style", {id: "mt-dialog-style"});
    style.textContent =
      "dialog.mt-dialog{border:1px solid #999;border-radius:6px;padding:16px 18px;width:min(460px,92vw)}" +
      "dialog.mt-dialog::backdrop{background:rgba(0,0,0,.35)}" +
      "dialog.mt-dialog h4{margin-top:0}" +
      "dialog.mt-dialog .mt-sign{background:#fcf8e3;border:1px solid #faebcc;padding:6px 8px;border-radius:4px;margin-bottom:8px}" +
      "dialog.mt-dialog .mt-error{color:#a94442;font-weight:bold;margin:6px 0}" +
      "dialog.mt-dialog .mt-buttons{display:flex;justify-content:flex-end;gap:6px;margin-top:10px}";
    document.head.appendChild(style);
  }

  function field(labelText, input) {
    return el("div", {className: "form-group"}, [el("label", {text: labelText, "for": input.id}), input]);
  }

  function openDialog(button) {
    var d = button.dataset;
    var name = d.transfer, action = d.action;
    var needComment = d.comment === "1", needSignature = d.signature === "1";
    injectStyle();
    var old = document.getElementById("mt-dialog");
    if (old) { old.remove(); }

    var form = el("form", {method: "dialog", id: "mt-dialog-form"});
    form.appendChild(el("h4", {text: d.label + " · " + name + (d.to ? "  (→ " + d.to + ")" : "")}));
    var inputs = {};
    if (needSignature) {
      form.appendChild(el("div", {className: "mt-sign", id: "mt-sign-notice"}, [
        el("span", {text: text("sign_notice") + " "}), el("strong", {id: "mt-meaning", text: d.meaning || ""})]));
      inputs.password = el("input", {type: "password", id: "mt-password", name: "password",
                                     className: "form-control", autocomplete: "current-password"});
      form.appendChild(field(text("password"), inputs.password));
    }
    if (action === "ship") {
      var select = el("select", {id: "mt-carrier", name: "carrier", className: "form-control"},
                      [el("option", {value: "", text: text("choose")})]);
      CARRIERS.forEach(function (c) { select.appendChild(el("option", {value: c.code, text: c.code + " · " + c.name})); });
      inputs.carrier = select;
      form.appendChild(field(text("carrier"), select));
      inputs.vehicle = el("input", {type: "text", id: "mt-vehicle", name: "vehicle", className: "form-control", maxlength: "32"});
      form.appendChild(field(text("vehicle"), inputs.vehicle));
      inputs.tracking_no = el("input", {type: "text", id: "mt-tracking", name: "tracking_no", className: "form-control", maxlength: "64"});
      form.appendChild(field(text("tracking_no"), inputs.tracking_no));
      inputs.expected_arrival = el("input", {type: "date", id: "mt-eta", name: "expected_arrival", className: "form-control"});
      form.appendChild(field(text("eta"), inputs.expected_arrival));
    }
    inputs.comment = el("textarea", {id: "mt-comment", name: "comment", rows: "3", className: "form-control", maxlength: "2000"});
    form.appendChild(field(text(needComment ? "comment_required" : "comment_optional"), inputs.comment));
    var error = el("div", {className: "mt-error", id: "mt-dialog-error", role: "alert"});
    form.appendChild(error);
    var submit = el("button", {type: "submit", className: "btn btn-primary", id: "mt-dialog-submit", text: text("confirm")});
    var cancel = el("button", {type: "button", className: "btn btn-default", id: "mt-dialog-cancel", text: text("close")});
    form.appendChild(el("div", {className: "mt-buttons"}, [cancel, submit]));

    var dialog = el("dialog", {id: "mt-dialog", className: "mt-dialog"}, [form]);
    document.body.appendChild(dialog);
    cancel.addEventListener("click", function () { dialog.close(); dialog.remove(); });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      error.textContent = "";
      var body = {};
      var comment = inputs.comment.value.trim();
      if (comment) { body.comment = comment; }
      if (needComment && !comment) { error.textContent = text("need_comment"); inputs.comment.focus(); return; }
      if (needSignature) {
        if (!inputs.password.value) { error.textContent = text("need_password"); inputs.password.focus(); return; }
        body.password = inputs.password.value;
      }
      ["carrier", "vehicle", "tracking_no", "expected_arrival"].forEach(function (k) {
        if (inputs[k] && inputs[k].value.trim()) { body[k] = inputs[k].value.trim(); }
      });
      submit.disabled = true;
      submit.textContent = text("working");
      post(transferUrl(name) + "/actions/" + encodeURIComponent(action), body).then(function (result) {
        if (result.ok) { flashAndReload(doneMessage(name, result)); return; }
        submit.disabled = false;
        submit.textContent = text("confirm");
        if (inputs.password) { inputs.password.value = ""; }
        error.textContent = errorText(result.status, result.data);
      });
    });
    dialog.showModal();
    (inputs.password || inputs.carrier || inputs.comment).focus();
  }

  function takeAction(button) {
    var d = button.dataset;
    if (d.comment === "1" || d.signature === "1" || d.action === "ship") { openDialog(button); return; }
    if (d.action === "cancel" && !window.confirm(text("confirm_cancel", {name: d.transfer}))) { return; }
    button.disabled = true;
    var label = button.textContent;
    button.textContent = text("working");
    post(transferUrl(d.transfer) + "/actions/" + encodeURIComponent(d.action), {}).then(function (result) {
      if (result.ok) { flashAndReload(doneMessage(d.transfer, result)); return; }
      button.disabled = false;
      button.textContent = label;
      showMessage("error", d.transfer + ": " + errorText(result.status, result.data));
    });
  }

  // --- detail page forms --------------------------------------------------------------
  function bindPick() {
    var form = document.getElementById("mt-pick-form");
    if (!form) { return; }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var barcode = form.elements.barcode.value;
      if (!barcode.trim()) { form.elements.barcode.focus(); return; }
      var body = {barcode: barcode};
      if (form.elements.quantity.value) { body.quantity = form.elements.quantity.value; }
      post(transferUrl(form.dataset.transfer) + "/pick", body).then(function (result) {
        if (result.ok) { flashAndReload(form.dataset.transfer + ": " + result.data.picked + " · " + text("done")); return; }
        showMessage("error", errorText(result.status, result.data));
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
      post(transferUrl(form.dataset.transfer) + "/receive", body).then(function (result) {
        if (result.ok) { flashAndReload(doneMessage(form.dataset.transfer, result)); return; }
        showMessage("error", errorText(result.status, result.data));
      });
    });
  }

  function resolveException(button) {
    var d = button.dataset;
    button.disabled = true;
    post(transferUrl(d.transfer) + "/exceptions/" + encodeURIComponent(d.exception) + "/resolve",
         {resolution: d.resolution}).then(function (result) {
      if (result.ok) { flashAndReload(d.transfer + " #" + d.exception + " · " + text("done")); return; }
      button.disabled = false;
      showMessage("error", errorText(result.status, result.data));
    });
  }

  document.addEventListener("click", function (ev) {
    var target = ev.target.closest ? ev.target.closest("button") : null;
    if (!target) { return; }
    if (target.classList.contains("mt-action")) { ev.preventDefault(); takeAction(target); }
    else if (target.classList.contains("mt-resolve")) { ev.preventDefault(); resolveException(target); }
  });
  bindPick();
  bindReceive();
  showPendingFlash();
}());
