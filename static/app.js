// Gatehouse: small progressive enhancements. Every page works without this
// file; it only saves clicks.
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
})();
