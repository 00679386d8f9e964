// Similar ideas while typing a title. Without JavaScript, the "Check for similar ideas" button
// does the same on the server.
(function () {
  "use strict";
  var input = document.querySelector("[data-similar-url]");
  var box = document.getElementById("similar-ideas");
  if (!input || !box || !window.fetch) {
    return;
  }
  var timer = null;
  var asked = "";

  function show(ideas) {
    box.textContent = "";
    if (!ideas.length) {
      return;
    }
    var heading = document.createElement("p");
    heading.textContent = box.getAttribute("data-heading");
    var list = document.createElement("ul");
    ideas.forEach(function (idea) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = idea.url;
      link.textContent = idea.title;
      link.dir = "auto";
      var state = document.createElement("span");
      state.className = "muted";
      state.textContent = " (" + idea.state + ")";
      item.appendChild(link);
      item.appendChild(state);
      list.appendChild(item);
    });
    box.appendChild(heading);
    box.appendChild(list);
  }

  function ask() {
    var title = input.value.trim();
    if (title === asked) {
      return;
    }
    asked = title;
    if (title.length < 4) {
      show([]);
      return;
    }
    var url = input.getAttribute("data-similar-url") + "?title=" + encodeURIComponent(title);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (ideas) { if (asked === title) { show(ideas); } })
      .catch(function () { /* the button still works */ });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, 300);
  });
})();
