// A button marked data-ss-print prints the page (the decision record's Print button).
// One listener on the document, not an onclick attribute: the Content Security Policy runs
// no inline script, and the listener works however the page came to be in the document
// (a full load or one of Turbo's). Turbo keeps this script loaded across its visits, so it
// is added once only.
(function () {
  "use strict";
  if (window.safesharePrintButtons) {
    return;
  }
  window.safesharePrintButtons = true;
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target instanceof Element && target.closest("[data-ss-print]")) {
      window.print();
    }
  });
})();
