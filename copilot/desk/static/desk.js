// The desk's only script: keyboard navigation of the review queue and the merge helpers of a conflict.
// Pages work without it; nothing is fetched from anywhere.
(function () {
  "use strict";
  function queueKeys() {
    var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-row]"));
    if (!rows.length) return;
    var current = -1;
    function focusRow(i) {
      if (i < 0 || i >= rows.length) return;
      if (current >= 0) rows[current].classList.remove("current");
      current = i;
      rows[i].classList.add("current");
      rows[i].querySelector("a[data-row-link]").focus();
    }
    rows.forEach(function (row, i) {
      row.querySelector("a[data-row-link]").addEventListener("focus", function () {
        if (current >= 0) rows[current].classList.remove("current");
        current = i; row.classList.add("current");
      });
    });
    document.addEventListener("keydown", function (e) {
      var tag = (e.target && e.target.tagName) || "";
      if (e.altKey || e.ctrlKey || e.metaKey || /INPUT|TEXTAREA|SELECT/.test(tag)) return;
      if (e.key === "j" || e.key === "ArrowDown") { focusRow(Math.min(rows.length - 1, current + 1)); e.preventDefault(); }
      else if (e.key === "k" || e.key === "ArrowUp") { focusRow(Math.max(0, current - 1)); e.preventDefault(); }
    });
  }
  function mergeButtons() {
    document.querySelectorAll("button[data-fill]").forEach(function (button) {
      button.addEventListener("click", function () {
        var target = document.getElementById(button.getAttribute("data-fill"));
        var source = document.getElementById(button.getAttribute("data-from"));
        if (target && source) { target.value = source.textContent; target.focus(); }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { queueKeys(); mergeButtons(); });
}());
