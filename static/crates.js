// Crates in the tracks list, on a track's page and on a crate's page.
//
// "Add to crate" forms (form.js-crate-add: a row's +, "Add selected", "Add all N
// matching", a track page's Add) post in place: the answer's words appear in the form's
// status, the ticked rows are cleared, and the page stays where it was. Without this
// script the same forms post and come back. The crate picked is remembered for the tab,
// so new rows (htmx swaps the results) keep it.
//
// On a crate's page the order buttons (button.move) keep the keyboard's place: after htmx
// swaps the rows, the focus goes back to the same button (or its neighbour when that one
// is now disabled or gone), so pressing it again moves the track again. Alt+↑ / Alt+↓ on
// a row move it too.
(function () {
  "use strict";

  var KEY = "crate-target";
  var lastMove = null;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || "";
    } catch (error) {
      return "";
    }
  }

  function status(form, text, failed) {
    var out = form.querySelector(".crate-add-status");
    if (out) {
      out.textContent = text;
      out.classList.toggle("is-error", !!failed);
    }
  }

  function restoreTarget() {
    var chosen = null;
    try {
      chosen = window.sessionStorage.getItem(KEY);
    } catch (error) {
      chosen = null;
    }
    if (!chosen) {
      return;
    }
    var menus = document.querySelectorAll("select.js-crate-target");
    for (var i = 0; i < menus.length; i++) {
      if (menus[i].querySelector('option[value="' + chosen + '"]')) {
        menus[i].value = chosen;
      }
    }
  }

  document.addEventListener("change", function (event) {
    var menu = event.target;
    if (menu instanceof HTMLSelectElement && menu.classList.contains("js-crate-target")) {
      try {
        window.sessionStorage.setItem(KEY, menu.value);
      } catch (error) {
        // Private windows may refuse storage: the menu still works for this page.
      }
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("js-crate-add")) {
      return;
    }
    if (typeof window.fetch !== "function") {
      return; // the plain form post
    }
    event.preventDefault();
    var submitter = event.submitter || null;
    var data = new FormData(form, submitter);
    if (submitter && submitter.name === "go" && !data.getAll("selected").length) {
      status(form, "Tick the rows to add first.", true);
      return;
    }
    if (submitter) {
      submitter.disabled = true;
    }
    status(form, "Adding…", false);
    window
      .fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: new URLSearchParams(data),
      })
      .then(function (response) {
        return response.json().then(function (body) {
          return { ok: response.ok, body: body };
        });
      })
      .then(function (answer) {
        var menu = form.querySelector("select.js-crate-target");
        var name = menu && menu.selectedOptions.length ? menu.selectedOptions[0].text : "the crate";
        if (answer.ok) {
          status(form, name + ": " + answer.body.detail, false);
          if (submitter && submitter.name === "go") {
            var boxes = document.querySelectorAll('input[name="selected"][form="' + form.id + '"]');
            for (var i = 0; i < boxes.length; i++) {
              boxes[i].checked = false;
            }
          }
        } else {
          status(form, answer.body.detail || "Nothing was added.", true);
        }
      })
      .catch(function () {
        status(form, "Crate could not be reached; nothing was added.", true);
      })
      .then(function () {
        if (submitter) {
          submitter.disabled = false;
        }
      });
  });

  // ---- a crate's order buttons

  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var button = event.target;
    if (button instanceof HTMLButtonElement && button.classList.contains("move")) {
      var all = Array.prototype.slice.call(document.querySelectorAll("button." + button.classList[1]));
      lastMove = { id: button.id, kind: button.classList[1], index: all.indexOf(button) };
    }
  });

  document.body.addEventListener("htmx:afterSettle", function () {
    restoreTarget();
    if (!lastMove) {
      return;
    }
    var wanted = document.getElementById(lastMove.id);
    if (!wanted || wanted.disabled) {
      var same = document.querySelectorAll("button." + lastMove.kind + ":not([disabled])");
      wanted = same.length ? same[Math.min(lastMove.index, same.length - 1)] : null;
      if (wanted && wanted.id !== lastMove.id && lastMove.kind !== "move-out") {
        // Top or bottom reached: the row's other order button.
        var row = document.getElementById(lastMove.id.replace(/^(up|down)-/, "out-"));
        wanted = row || wanted;
      }
    }
    lastMove = null;
    if (wanted) {
      wanted.focus();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) {
      return;
    }
    var row = event.target instanceof Element ? event.target.closest("tr") : null;
    var button = row ? row.querySelector(event.key === "ArrowUp" ? "button.move-up" : "button.move-down") : null;
    if (button && !button.disabled) {
      event.preventDefault();
      button.click();
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", restoreTarget);
  } else {
    restoreTarget();
  }
})();
