// The association's chat widget: a button that opens the chatbot in a panel, on any page.
// Served by the chatbot at a fixed URL (/widget.js). Paste on the site:
//   <script type="module" src="https://CHATBOT-HOST/widget.js"></script>
// Loaded as a module, it is fetched under CORS: only the sites in CHATBOT_ALLOWED_ORIGINS can
// run it, and the chat page itself refuses to be framed by any other site.
const TEXTS = __SEP_TEXTS__;
const ORIGIN = new URL(import.meta.url).origin;

function mount() {
  if (document.getElementById("sep-chatbot-widget")) return;
  const host = document.createElement("div");
  host.id = "sep-chatbot-widget";
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `
<style>
  :host { all: initial; }
  .open { position: fixed; right: 16px; bottom: 16px; z-index: 2147483000;
    font: 600 16px/1.2 system-ui, sans-serif; color: #fff; background: #1d4ed8; border: 0;
    border-radius: 999px; padding: 14px 20px; box-shadow: 0 4px 14px rgba(0,0,0,.25); cursor: pointer; }
  .open:focus-visible, .close:focus-visible { outline: 3px solid #f59e0b; outline-offset: 3px; }
  .panel { position: fixed; right: 16px; bottom: 16px; z-index: 2147483001; width: 400px;
    height: min(680px, calc(100vh - 32px)); display: none; flex-direction: column; background: #fff;
    border-radius: 12px; overflow: hidden; box-shadow: 0 8px 30px rgba(0,0,0,.3); }
  .panel.shown { display: flex; }
  .bar { display: flex; justify-content: space-between; align-items: center; background: #1d4ed8;
    padding: 4px 4px 4px 12px; color: #fff; font: 600 16px system-ui, sans-serif; }
  .close { font: 600 15px system-ui, sans-serif; color: #fff; background: transparent;
    border: 1px solid #fff; border-radius: 6px; padding: 6px 12px; cursor: pointer; }
  iframe { flex: 1; width: 100%; border: 0; }
  @media (max-width: 600px) {
    .panel { right: 0; bottom: 0; width: 100vw; height: 100dvh; border-radius: 0; }
  }
</style>
<button class="open" type="button" aria-haspopup="dialog" aria-expanded="false"></button>
<div class="panel" role="dialog" aria-modal="false">
  <div class="bar"><span class="title"></span><button class="close" type="button"></button></div>
</div>`;
  const open = root.querySelector(".open");
  const panel = root.querySelector(".panel");
  const close = root.querySelector(".close");
  root.querySelector(".title").textContent = TEXTS.title;
  open.textContent = TEXTS.open;
  open.setAttribute("aria-label", TEXTS.open_label);
  close.textContent = TEXTS.close;
  close.setAttribute("aria-label", TEXTS.close_label);
  panel.setAttribute("aria-label", TEXTS.frame_title);
  let frame = null;

  function show() {
    if (!frame) { // the chat is loaded on first use only: pages without questions stay light
      frame = document.createElement("iframe");
      frame.src = `${ORIGIN}/embed/`;
      frame.title = TEXTS.frame_title;
      frame.allow = "clipboard-write";
      panel.appendChild(frame);
    }
    panel.classList.add("shown");
    open.hidden = true;
    open.setAttribute("aria-expanded", "true");
    close.focus();
  }
  function hide() {
    panel.classList.remove("shown");
    open.hidden = false;
    open.setAttribute("aria-expanded", "false");
    open.focus();
  }
  open.addEventListener("click", show);
  close.addEventListener("click", hide);
  panel.addEventListener("keydown", (e) => { if (e.key === "Escape") hide(); });
  window.addEventListener("message", (e) => { // Escape pressed inside the chat
    if (e.origin === ORIGIN && e.data && e.data.type === "sep-chatbot:close") hide();
  });
  document.body.appendChild(host);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
else mount();
