// Reports: the print button; dates that switch the period to a custom range; and, after the
// report is swapped in, filter fields that show what the server actually reported on.
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
    if (!event.target.matches("#report-start, #report-end")) return;
    var period = document.getElementById("report-period");
    if (period) period.value = "custom";
  });
  document.addEventListener("htmx:afterSettle", function () {
    var report = document.getElementById("report");
    if (!report) return;
    var fields = {
      "report-period": report.dataset.period,
      "report-start": report.dataset.start,
      "report-end": report.dataset.end,
      "report-repository": report.dataset.repository,
      "report-owner": report.dataset.owner,
      "report-coverage": report.dataset.coverageDays,
    };
    Object.keys(fields).forEach(function (id) {
      var field = document.getElementById(id);
      if (field && fields[id] !== undefined) field.value = fields[id];
    });
  });
})();
