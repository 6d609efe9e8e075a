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
// The segment builder and the rule-tag form: the matching count follows
// the fields as they change (the preview button shows the members).
window.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-live-count]");
  const out = document.getElementById("live-count");
  const note = document.getElementById("live-note");
  if (!form || !out) return;
  let timer = 0;
  let asked = 0;
  const skip = new Set(["_csrf", "action", "name", "segment_id", "enabled"]);
  const refresh = async () => {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) {
      if (!skip.has(k) && typeof v === "string" && v.trim() !== "") q.append(k, v);
    }
    const mine = ++asked;
    try {
      const r = await fetch("/segments/builder/count?" + q.toString(), { headers: { Accept: "application/json" } });
      const body = await r.json();
      if (mine !== asked) return;
      if (r.ok) {
        out.textContent = String(body.total);
        if (note) note.textContent = "";
      } else {
        out.textContent = "—";
        if (note) note.textContent = (body.errors || []).map((e) => e.message).join("；");
      }
    } catch (_) {
      /* the preview button still works */
    }
  };
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 350);
  };
  form.addEventListener("input", later);
  form.addEventListener("change", later);
});
// Ticket queues: j / k move through the rows, Enter (or o) opens one, n
// starts a new ticket; a click anywhere on a row opens it.
window.addEventListener("DOMContentLoaded", () => {
  const table = document.querySelector("table[data-queue]");
  const rows = table ? Array.from(table.querySelectorAll("tbody tr[data-href]")) : [];
  let at = -1;
  const mark = (i) => {
    if (!rows.length) return;
    at = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, k) => r.classList.toggle("tk-current", k === at));
    rows[at].scrollIntoView({ block: "nearest" });
  };
  rows.forEach((r) =>
    r.addEventListener("click", (e) => {
      if (!(e.target instanceof Element) || !e.target.closest("a, button")) window.location.href = r.dataset.href;
    }),
  );
  const newLink = document.querySelector("[data-key='n']");
  if (!rows.length && !newLink) return;
  document.addEventListener("keydown", (e) => {
    const el = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (el instanceof HTMLElement && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName))) return;
    if (e.key === "j") mark(at + 1);
    else if (e.key === "k") mark(at - 1);
    else if ((e.key === "Enter" || e.key === "o") && at >= 0) window.location.href = rows[at].dataset.href;
    else if (e.key === "n" && newLink instanceof HTMLAnchorElement) window.location.href = newLink.href;
    else return;
    e.preventDefault();
  });
});

// The ticket page: r puts the cursor in the reply box.
window.addEventListener("DOMContentLoaded", () => {
  const reply = document.querySelector("textarea[data-key='r']");
  if (!(reply instanceof HTMLTextAreaElement)) return;
  document.addEventListener("keydown", (e) => {
    const el = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey || e.key !== "r") return;
    if (el instanceof HTMLElement && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName))) return;
    e.preventDefault();
    reply.focus();
    reply.scrollIntoView({ block: "center" });
  });
});
