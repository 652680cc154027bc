// Inlined at the top of the chat pages (/ and /embed/) by chatbot/web.py, before Gradio starts.
(() => {
  // Gradio takes the language of its own labels from the browser; this chat is French for all.
  for (const [name, value] of [["language", "fr-FR"], ["languages", ["fr-FR", "fr"]]]) {
    try {
      Object.defineProperty(Navigator.prototype, name, { get: () => value, configurable: true });
    } catch (e) { /* an old browser keeps its own language: only Gradio's labels change */ }
  }
  document.documentElement.lang = "fr";

  // Text size: A− / A+ scale every theme size; the choice is kept on this device.
  const STEPS = [1, 1.15, 1.3, 1.5, 1.75, 2];
  const BASE = { xxs: 10, xs: 12, sm: 14, md: 16, lg: 20, xl: 24, xxl: 28 };
  const KEY = "sep-text-size";
  let step = 0;
  try { step = Math.min(STEPS.length - 1, Math.max(0, parseInt(localStorage.getItem(KEY) || "0", 10) || 0)); } catch (e) {}
  function apply() {
    const s = STEPS[step];
    let css = "";
    for (const [k, px] of Object.entries(BASE)) css += `--text-${k}: ${Math.round(px * s)}px !important;`;
    css += `--chatbot-text-size: ${Math.round(BASE.md * s)}px !important;`;
    let el = document.getElementById("sep-text-size");
    if (!el) {
      el = document.createElement("style");
      el.id = "sep-text-size";
      document.head.appendChild(el);
    }
    el.textContent = `:root, .gradio-container, gradio-app, .dark { ${css} }`;
  }
  window.sepTextSize = (delta) => {
    step = Math.min(STEPS.length - 1, Math.max(0, step + delta));
    try { localStorage.setItem(KEY, String(step)); } catch (e) {}
    apply();
    const status = document.getElementById("sep-size-status");
    if (status) status.textContent = `Taille du texte : ${Math.round(STEPS[step] * 100)} %`;
  };
  apply();

  // A [n] in an answer opens its source below the answer and moves the focus there.
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("a.sep-cite") : null;
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const source = document.getElementById((link.getAttribute("href") || "").slice(1));
    if (!source) return;
    source.open = true;
    source.scrollIntoView({ block: "nearest", behavior: "smooth" });
    const summary = source.querySelector("summary");
    if (summary) summary.focus({ preventScroll: true });
  }, true);

  // In the widget's panel, Escape closes the panel (the key stays inside the frame otherwise).
  if (window.parent !== window) {
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") window.parent.postMessage({ type: "sep-chatbot:close" }, "*");
    });
  }

  // Names for screen readers where Gradio gives none; a polite live region for the text size.
  const LABELS = __SEP_LABELS__;
  function label() {
    for (const [id, text] of Object.entries(LABELS)) {
      if (id === "examples") continue;
      const el = id === "log" ? document.querySelector('#sep-chat [role="log"]') : document.getElementById(id);
      if (el && el.getAttribute("aria-label") !== text) el.setAttribute("aria-label", text);
    }
    // Gradio marks the example questions as a list whose children are buttons, not list
    // items (axe-core: aria-required-children): a named group says what they are.
    for (const el of document.querySelectorAll('#sep-chat .examples[role="list"]')) {
      el.setAttribute("role", "group");
      el.setAttribute("aria-label", LABELS.examples);
    }
    if (!document.getElementById("sep-size-status") && document.body) {
      const live = document.createElement("div");
      live.id = "sep-size-status";
      live.setAttribute("role", "status");
      live.className = "sep-visually-hidden";
      document.body.appendChild(live);
    }
  }
  // Gradio names each message with its raw content, HTML markup included: let screen readers
  // read the message itself (it starts with a hidden "Vous avez demandé :" / "Réponse :").
  function unlabelMessages() {
    for (const el of document.querySelectorAll('[data-testid="user"][aria-label], [data-testid="bot"][aria-label]')) {
      el.removeAttribute("aria-label");
    }
  }
  new MutationObserver(() => { label(); unlabelMessages(); }).observe(document.documentElement, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["aria-label"],
  });
})();
