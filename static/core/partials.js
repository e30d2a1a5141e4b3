// Fragments served by other apps: every `[data-partial-url]` element is filled with the HTML at that same-site URL.
// Scripts the fragment names (same-site only, each once per page) are then loaded in order, and a bubbling
// "partial:loaded" event tells scripts already on the page to wire up what arrived.
(function () {
  "use strict";

  function sameSite(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" && url.charAt(1) !== "\\";
  }

  function loaded(src, inside) {
    return Array.prototype.some.call(document.querySelectorAll("script[src]"), function (s) {
      return !inside.contains(s) && s.getAttribute("src") === src;
    });
  }

  function runScripts(container) {
    var waits = [];
    Array.prototype.forEach.call(container.querySelectorAll("script"), function (inert) {
      var src = inert.getAttribute("src");
      inert.parentNode.removeChild(inert);
      if (!src || !sameSite(src) || loaded(src, container)) { return; }
      var script = document.createElement("script");
      script.src = src;
      script.async = false;  // keep the fragment's order: a library before the code that uses it
      waits.push(new Promise(function (resolve) { script.onload = script.onerror = resolve; }));
      document.body.appendChild(script);
    });
    return Promise.all(waits);
  }

  function load(container) {
    var url = container.dataset.partialUrl;
    if (!sameSite(url)) { return; }
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        if (r.status === 403) { throw new Error("You may not see this panel."); }
        if (!r.ok) { throw new Error("This panel could not be loaded (" + r.status + ")."); }
        return r.text();
      })
      .then(function (html) {
        container.innerHTML = html;
        return runScripts(container);
      })
      .then(function () {
        container.dataset.loaded = "1";
        container.dispatchEvent(new CustomEvent("partial:loaded", { bubbles: true }));
      })
      .catch(function (error) {
        var note = document.createElement("p");
        note.className = "muted small";
        note.textContent = error && error.message ? error.message : "This panel could not be loaded.";
        container.replaceChildren(note);
      });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-partial-url]"), load);
})();
