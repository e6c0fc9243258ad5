// Reports: the print button, and dates that switch the period to a custom range.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-print]");
    if (button) {
      event.preventDefault();
      window.print();
    }
  });
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches("#report-start, #report-end")) return;
    var period = document.getElementById("report-period");
    if (period) period.value = "custom";
  });
})();
