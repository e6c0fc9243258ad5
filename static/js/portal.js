/*
 * Small behaviours shared by every page. Loaded once from base.html after htmx.
 *
 * The Content-Security-Policy forbids inline scripts and eval, so pages never carry
 * onclick= or hx-on; they declare intent with data- attributes and this file reacts.
 * Everything is delegated from document (clicks, changes, submits) or run through
 * htmx.onLoad, so content swapped in by htmx behaves the same as the first page load.
 */
(function () {
  "use strict";

  const TOAST_LIFETIME_MS = 6000;
  const RELATIVE_TIME_REFRESH_MS = 10000;

  /* Toasts ------------------------------------------------------------------------------ */

  function dismissToast(toast) {
    if (toast.dataset.leaving) return;
    toast.dataset.leaving = "1";
    toast.classList.add("is-leaving");
    window.setTimeout(() => toast.remove(), 250);
  }

  // The countdown pauses while the pointer or keyboard focus is on the toast, so a reader
  // is never cut off mid-sentence (WCAG 2.2.1).
  function armToast(toast) {
    if (toast.dataset.toastArmed) return;
    toast.dataset.toastArmed = "1";
    if (!toast.querySelector(".toast-close")) {
      const close = document.createElement("button");
      close.type = "button";
      close.className = "toast-close";
      close.setAttribute("aria-label", "Dismiss");
      close.textContent = "\u00d7";
      toast.append(close);
    }
    if (toast.hasAttribute("data-toast-persist")) return;
    let remaining = TOAST_LIFETIME_MS;
    let startedAt = 0;
    let timer = 0;
    const start = () => {
      startedAt = Date.now();
      timer = window.setTimeout(() => dismissToast(toast), remaining);
    };
    const pause = () => {
      window.clearTimeout(timer);
      remaining = Math.max(1000, remaining - (Date.now() - startedAt));
    };
    toast.addEventListener("mouseenter", pause);
    toast.addEventListener("mouseleave", start);
    toast.addEventListener("focusin", pause);
    toast.addEventListener("focusout", start);
    start();
  }

  document.addEventListener("click", (event) => {
    const close = event.target.closest(".toast-close");
    if (close) {
      const toast = close.closest(".toast");
      if (toast) dismissToast(toast);
    }
  });

  /* Menus (<details class="menu">) -------------------------------------------------------- */

  function closeMenus(except) {
    document.querySelectorAll("details.menu[open]").forEach((menu) => {
      if (menu !== except && !menu.contains(except)) menu.removeAttribute("open");
    });
  }

  document.addEventListener("click", (event) => {
    const inside = event.target.closest("details.menu");
    closeMenus(inside);
  });

  // Opening one menu closes the others ("toggle" does not bubble, hence capture).
  document.addEventListener(
    "toggle",
    (event) => {
      const menu = event.target;
      if (menu.matches && menu.matches("details.menu") && menu.open) closeMenus(menu);
    },
    true,
  );

  /* Keyboard: Escape closes menus, "?" opens the shortcuts dialog ------------------------ */

  function isTyping(target) {
    return (
      target.isContentEditable ||
      ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName)
    );
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      const open = document.querySelectorAll("details.menu[open]");
      if (open.length) {
        const current = event.target.closest("details.menu[open]") || open[0];
        open.forEach((menu) => menu.removeAttribute("open"));
        const summary = current.querySelector("summary");
        if (summary) summary.focus();
      }
      return;
    }
    if (event.key === "?" && !event.ctrlKey && !event.metaKey && !event.altKey && !isTyping(event.target)) {
      const dialog = document.querySelector("dialog.shortcuts");
      if (dialog && !dialog.open) {
        event.preventDefault();
        dialog.showModal();
      }
    }
  });

  // <button data-open-dialog="some-id"> opens <dialog id="some-id">.
  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-open-dialog]");
    if (!opener) return;
    const dialog = document.getElementById(opener.dataset.openDialog);
    if (dialog && typeof dialog.showModal === "function" && !dialog.open) {
      event.preventDefault();
      dialog.showModal();
    }
  });

  /* Select all / selected count --------------------------------------------------------- */

  // A form's elements include checkboxes tied to it with form="…" from outside its markup,
  // which is how a table row's checkbox joins a bulk-action form above the table.
  function checkboxesNamed(name, scope) {
    const root = scope || document;
    const candidates = root instanceof HTMLFormElement ? root.elements : root.querySelectorAll("input");
    return Array.from(candidates).filter(
      (box) => box.type === "checkbox" && box.name === name && !box.hasAttribute("data-select-all"),
    );
  }

  function scopeOf(master) {
    return master.form || master.closest("[data-select-scope]") || document;
  }

  function refreshSelection(name, scope) {
    const boxes = checkboxesNamed(name, scope);
    const checked = boxes.filter((box) => box.checked && !box.disabled);
    boxes.forEach((box) => {
      const row = box.closest("tr");
      if (row) row.classList.toggle("is-selected", box.checked);
    });
    document.querySelectorAll("[data-select-all]").forEach((master) => {
      if (master.dataset.selectAll !== name) return;
      const enabled = boxes.filter((box) => !box.disabled);
      master.checked = enabled.length > 0 && checked.length === enabled.length;
      master.indeterminate = checked.length > 0 && checked.length < enabled.length;
    });
    document.querySelectorAll("[data-selected-count]").forEach((counter) => {
      const target = counter.dataset.selectedCount;
      if (!target || target === name) counter.textContent = String(checked.length);
    });
    document.querySelectorAll("[data-requires-selection]").forEach((control) => {
      const target = control.dataset.requiresSelection;
      if (!target || target === name) control.disabled = checked.length === 0;
    });
  }

  document.addEventListener("change", (event) => {
    const box = event.target;
    if (box.type !== "checkbox") return;
    if (box.hasAttribute("data-select-all")) {
      const name = box.dataset.selectAll;
      checkboxesNamed(name, scopeOf(box)).forEach((other) => {
        if (!other.disabled) other.checked = box.checked;
      });
      refreshSelection(name, scopeOf(box));
      return;
    }
    const master = document.querySelector(`[data-select-all="${CSS.escape(box.name)}"]`);
    if (master) refreshSelection(box.name, scopeOf(master));
  });

  function refreshAllSelections() {
    document.querySelectorAll("[data-select-all]").forEach((master) => {
      refreshSelection(master.dataset.selectAll, scopeOf(master));
    });
  }

  /* Relative times ------------------------------------------------------------------------ */

  const UNITS = [
    [60, "s", 1],
    [3600, "min", 60],
    [86400, "h", 3600],
    [86400 * 30, "d", 86400],
  ];

  function relativeText(date, now) {
    const seconds = Math.round((now - date.getTime()) / 1000);
    const magnitude = Math.abs(seconds);
    if (magnitude < 5) return "just now";
    for (const [limit, unit, size] of UNITS) {
      if (magnitude < limit) {
        const amount = Math.floor(magnitude / size);
        return seconds >= 0 ? `${amount} ${unit} ago` : `in ${amount} ${unit}`;
      }
    }
    return null; // older than a month: the server-rendered absolute date reads better
  }

  function refreshTimes(root) {
    const now = Date.now();
    (root || document).querySelectorAll("time[datetime][data-relative]").forEach((time) => {
      const date = new Date(time.getAttribute("datetime"));
      if (Number.isNaN(date.getTime())) return;
      if (!time.dataset.absolute) {
        time.dataset.absolute = time.textContent.trim() || date.toLocaleString();
        if (!time.title) time.title = time.dataset.absolute;
      }
      time.textContent = relativeText(date, now) || time.dataset.absolute;
    });
  }

  window.setInterval(() => refreshTimes(document), RELATIVE_TIME_REFRESH_MS);

  /* Initialisation for the first page and for every htmx swap ------------------------- */

  function initialise(root) {
    const scope = root && root.querySelectorAll ? root : document;
    const toasts = Array.from(scope.querySelectorAll(".toast"));
    if (scope.matches && scope.matches(".toast")) toasts.push(scope);
    toasts.forEach(armToast);
    refreshTimes(scope.parentNode || document);
    refreshAllSelections();
  }

  if (window.htmx && typeof window.htmx.onLoad === "function") {
    window.htmx.onLoad(initialise);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => initialise(document));
  } else {
    initialise(document);
  }
})();
