// Fix pages: instruction templates, "viewed" marks that fold a file, line numbers that aim
// the file's comment form. Declared with data- attributes; no inline handlers (strict CSP).
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var fill = event.target.closest("[data-fill-target]");
    if (fill) {
      var target = document.getElementById(fill.getAttribute("data-fill-target"));
      if (target) {
        target.value = fill.getAttribute("data-fill-text");
        target.focus();
      }
      return;
    }
    var lineButton = event.target.closest("[data-comment-line]");
    if (lineButton) {
      var index = lineButton.getAttribute("data-comment-file");
      var line = document.getElementById("comment-line-" + index);
      var side = document.getElementById("comment-side-" + index);
      var body = document.getElementById("comment-body-" + index);
      var box = document.getElementById("comment-box-" + index);
      if (box) box.open = true;
      if (line && side && body) {
        line.value = lineButton.getAttribute("data-comment-line");
        side.value = lineButton.getAttribute("data-comment-side");
        body.focus();
      }
    }
  });

  document.addEventListener("change", function (event) {
    var toggle = event.target.closest("[data-viewed-toggle]");
    if (!toggle) return;
    var wrap = toggle.closest(".diff-file-wrap");
    var file = wrap && wrap.querySelector("details.diff-file");
    if (file && toggle.checked) file.open = false;
    var count = document.querySelector("[data-viewed-count]");
    if (count) {
      count.textContent = String(document.querySelectorAll("[data-viewed-toggle]:checked").length);
    }
  });
})();
