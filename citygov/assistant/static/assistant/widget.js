/* citygov citizen-assistant widget. No dependencies. Mounts on every [data-citygov-assistant] element.
   Attributes: data-endpoint (ask URL), data-feedback (feedback URL), data-channel (page|widget),
   data-floating (a button that opens a dialog), data-label-* (texts; zh-Hant defaults). */
(function () {
  "use strict";
  var DEFAULTS = {
    open: "詢問市政小幫手", close: "關閉", question: "您的問題", send: "送出", log: "對話內容",
    suggest: "您是不是想問：", up: "有幫助", down: "沒有幫助", thanks: "感謝您的回饋。",
    error: "小幫手暫時無法使用，請撥打 1999。", busy: "提問太頻繁，請稍候一分鐘再試。"
  };
  function label(root, key) { return root.getAttribute("data-label-" + key) || DEFAULTS[key]; }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }
  function mount(root) {
    var endpoint = root.getAttribute("data-endpoint");
    var feedbackUrl = root.getAttribute("data-feedback");
    var channel = root.getAttribute("data-channel") || "widget";
    var conversation = null;
    var panel = el("div", "cg-assistant-panel");
    var log = el("div", "cg-assistant-log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-label", label(root, "log"));
    log.tabIndex = 0;
    var form = el("form", "cg-assistant-form");
    var inputId = "cg-assistant-q-" + Math.random().toString(36).slice(2, 8);
    var lab = el("label", "cg-assistant-label", label(root, "question"));
    lab.htmlFor = inputId;
    var input = el("input", "cg-assistant-input");
    input.id = inputId; input.type = "text"; input.maxLength = 500; input.autocomplete = "off"; input.required = true;
    var button = el("button", "cg-assistant-send", label(root, "send"));
    button.type = "submit";
    form.appendChild(lab); form.appendChild(input); form.appendChild(button);
    panel.appendChild(log); panel.appendChild(form);

    function say(who, text) {
      var item = el("div", "cg-assistant-msg cg-assistant-" + who);
      text.split("\n").forEach(function (line, i) {
        if (i) item.appendChild(document.createElement("br"));
        item.appendChild(document.createTextNode(line));
      });
      log.appendChild(item);
      log.scrollTop = log.scrollHeight;
      return item;
    }
    function feedback(item, turn) {
      var bar = el("div", "cg-assistant-feedback");
      [[1, "up"], [-1, "down"]].forEach(function (spec) {
        var b = el("button", "cg-assistant-thumb", label(root, spec[1]));
        b.type = "button";
        b.addEventListener("click", function () {
          post(feedbackUrl, {conversation: conversation, turn: turn, value: spec[0]}).then(function () {
            bar.textContent = label(root, "thanks");
          });
        });
        bar.appendChild(b);
      });
      item.appendChild(bar);
    }
    function post(url, body) {
      return fetch(url, {method: "POST", headers: {"Content-Type": "application/json", "Accept": "application/json"},
                         credentials: "omit", body: JSON.stringify(body)});
    }
    function ask(question) {
      say("user", question);
      button.disabled = true;
      post(endpoint, {question: question, conversation: conversation, channel: channel}).then(function (response) {
        if (response.status === 429) { say("bot", label(root, "busy")); return null; }
        return response.json().then(function (data) {
          if (!response.ok) { say("bot", data.detail || data.title || label(root, "error")); return; }
          conversation = data.conversation;
          var item = say("bot", data.decision === "answer" && data.question ? "【" + data.question + "】\n" + data.text : data.text);
          item.setAttribute("data-decision", data.decision);
          if (data.suggestions && data.suggestions.length) {
            var list = el("ul", "cg-assistant-suggestions");
            list.setAttribute("aria-label", label(root, "suggest"));
            data.suggestions.forEach(function (s) {
              var li = el("li");
              var b = el("button", "cg-assistant-suggestion", s.question);
              b.type = "button";
              b.addEventListener("click", function () { ask(s.question); });
              li.appendChild(b); list.appendChild(li);
            });
            item.appendChild(list);
          }
          if (data.decision !== "chitchat") feedback(item, data.turn);
        });
      }).catch(function () { say("bot", label(root, "error")); })
        .then(function () { button.disabled = false; input.focus(); });
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var question = input.value.trim();
      if (!question) return;
      input.value = "";
      ask(question);
    });

    if (root.hasAttribute("data-floating")) {
      var opener = el("button", "cg-assistant-open", label(root, "open"));
      opener.type = "button";
      opener.setAttribute("aria-expanded", "false");
      var closer = el("button", "cg-assistant-close", "×");
      closer.type = "button";
      closer.setAttribute("aria-label", label(root, "close"));
      panel.setAttribute("role", "dialog");
      panel.setAttribute("aria-label", label(root, "open"));
      panel.hidden = true;
      panel.insertBefore(closer, log);
      function toggle(open) {
        panel.hidden = !open;
        opener.setAttribute("aria-expanded", String(open));
        (open ? input : opener).focus();
      }
      opener.addEventListener("click", function () { toggle(panel.hidden); });
      closer.addEventListener("click", function () { toggle(false); });
      panel.addEventListener("keydown", function (event) { if (event.key === "Escape") toggle(false); });
      root.classList.add("cg-assistant", "cg-assistant-floating");
      root.appendChild(opener);
    }
    root.appendChild(panel);
  }
  function start() {
    var roots = document.querySelectorAll("[data-citygov-assistant]");
    for (var i = 0; i < roots.length; i++) mount(roots[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
