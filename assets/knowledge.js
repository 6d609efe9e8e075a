// The ticket page's script panel: "insert into reply" puts the script's
// text into the reply box and records its use without leaving the page
// (without scripts, the form posts and the page comes back).
(function () {
  var panel = document.getElementById("kb-scripts");
  var box = document.getElementById("f-body");
  if (!panel || !box) return;
  panel.querySelectorAll("form.kb-use").forEach(function (f) {
    f.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = f.querySelector("button").dataset.text;
      box.value = box.value ? box.value + "\n" + text : text;
      box.focus();
      var note = function (ok) {
        var s = document.createElement("span");
        s.className = "muted kb-recorded";
        s.textContent = " " + (ok ? panel.dataset.recorded : panel.dataset.failed);
        f.appendChild(s);
      };
      fetch(f.action, { method: "POST", body: new URLSearchParams(new FormData(f)), credentials: "same-origin", redirect: "manual" })
        .then(function (r) { note(r.ok || r.type === "opaqueredirect"); }, function () { note(false); });
    });
  });
})();
