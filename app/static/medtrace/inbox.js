/* The inbox: acknowledge, resolve (with a comment), comment, mute a rule.
 * Each button calls /api/v1/notifications/... and the page reloads. */
(function () {
  "use strict";
  var M = window.MedTrace;

  function send(method, url, body) {
    if (method === "POST") { return M.post(url, body); }
    var headers = {"Accept": "application/json"};
    var token = document.querySelector("meta[name=csrf-token]");
    if (token) { headers["X-CSRFToken"] = token.getAttribute("content"); }
    return fetch(url, {method: method, credentials: "same-origin", headers: headers}).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return {ok: r.ok, status: r.status, data: data}; });
    });
  }

  function act(button, method, url, body) {
    button.disabled = true;
    var label = button.textContent;
    button.textContent = M.text("working");
    send(method, url, body).then(function (result) {
      if (result.ok) { M.flashAndReload(M.text("done")); return; }
      button.disabled = false;
      button.textContent = label;
      M.showMessage("error", M.errorText(result.status, result.data));
    });
  }

  document.addEventListener("click", function (ev) {
    var b = ev.target.closest ? ev.target.closest("button.mt-ack, button.mt-resolve, button.mt-comment, button.mt-mute") : null;
    if (!b) { return; }
    ev.preventDefault();
    var url = b.getAttribute("data-url");
    if (b.classList.contains("mt-ack")) { act(b, "POST", url, {}); return; }
    if (b.classList.contains("mt-mute")) { act(b, b.getAttribute("data-method"), url, {}); return; }
    if (b.classList.contains("mt-resolve")) {
      var how = window.prompt(M.text("resolve_prompt"), "");
      if (how === null) { return; }
      act(b, "POST", url, how.trim() ? {comment: how.trim()} : {});
      return;
    }
    var text = window.prompt(M.text("comment_prompt"), "");
    if (text && text.trim()) { act(b, "POST", url, {text: text.trim()}); }
  });

  var form = document.getElementById("mt-comment-form");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = document.getElementById("mt-comment-text").value.trim();
      if (text) { act(form.querySelector("button"), "POST", form.getAttribute("data-url"), {text: text}); }
    });
  }
}());
