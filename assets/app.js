// Small progressive enhancements; every page works without this file.
document.addEventListener("change", (e) => {
  const el = e.target;
  if (el instanceof HTMLElement && el.hasAttribute("data-autosubmit") && el.form) {
    el.form.requestSubmit();
  }
});
// Move focus to the error summary so keyboard and screen-reader users hear it.
window.addEventListener("DOMContentLoaded", () => {
  const summary = document.getElementById("form-errors");
  if (summary) {
    summary.setAttribute("tabindex", "-1");
    summary.focus();
  }
});
