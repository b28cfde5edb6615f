// The page's notice that its connection to the server is gone (the server process serving it
// stopped, or the network dropped): nothing on the page works any more until it is reloaded.
// Runs as the document's "connection_lost" callback, with `message` and `button` as arguments.
const NOTICE_ID = "eventlab-connection-lost";
if (document.getElementById(NOTICE_ID) === null) {
  const notice = document.createElement("div");
  notice.id = NOTICE_ID;
  notice.setAttribute("role", "alert");
  notice.style.cssText = [
    "position: fixed", "top: 0", "left: 0", "right: 0", "z-index: 2147483647",
    "display: flex", "gap: 1em", "align-items: center", "justify-content: center",
    "padding: 0.8em 1em", "background: #b3261e", "color: white",
    "font: 600 16px/1.4 system-ui, sans-serif", "box-shadow: 0 2px 6px rgba(0, 0, 0, 0.4)",
  ].join("; ");
  const text = document.createElement("span");
  text.textContent = message;
  const reload = document.createElement("button");
  reload.type = "button";
  reload.textContent = button;
  reload.style.cssText = "font: inherit; padding: 0.2em 0.8em; cursor: pointer";
  reload.addEventListener("click", () => window.location.reload());
  notice.append(text, reload);
  document.body.append(notice);
}
