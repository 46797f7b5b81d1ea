// Gatehouse: small progressive enhancements. Every page works without this
// file; it only saves clicks and keeps the user in place.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // A signed-in page restored from the back/forward cache may be stale, or
  // shown after logout: mark it stale (the CSS hides it) and load it afresh,
  // which after a logout leads to the login page.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && document.querySelector('form[action="/logout"]')) {
      document.documentElement.setAttribute("data-stale", "");
      window.location.reload();
    }
  });

  // Times in the viewer's time zone: the server writes them in UTC, and
  // says so; here each becomes the browser's local time with its zone's
  // short name (10:43 CET), the UTC kept in the tooltip. Without Intl's
  // zone names (or a zone it cannot name) the UTC text stays.
  var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function localTimes(root) {
    var zoneFmt;
    try {
      zoneFmt = new Intl.DateTimeFormat("en-GB", { timeZoneName: "short" });
    } catch (e) { return; }
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (isNaN(at.getTime())) { return; }
      var zonePart = zoneFmt.formatToParts(at).find(function (x) { return x.type === "timeZoneName"; });
      var date = el.querySelector(".date"), time = el.querySelector(".time");
      if (!zonePart || !date || !time) { return; }
      // The same form as the server's (2 Jan 2006, 15:04), in local time.
      date.textContent = at.getDate() + " " + months[at.getMonth()] + " " + at.getFullYear();
      var tz = document.createElement("span");
      tz.className = "tz";
      tz.textContent = zonePart.value;
      time.replaceChildren(two(at.getHours()) + ":" + two(at.getMinutes()) + " ", tz);
      el.removeAttribute("data-local");
    });
  }
  localTimes(document);

  // A page that answers a POST (a step of the Add wizard with errors) names
  // the address a GET shows it at: put it in the address bar, so that
  // Reload and Back load that page instead of sending the form again.
  var here = document.querySelector("[data-location]");
  if (here && window.history.replaceState) {
    window.history.replaceState(window.history.state, "", here.getAttribute("data-location"));
  }

  // Forms marked data-autosubmit apply a changed select at once, and leave
  // their empty fields out of the URL.
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("input[name], select[name]").forEach(function (el) {
        if (el.value === "") { el.disabled = true; }
      });
    });
    form.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", function () {
        if (form.requestSubmit) {
          form.requestSubmit();
        } else {
          form.submit();
        }
      });
    });
  });

  function announce(text) {
    var status = document.getElementById("copy-status");
    if (status) {
      status.textContent = "";
      window.setTimeout(function () { status.textContent = text; }, 50);
    }
  }

  function flash(button, text) {
    var original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = text;
    window.setTimeout(function () { button.textContent = original; }, 1600);
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  // Copy buttons for text already on the page.
  document.querySelectorAll("[data-copy-from]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.querySelector(button.dataset.copyFrom);
      if (!source) { return; }
      copyText(source.textContent.trim()).then(function () {
        flash(button, "Copied");
        announce("Copied to the clipboard.");
      }, function () {
        announce("The browser did not allow copying.");
      });
    });
  });

  // Fetching a token value: a POST with the CSRF token, answered with JSON.
  // The server records every fetch in the audit trail.
  function fetchValue(url, csrf, purpose) {
    var body = new URLSearchParams();
    body.set("_csrf", csrf);
    body.set("purpose", purpose);
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf }
    }).then(function (res) {
      if (!res.ok) { throw new Error("HTTP " + res.status); }
      return res.json();
    }).then(function (data) { return data.value; });
  }

  document.querySelectorAll("form[data-reveal]").forEach(function (form) {
    var box = form.closest("[data-secret]");
    var code = box && box.querySelector(".secret");
    if (!code) { return; }
    var hide = document.createElement("button");
    hide.type = "button";
    hide.className = "btn btn-sm";
    hide.textContent = "Hide";
    hide.hidden = true;
    form.after(hide);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var csrf = form.querySelector("input[name=_csrf]").value;
      fetchValue(form.action, csrf, "show").then(function (value) {
        code.textContent = value;
        form.hidden = true;
        hide.hidden = false;
        hide.focus();
        announce("The token value is shown.");
      }, function () {
        announce("The value could not be fetched. Reload the page and try again.");
      });
    });
    hide.addEventListener("click", function () {
      code.textContent = code.dataset.masked;
      hide.hidden = true;
      form.hidden = false;
      form.querySelector("button").focus();
      announce("The token value is hidden.");
    });
  });

  document.querySelectorAll("[data-copy-secret]").forEach(function (button) {
    button.addEventListener("click", function () {
      fetchValue(button.dataset.copySecret, button.dataset.csrf, "copy").then(copyText).then(function () {
        flash(button, "Copied");
        announce("The token value was copied to the clipboard.");
      }, function () {
        announce("The value could not be copied.");
      });
    });
  });

  // ••• and ▾ menus: <details> disclosures that work without JavaScript.
  // Here they gain arrow keys, Home/End, Esc (closes and returns focus to
  // the trigger), and close when focus or a click goes elsewhere.
  var menus = Array.prototype.slice.call(document.querySelectorAll("details[data-menu]"));
  function menuItems(menu) {
    return Array.prototype.slice.call(menu.querySelectorAll(".menu-list a, .menu-list button"));
  }
  function closeMenu(menu, focusTrigger) {
    if (!menu.open) { return; }
    menu.open = false;
    if (focusTrigger) { menu.querySelector("summary").focus(); }
  }
  menus.forEach(function (menu) {
    var summary = menu.querySelector("summary");
    summary.setAttribute("aria-haspopup", "true");
    summary.setAttribute("aria-expanded", "false");
    menu.addEventListener("toggle", function () {
      summary.setAttribute("aria-expanded", menu.open ? "true" : "false");
      if (menu.open) {
        menus.forEach(function (other) { if (other !== menu) { closeMenu(other, false); } });
        var items = menuItems(menu);
        if (items.length) { items[0].focus(); }
      }
    });
    summary.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" && !menu.open) {
        event.preventDefault();
        menu.open = true;
      }
    });
    menu.addEventListener("keydown", function (event) {
      var items = menuItems(menu);
      var i = items.indexOf(document.activeElement);
      switch (event.key) {
        case "Escape":
          if (menu.open) {
            event.preventDefault();
            event.stopPropagation();
            closeMenu(menu, true);
          }
          return;
        case "ArrowDown":
          if (!menu.open) { return; }
          event.preventDefault();
          items[(i + 1) % items.length].focus();
          return;
        case "ArrowUp":
          if (!menu.open) { return; }
          event.preventDefault();
          items[(i - 1 + items.length) % items.length].focus();
          return;
        case "Home":
          if (menu.open) { event.preventDefault(); items[0].focus(); }
          return;
        case "End":
          if (menu.open) { event.preventDefault(); items[items.length - 1].focus(); }
          return;
        case "Tab":
          closeMenu(menu, false);
          return;
      }
    });
  });
  document.addEventListener("click", function (event) {
    menus.forEach(function (menu) {
      if (!menu.contains(event.target)) { closeMenu(menu, false); }
    });
  });

  // Confirmations as modal dialogs: the confirmation page's section is
  // fetched and shown in a <dialog>, which keeps focus inside and closes with
  // Esc. If anything fails, the link simply opens the page.
  var dialog = null;
  var returnFocus = null;
  var staleTarget = null; // the confirmation's path, to find its token's menu after a reload
  var refocusKey = "gatehouse.refocus";
  (function refocusAfterReload() {
    var path;
    try { path = sessionStorage.getItem(refocusKey); sessionStorage.removeItem(refocusKey); } catch (e) { return; }
    if (path === null) { return; }
    var id = path.split("/")[3]; // /settings/api-tokens/{id}/…
    var link = id && document.querySelector('details[data-menu] a[href^="/settings/api-tokens/' + id + '/"]');
    var summary = link && link.closest("details[data-menu]").querySelector("summary");
    if (summary) { summary.focus(); }
  })();
  function ensureDialog() {
    if (dialog) { return dialog; }
    dialog = document.createElement("dialog");
    dialog.className = "dialog";
    dialog.setAttribute("aria-labelledby", "confirm-title");
    document.body.appendChild(dialog);
    dialog.addEventListener("close", function () {
      // A confirmation that found the token changed since this page was
      // shown (already Disabled, deleted: someone acted first) leaves the
      // page stale: reload it, and give the focus back to the same token's
      // menu there.
      var stale = dialog.querySelector("section[data-stale]");
      dialog.replaceChildren();
      if (stale) {
        try { sessionStorage.setItem(refocusKey, staleTarget || ""); } catch (e) { /* private mode */ }
        window.location.reload();
        return;
      }
      if (returnFocus && document.contains(returnFocus)) { returnFocus.focus(); }
    });
    dialog.addEventListener("click", function (event) {
      var cancel = event.target.closest("[data-cancel]");
      if (cancel) {
        event.preventDefault();
        dialog.close();
      } else if (event.target === dialog) {
        dialog.close(); // a click on the backdrop
      }
    });
    return dialog;
  }
  function openConfirm(url, trigger, fallback) {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (res) { return res.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var section = doc.querySelector("section[data-confirm]");
        if (!section) { throw new Error("no confirmation in the page"); }
        var d = ensureDialog();
        returnFocus = trigger;
        staleTarget = new URL(url, window.location.href).pathname;
        d.replaceChildren(document.importNode(section, true));
        localTimes(d);
        d.showModal();
        // The focus goes where two presses of Enter cannot destroy
        // anything: a Disable's reason, single or bulk (Ctrl+Enter there
        // confirms), the Cancel of a Delete, else the confirming button.
        var risky = d.querySelector(".btn-danger") || d.querySelector('input[name="action"][value="disable"]');
        var first = d.querySelector("textarea#reason") || (risky && d.querySelector("[data-cancel]"))
          || d.querySelector("button[type=submit]") || d.querySelector("[data-cancel]");
        if (first) { first.focus({ preventScroll: true }); }
        d.scrollTop = 0;
      })
      .catch(fallback);
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-dialog]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) { return; }
    event.preventDefault();
    var menu = link.closest("details[data-menu]");
    var trigger = menu ? menu.querySelector("summary") : link;
    if (menu) { menu.open = false; }
    openConfirm(link.href, trigger, function () { window.location.href = link.href; });
  });

  // Bulk actions: select all, a live count, and the confirmation in a dialog.
  var bulk = document.getElementById("bulk");
  if (bulk) {
    var boxes = Array.prototype.slice.call(document.querySelectorAll('input[name="ids"][form="bulk"]'));
    var all = document.querySelector("[data-select-all]");
    var count = bulk.querySelector("[data-bulk-count]");
    var update = function () {
      var n = boxes.filter(function (b) { return b.checked; }).length;
      if (all) {
        all.checked = n > 0 && n === boxes.length;
        all.indeterminate = n > 0 && n < boxes.length;
      }
      if (count) { count.textContent = n === 0 ? "Select tokens for a bulk action:" : n + " selected:"; }
      bulk.classList.toggle("has-selection", n > 0);
      bulk.querySelectorAll("button[name=action]").forEach(function (b) {
        b.setAttribute("aria-disabled", n === 0 ? "true" : "false");
      });
    };
    boxes.forEach(function (b) { b.addEventListener("change", update); });
    if (all) {
      all.addEventListener("change", function () {
        boxes.forEach(function (b) { b.checked = all.checked; });
        update();
      });
    }
    update();
    bulk.addEventListener("submit", function (event) {
      var params = new URLSearchParams(new FormData(bulk));
      if (event.submitter && event.submitter.name) {
        params.set(event.submitter.name, event.submitter.value);
      }
      event.preventDefault();
      if (!params.getAll("ids").length) {
        if (count) { count.textContent = "Select one or more tokens first:"; }
        return;
      }
      var url = bulk.getAttribute("action") + "?" + params.toString();
      openConfirm(url, event.submitter || bulk, function () { window.location.href = url; });
    });
  }

  // Filter boxes over a list (the modules of the Add and Edit forms).
  document.querySelectorAll("[data-filter-list]").forEach(function (input) {
    var list = document.querySelector(input.dataset.filterList);
    if (!list) { return; }
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); }
    });
    // A line that says so when nothing matches, announced politely.
    var none = document.createElement("p");
    none.className = "filter-empty";
    none.setAttribute("role", "status");
    list.after(none);
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      var shown = 0;
      list.querySelectorAll("[data-filter-text]").forEach(function (item) {
        item.hidden = q !== "" && item.dataset.filterText.toLowerCase().indexOf(q) < 0;
        if (!item.hidden) { shown++; }
      });
      list.hidden = shown === 0;
      none.textContent = shown === 0 ? "No module matches." : "";
    });
  });

  // Ctrl+Enter (or Cmd+Enter) in a confirmation's reason confirms.
  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey) || !field.matches || !field.matches("section[data-confirm] textarea")) { return; }
    var submit = field.form && field.form.querySelector("button[type=submit]");
    if (submit) { event.preventDefault(); submit.click(); }
  });
})();
