/* Helpers shared by MedTrace's pages (receive, transfer board and detail).
 * Plain JavaScript, no dependencies; exposed as window.MedTrace. */
(function () {
  "use strict";

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

  /* Headers for a JSON POST from a page: JSON content type (even without a
   * body) and the page's CSRF token, which the API checks for cookie sessions. */
  function jsonHeaders() {
    var meta = document.querySelector("meta[name=csrf-token]");
    var headers = {"Content-Type": "application/json", "Accept": "application/json"};
    if (meta && meta.content) { headers["X-CSRFToken"] = meta.content; }
    return headers;
  }

  window.MedTrace = { readJson: readJson, format: format, el: el, jsonHeaders: jsonHeaders };
}());
