/* MedTrace transfer entry (新建调拨单). Plain JavaScript; common.js and
 * order_lines.js (the lines, by scan or product search) before it.
 *
 * "Save draft" creates the transfer (POST /api/v1/transfers/) or replaces it
 * (PUT /api/v1/transfers/<name>); "Submit" saves, then takes the workflow's
 * submit action (POST /api/v1/transfers/<name>/actions/submit). */
(function () {
  "use strict";

  var M = window.MedTrace;
  function $(id) { return document.getElementById(id); }
  function text(key, values) { return M.text(key, values); }

  var root = $("mt-entry");
  if (!root) { return; }
  var source = $("mt-from"), destination = $("mt-to"), priority = $("mt-priority"),
      needed = $("mt-needed"), reason = $("mt-reason"), note = $("mt-note"),
      saveButton = $("mt-save"), submitButton = $("mt-submit");

  var draft = M.readJson("mt-draft", null);
  var name = draft ? draft.name : "";
  var busy = false, dirty = false;
  var lines = M.orderLines({source: source, onChange: function () { dirty = true; }});

  function payload(items) {
    var out = {from_warehouse: source.value, to_warehouse: destination.value, priority: priority.value,
               requested_date: needed.value || null, reason_code: reason.value || null,
               reason: note.value.trim() || null, lines: items};
    if (!name) {  // creating: what is empty is left out
      Object.keys(out).forEach(function (k) { if (out[k] === null) { delete out[k]; } });
    }
    return out;
  }

  /* The page's own checks, in the user's language, before anything is sent. */
  function collect() {
    var problem = null;
    if (!source.value) { problem = [text("need_source"), source]; }
    else if (!destination.value) { problem = [text("need_destination"), destination]; }
    else if (source.value === destination.value) { problem = [text("same_warehouse"), destination]; }
    else if (!lines.count()) { problem = [text("need_lines"), $("mt-scan")]; }
    if (problem) { M.showError(problem[0]); problem[1].focus(); return null; }
    var items = lines.values(function (n, input) {
      M.showError(text("bad_quantity", {n: n}));
      input.focus();
    });
    return items && payload(items);
  }

  function setBusy(on) {
    busy = on;
    saveButton.disabled = submitButton.disabled = on;
    root.setAttribute("aria-busy", on ? "true" : "false");
  }

  /* The saved transfer becomes the one this page edits, so saving again never makes a second one. */
  function adopt(saved) {
    name = saved.name;
    root.setAttribute("data-name", name);
    lines.setIds(saved.lines || []);
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", "/transfers/" + encodeURIComponent(name) + "/edit/");
    }
  }

  function save(andSubmit) {
    if (busy) { return; }
    M.hideMessage();
    var body = collect();
    if (!body) { return; }
    setBusy(true);
    var request = name ? M.send("PUT", "/api/v1/transfers/" + encodeURIComponent(name), body)
                       : M.post("/api/v1/transfers/", body);
    request.then(function (r) {
      if (!r.ok) {
        setBusy(false);
        M.showError(M.withHead(text("not_saved"), M.refusal(r)));
        return;
      }
      adopt(r.data);
      dirty = false;
      var detail = "/transfers/" + encodeURIComponent(name) + "/";
      if (!andSubmit) { M.flashAndGo(text("saved", {name: name}), detail); return; }
      M.post("/api/v1/transfers/" + encodeURIComponent(name) + "/actions/submit", {}).then(function (s) {
        if (s.ok) {
          M.flashAndGo(text("submitted", {name: name}) + " → " + (s.data.state_label || s.data.state), detail);
          return;
        }
        setBusy(false);
        M.showError(text("saved_not_submitted", {name: name}) + ": " + M.refusal(s));
      });
    });
  }

  /* A transfer never goes to where it leaves from: that destination is not offered. */
  function excludeSource() {
    for (var i = 0; i < destination.options.length; i++) {
      var option = destination.options[i];
      option.disabled = !!option.value && option.value === source.value;
    }
    if (destination.value && destination.value === source.value) { destination.value = ""; }
  }
  source.addEventListener("change", excludeSource);
  excludeSource();

  saveButton.addEventListener("click", function () { save(false); });
  submitButton.addEventListener("click", function () { save(true); });
  [source, destination, priority, needed, reason, note].forEach(function (input) {
    input.addEventListener("change", function () { dirty = true; });
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirty && !busy) { event.preventDefault(); event.returnValue = text("leave"); }
  });

  if (draft) {
    draft.lines.forEach(function (l) { lines.addLine(l.product, l); });
  }
  (destination.value ? $("mt-scan") : destination).focus();
}());
