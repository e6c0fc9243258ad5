/* Findings triage: keyboard triage of the table and tidy filter URLs.
 *
 * j / k move the cursor row, x selects it, o or Enter opens it, / focuses the search, and
 * each status key (listed in the table's data-status-keys) sets the cursor row's status
 * through the portal (htmx POST; the server answers the new row). The claim key (the
 * table's data-claim-key) assigns the selected rows, or the cursor row, to oneself; the
 * assign key (data-assign-key) moves to the list of members to assign them to. Keys never fire while
 * typing in a field or with a modifier held; "?" is handled by portal.js. A row whose status
 * changes stays selected, and the selection summary says what a bulk change will touch: the
 * ticked rows, or all findings matching the filters.
 */
(function () {
  "use strict";

  let cursorId = null;
  // Rows being replaced by the server after a status key whose checkbox was ticked: the new
  // row comes back unticked, and the selection would silently lose it.
  const keepSelected = new Set();

  // A ticked checkbox keeps the focus, but nothing is typed into it: the keys still work.
  const NOT_TYPED = ["checkbox", "radio", "button", "submit"];

  function isTyping(target) {
    if (target.tagName === "INPUT") return !NOT_TYPED.includes(target.type);
    return target.isContentEditable || ["SELECT", "TEXTAREA"].includes(target.tagName);
  }

  function table() {
    return document.querySelector("[data-findings-table]");
  }

  function rows() {
    const current = table();
    return current ? Array.from(current.querySelectorAll("tr[data-finding-row]")) : [];
  }

  function cursorRow() {
    return cursorId ? document.getElementById(cursorId) : null;
  }

  function setCursor(row) {
    rows().forEach((r) => {
      r.classList.remove("is-cursor");
      r.removeAttribute("aria-current");
    });
    if (!row) {
      cursorId = null;
      return;
    }
    cursorId = row.id;
    row.classList.add("is-cursor");
    row.setAttribute("aria-current", "true");
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const index = all.indexOf(cursorRow());
    const next = index === -1 ? (step > 0 ? 0 : all.length - 1) : index + step;
    setCursor(all[Math.max(0, Math.min(all.length - 1, next))]);
  }

  function statusKeys() {
    const current = table();
    if (!current || !current.hasAttribute("data-can-triage")) return {};
    try {
      return JSON.parse(current.dataset.statusKeys || "{}");
    } catch (error) {
      return {};
    }
  }

  function setStatus(row, status) {
    if (!row || row.dataset.status === status || typeof htmx === "undefined") return;
    row.setAttribute("aria-busy", "true");
    const box = row.querySelector('input[type="checkbox"][name="finding"]');
    if (box && box.checked) keepSelected.add(row.id);
    htmx.ajax("POST", row.dataset.openUrl, {
      source: row,
      target: row,
      swap: "outerHTML",
      values: { status: status },
    });
  }

  // Assigning acts on the selection: the ticked rows (or all matching), else the cursor row,
  // which is ticked for it. Claiming submits at once; assigning moves to the member list.
  function assignSelection(row, claim) {
    const control = document.querySelector("[data-assign-control]");
    if (!control) return;
    const allMatching = document.getElementById("all-matching");
    const ticked = document.querySelector('input[type="checkbox"][name="finding"]:checked');
    if (!ticked && !(allMatching && allMatching.checked)) {
      const box = row && row.querySelector('input[type="checkbox"][name="finding"]');
      if (!box) return;
      box.checked = true;
      box.dispatchEvent(new Event("change", { bubbles: true }));
    }
    if (claim) {
      const button = control.querySelector("[data-assign-claim]");
      if (button) button.click();
      return;
    }
    const select = control.querySelector("[data-assign-assignee]");
    if (select) {
      select.scrollIntoView({ block: "nearest" });
      select.focus();
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (isTyping(event.target) || document.querySelector("dialog[open]")) return;
    const current = table();
    if (!current) return;
    const row = cursorRow();
    const key = event.key;
    if (key === "j" || key === "k") {
      event.preventDefault();
      move(key === "j" ? 1 : -1);
    } else if (key === "x" && row) {
      const box = row.querySelector('input[type="checkbox"][name="finding"]');
      if (box) {
        event.preventDefault();
        box.checked = !box.checked;
        box.dispatchEvent(new Event("change", { bubbles: true }));
      }
    } else if ((key === "o" || key === "Enter") && row) {
      if (key === "Enter" && event.target.closest("a, button, input")) return;
      event.preventDefault();
      window.location.assign(row.dataset.openUrl);
    } else if (key === "/") {
      const search = document.getElementById("filter-q");
      if (search) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    } else if (key === current.dataset.claimKey || key === current.dataset.assignKey) {
      if (!current.hasAttribute("data-can-triage")) return;
      event.preventDefault();
      assignSelection(row, key === current.dataset.claimKey);
    } else {
      const status = statusKeys()[key];
      if (status && row) {
        event.preventDefault();
        setStatus(row, status);
      }
    }
  });

  // After a row comes back from the server, keep the cursor on it; after the whole table
  // is replaced (new filters or page), start again from the top.
  document.addEventListener("htmx:afterSettle", (event) => {
    const settled = event.target;
    if (settled && settled.id && keepSelected.has(settled.id)) {
      keepSelected.delete(settled.id);
      const box = settled.querySelector('input[type="checkbox"][name="finding"]');
      if (box && !box.checked) {
        box.checked = true;
        box.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }
    const row = cursorRow();
    if (row) setCursor(row);
    else cursorId = null;
    refreshSelectionSummary();
  });

  // "All N matching" replaces the ticked rows as what a bulk change touches; the summary
  // says so instead of counting rows.
  function refreshSelectionSummary() {
    const rowsSummary = document.getElementById("selection-rows");
    const allSummary = document.getElementById("selection-all");
    if (!rowsSummary || !allSummary) return;
    const allMatching = document.getElementById("all-matching");
    const everything = Boolean(allMatching && allMatching.checked);
    rowsSummary.hidden = everything;
    allSummary.hidden = !everything;
  }

  document.addEventListener("change", (event) => {
    if (event.target && event.target.id === "all-matching") refreshSelectionSummary();
  });
  document.addEventListener("DOMContentLoaded", refreshSelectionSummary);
  // The browser restores ticked boxes when the page is reached with the back button.
  window.addEventListener("pageshow", refreshSelectionSummary);

  // Leave empty filters out of the URL so shared links stay short and readable.
  document.addEventListener("htmx:configRequest", (event) => {
    const source = event.detail.elt;
    if (!source || source.id !== "findings-filters") return;
    const parameters = event.detail.parameters;
    const names = typeof parameters.keys === "function" ? Array.from(parameters.keys()) : Object.keys(parameters);
    names.forEach((name) => {
      const values = typeof parameters.getAll === "function" ? parameters.getAll(name) : [parameters[name]];
      if (values.every((value) => value === "" || value === undefined || value === null)) {
        if (typeof parameters.delete === "function") parameters.delete(name);
        else delete parameters[name];
      }
    });
  });

  // The grouped page: a rule's "Actions" opens the page's one actions dialog for that rule.
  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-group-action]");
    const dialog = document.getElementById("group-actions-dialog");
    if (!opener || !dialog) return;
    event.preventDefault();
    dialog.querySelector("[data-group-filter-query]").value = opener.dataset.filterQuery;
    dialog.querySelector("[data-group-check-id]").textContent = opener.dataset.checkId;
    dialog.querySelector("[data-group-total]").textContent = opener.dataset.total;
    dialog.querySelector("[data-group-preview]").replaceChildren();
    if (!dialog.open) dialog.showModal();
  });
})();
