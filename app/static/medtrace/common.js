/* Helpers shared by MedTrace's pages (receive, boards, document pages), and the
 * workflow action buttons with their comment / electronic-signature dialog.
 * Plain JavaScript, no dependencies; exposed as window.MedTrace. Every call goes to
 * the REST API with the session cookie; the page reloads on success. */
(function () {
  "use strict";

  var FLASH_KEY = "medtrace-flash";

  /* JSON the server put in a <script type="application/json" id=...> block. */
  function readJson(id, fallback) {
    var node = document.getElementById(id);
    if (!node) { return fallback; }
    try { return JSON.parse(node.textContent); } catch (e) { return fallback; }
  }

  /* A page string in the user's language, with {name} placeholders filled. */
  function format(strings, key, values) {
    var s = strings[key] || key;
    Object.keys(values || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(values[k])); });
    return s;
  }

  /* A DOM element: attrs may hold text and className; children may be null. */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; }
      else if (k === "className") { node.className = attrs[k]; }
      else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }

  var T = readJson("mt-text", {});
  function text(key, values) { return format(T, key, values); }

  /* Headers for a JSON request from a page: JSON content type (even without a
   * body) and the page's CSRF token, which the API checks for cookie sessions. */
  function jsonHeaders() {
    var meta = document.querySelector("meta[name=csrf-token]");
    var headers = {"Content-Type": "application/json", "Accept": "application/json"};
    if (meta && meta.content) { headers["X-CSRFToken"] = meta.content; }
    return headers;
  }

  /* Send JSON (POST, PUT ...) with the session cookie and the CSRF token; GET
   * without a body. Resolves to {ok, status, data}, never rejects. */
  function send(method, url, body) {
    var options = {method: method, credentials: "same-origin"};
    if (method === "GET") {
      options.headers = {"Accept": "application/json"};
    } else {
      options.headers = jsonHeaders();
      options.body = JSON.stringify(body || {});
    }
    return fetch(url, options).then(function (response) {
      return response.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : {}; } catch (e) { data = {message: raw.slice(0, 300)}; }
        return {ok: response.ok, status: response.status, data: data};
      });
    }, function (err) {
      return {ok: false, status: 0, data: {message: String(err)}};
    });
  }

  function post(url, body) { return send("POST", url, body); }
  function getJson(url) { return send("GET", url); }

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

  /* Show ``message`` on the page at ``url`` once it has loaded (a saved document's page). */
  function flashAndGo(message, url) {
    try { window.sessionStorage.setItem(FLASH_KEY, message); } catch (e) { /* private mode */ }
    window.location.assign(url);
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

  /* A refusal's message in the user's language, as [head, problems]: the server
   * joins the problems of a document's lines ("line 1: ...; line 2: ...",
   * "第 1 行：...；第 2 行：...") after a head ("receipt not posted: "). */
  function splitProblems(message) {
    message = message || "";
    var start = message.search(/(line \d|第 ?\d+ ?行)/);
    if (start < 0) { return [message, []]; }
    var parts = message.slice(start).split(/; (?=line \d)|；(?=第 ?\d)/);
    return parts.length > 1 ? [message.slice(0, start).trim(), parts] : [message, []];
  }

  /* ``head · message``, unless the server's message already starts with the head
   * ("Receipt not posted" before "receipt not posted: line 1 ..."). */
  function withHead(head, message) {
    message = message || "";
    return message.toLowerCase().indexOf(head.toLowerCase()) === 0 ? message : head + " · " + message;
  }

  function doneMessage(title, result) {
    var state = result.data && (result.data.state_label || result.data.state);
    return title + (state ? " → " + state : "") + " · " + text("done");
  }

  /* A short low tone: a refused scan is heard as well as seen. */
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

  /* A scan field: a scanner (or a person) types a code and Enter; ``handle(code)``
   * runs for each code in the order scanned, one at a time (it may return a
   * promise), and the field is emptied for the next. Returns a function that
   * resolves once every scan so far is handled. */
  function scanField(input, handle) {
    var queue = Promise.resolve();
    input.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") { return; }
      event.preventDefault();
      var raw = input.value.replace(/[\r\n\t]+/g, "");
      input.value = "";
      if (!raw.trim()) { return; }
      queue = queue.then(function () { return handle(raw); })
                   .then(null, function (err) { showMessage("error", String(err)); });
    });
    return function settled() { return queue; };
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

  /* Extra inputs an action's effects read (the ship action: carrier, vehicle ...). */
  var EXTRA = {
    carrier: function () {
      var select = el("select", {id: "mt-carrier", name: "carrier", className: "form-control"},
                      [el("option", {value: "", text: text("choose")})]);
      readJson("mt-carriers", []).forEach(function (c) {
        select.appendChild(el("option", {value: c.code, text: c.code + " · " + c.name}));
      });
      return select;
    },
    vehicle: function () { return el("input", {type: "text", id: "mt-vehicle", name: "vehicle", className: "form-control", maxlength: "32"}); },
    tracking_no: function () { return el("input", {type: "text", id: "mt-tracking", name: "tracking_no", className: "form-control", maxlength: "64"}); },
    expected_arrival: function () { return el("input", {type: "date", id: "mt-eta", name: "expected_arrival", className: "form-control"}); }
  };
  var EXTRA_LABEL = {carrier: "carrier", vehicle: "vehicle", tracking_no: "tracking_no", expected_arrival: "eta"};

  function openDialog(button) {
    var d = button.dataset;
    var needComment = d.comment === "1", needSignature = d.signature === "1";
    var extras = (d.fields || "").split(",").filter(function (f) { return EXTRA[f]; });
    injectStyle();
    var old = document.getElementById("mt-dialog");
    if (old) { old.remove(); }

    var form = el("form", {method: "dialog", id: "mt-dialog-form"});
    form.appendChild(el("h4", {text: d.label + " · " + d.title + (d.to ? "  (→ " + d.to + ")" : "")}));
    var inputs = {};
    if (needSignature) {
      form.appendChild(el("div", {className: "mt-sign", id: "mt-sign-notice"}, [
        el("span", {text: text("sign_notice") + " "}), el("strong", {id: "mt-meaning", text: d.meaning || ""})]));
      inputs.password = el("input", {type: "password", id: "mt-password", name: "password",
                                     className: "form-control", autocomplete: "current-password"});
      form.appendChild(field(text("password"), inputs.password));
    }
    extras.forEach(function (f) { inputs[f] = EXTRA[f](); form.appendChild(field(text(EXTRA_LABEL[f]), inputs[f])); });
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
        body.signature = {password: inputs.password.value};
      }
      extras.forEach(function (k) { if (inputs[k].value.trim()) { body[k] = inputs[k].value.trim(); } });
      submit.disabled = true;
      submit.textContent = text("working");
      post(d.url, body).then(function (result) {
        if (result.ok) { flashAndReload(doneMessage(d.title, result)); return; }
        submit.disabled = false;
        submit.textContent = text("confirm");
        if (inputs.password) { inputs.password.value = ""; }
        error.textContent = errorText(result.status, result.data);
      });
    });
    dialog.showModal();
    (inputs.password || inputs[extras[0]] || inputs.comment).focus();
  }

  function takeAction(button) {
    var d = button.dataset;
    if (d.comment === "1" || d.signature === "1" || d.fields) { openDialog(button); return; }
    if (d.confirm && !window.confirm(d.confirm)) { return; }
    button.disabled = true;
    var label = button.textContent;
    button.textContent = text("working");
    post(d.url, {}).then(function (result) {
      if (result.ok) { flashAndReload(doneMessage(d.title, result)); return; }
      button.disabled = false;
      button.textContent = label;
      showMessage("error", d.title + ": " + errorText(result.status, result.data));
    });
  }

  document.addEventListener("click", function (ev) {
    var target = ev.target.closest ? ev.target.closest("button.mt-action") : null;
    if (!target) { return; }
    ev.preventDefault();
    takeAction(target);
  });
  document.addEventListener("DOMContentLoaded", showPendingFlash);

  window.MedTrace = {
    readJson: readJson, format: format, el: el, jsonHeaders: jsonHeaders, text: text, post: post,
    send: send, getJson: getJson, showMessage: showMessage,
    flashAndReload: flashAndReload, flashAndGo: flashAndGo, errorText: errorText, doneMessage: doneMessage,
    beep: beep, scanField: scanField, splitProblems: splitProblems, withHead: withHead
  };
}());
