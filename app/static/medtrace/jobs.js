/* The Jobs page: retry a failed run, run a schedule now; while a run is going,
 * the page reloads every few seconds so its progress bar moves. */
(function () {
  "use strict";
  var M = window.MedTrace;

  function act(button, url) {
    button.disabled = true;
    var label = button.textContent;
    button.textContent = M.text("working");
    M.post(url, {}).then(function (result) {
      if (result.ok) {
        M.flashAndReload(M.text("queued_done") + " " + (result.data.job_id || "") + " · " + (result.data.state || ""));
        return;
      }
      button.disabled = false;
      button.textContent = label;
      M.showMessage("error", M.errorText(result.status, result.data));
    });
  }

  document.addEventListener("click", function (ev) {
    var button = ev.target.closest ? ev.target.closest("button.mt-retry, button.mt-run-now") : null;
    if (!button) { return; }
    ev.preventDefault();
    act(button, button.getAttribute("data-url"));
  });

  if (document.querySelector('tr[data-job][data-state="started"], #mt-job[data-state="started"]')) {
    window.setTimeout(function () { window.location.reload(); }, 5000);
  }
}());
