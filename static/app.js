// Gatehouse: small progressive enhancements. Every page works without this
// file; it only saves clicks and keeps the user in place.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Forms marked data-autosubmit apply a changed select at once.
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
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
})();
