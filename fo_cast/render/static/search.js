// Search with Pagefind: the first bundle is loaded, the others merged into it, and each query
// lists its episodes. Without JavaScript the page shows a link to the topics instead.
(function () {
  "use strict";
  var form = document.getElementById("search-form");
  if (!form) return;
  var input = document.getElementById("search-input");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var root = new URL(form.dataset.root, document.baseURI);
  var bundles = form.dataset.bundles.split(" ").filter(Boolean);
  var loading = null;
  var asked = 0;

  function bundle(name) { return new URL("search/" + name + "/", root).href; }

  function load() {
    if (!loading) {
      loading = import(bundle(bundles[0]) + "pagefind.js").then(function (pagefind) {
        return bundles.slice(1).reduce(function (done, name) {
          return done.then(function () { return pagefind.mergeIndex(bundle(name)); });
        }, Promise.resolve()).then(function () { return pagefind; });
      });
    }
    return loading;
  }

  function text(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html;  // Pagefind's excerpt: escaped text with <mark> around matches
    return holder.textContent;
  }

  function show(query) {
    var mine = ++asked;
    if (!query.trim()) { list.replaceChildren(); status.textContent = ""; return; }
    status.textContent = "Searching…";
    load().then(function (pagefind) { return pagefind.search(query); }).then(function (found) {
      return Promise.all(found.results.slice(0, 20).map(function (r) { return r.data(); }));
    }).then(function (results) {
      if (mine !== asked) return;
      list.replaceChildren.apply(list, results.map(function (result) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = new URL(result.url.replace(/^\//, ""), root).href;
        link.textContent = result.meta.title || result.url;
        var excerpt = document.createElement("p");
        excerpt.textContent = text(result.excerpt);
        item.append(link, excerpt);
        return item;
      }));
      var n = results.length;
      status.textContent = n ? n + (n === 1 ? " episode" : " episodes") + " found" : "No episode found";
    }).catch(function () {
      if (mine === asked) status.textContent = "Search could not load; browse the topics instead.";
    });
  }

  var timer = 0;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { show(input.value); }, 200);
  });
  form.addEventListener("submit", function (event) { event.preventDefault(); show(input.value); });
  form.hidden = false;
  form.querySelector("button").hidden = false;
  document.getElementById("search-fallback").hidden = true;
  var query = new URLSearchParams(location.search).get("q");
  if (query) { input.value = query; show(query); }
})();
