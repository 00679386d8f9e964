// A kiosk goes back to its start screen after a while without a touch, so that a half-answered
// form never waits for the next person. Without JavaScript the pages carry a refresh instead.
(function () {
  "use strict";
  var body = document.body;
  var home = body.getAttribute("data-kiosk-home");
  var idle = parseInt(body.getAttribute("data-kiosk-idle"), 10);
  if (!home) {
    return;
  }
  var timer = null;

  function goHome() {
    // Replacing the page keeps the form out of the history: "back" cannot bring it back.
    window.location.replace(home);
  }

  function arm() {
    window.clearTimeout(timer);
    timer = window.setTimeout(goHome, idle * 1000);
  }

  if (idle > 0) {
    ["pointerdown", "keydown", "input", "change", "scroll", "touchstart"].forEach(function (name) {
      document.addEventListener(name, arm, { capture: true, passive: true });
    });
    arm();
  }

  // No long-press menu: it offers to open a link in another tab, or to save or share the page.
  document.addEventListener("contextmenu", function (event) {
    event.preventDefault();
  });

  // A page the browser shows again from its memory (the back button) starts afresh.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      goHome();
    }
  });
})();
