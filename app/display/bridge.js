// Keyboard shortcuts for the event display, the PNG screenshot of its 3D canvas, and emptying
// its upload box after the server refused a file.

const TYPING_TAGS = new Set(["INPUT", "TEXTAREA", "SELECT"]);
const KEYS = { ArrowRight: "next", ArrowLeft: "previous", n: "next", p: "previous", r: "random" };

// Elements below `root`, looking inside open shadow roots (Bokeh renders into shadow DOM).
function* deepElements(root) {
  for (const element of root.querySelectorAll("*")) {
    yield element;
    if (element.shadowRoot) {
      yield* deepElements(element.shadowRoot);
    }
  }
}

function sceneCanvas(hostClass) {
  let host = null;
  for (const element of deepElements(document)) {
    if (element.classList && element.classList.contains(hostClass)) {
      host = element;
      break;
    }
  }
  const where = host ? (host.shadowRoot || host) : document;
  let best = null;
  for (const element of deepElements(where)) {
    if (element.tagName === "CANVAS" && (!best || element.width * element.height > best.width * best.height)) {
      best = element;
    }
  }
  return best;
}

// Empty the FilePond upload boxes inside the elements of class `hostClass`; what the box's
// screen-reader announcement said ("Upload complete") becomes `announcement`.
function clearUploads(hostClass, announcement) {
  const pond = window.FilePond;
  if (!pond) return;
  for (const element of deepElements(document)) {
    if (!element.classList || !element.classList.contains(hostClass)) continue;
    for (const inner of deepElements(element.shadowRoot || element)) {
      if (inner.classList && inner.classList.contains("filepond--root")) {
        const instance = pond.find(inner);
        if (instance) instance.removeFiles();
        const assistant = inner.querySelector(".filepond--assistant");
        if (assistant) announceInstead(inner, assistant, announcement);
      }
    }
  }
}

// FilePond announces "Upload complete" when its animation of the upload ends, which may be
// after the server refused the file: for a while (until another file comes), whatever it
// announces is replaced.
const ANNOUNCE_FOR_MS = 5000;

function announceInstead(root, assistant, announcement) {
  const replace = () => {
    if (assistant.textContent !== announcement) assistant.textContent = announcement;
  };
  const observer = new MutationObserver(replace);
  observer.observe(assistant, { childList: true, characterData: true, subtree: true });
  replace();
  setTimeout(() => observer.disconnect(), ANNOUNCE_FOR_MS);
  root.addEventListener("FilePond:addfile", () => observer.disconnect(), { once: true });
}

function download(url, filename) {
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
}

export function render({ model }) {
  const onKey = (event) => {
    const target = event.composedPath()[0];
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (TYPING_TAGS.has(target.tagName) || target.isContentEditable)) return;
    const action = KEYS[event.key];
    if (action) {
      event.preventDefault();
      model.send_msg({ action });
    }
  };
  document.addEventListener("keydown", onKey);
  model.on("remove", () => document.removeEventListener("keydown", onKey));
  model.on("msg:custom", (message) => {
    if (message.action === "clear-upload") {
      clearUploads(message.upload_class, message.announcement || "");
      return;
    }
    if (message.action !== "screenshot") return;
    const canvas = sceneCanvas(model.scene_class);
    if (!canvas) {
      model.send_msg({ action: "screenshot-failed" });
      return;
    }
    // pythreejs renders with preserveDrawingBuffer, so the last frame can be read back.
    download(canvas.toDataURL("image/png"), message.filename);
    model.send_msg({ action: "screenshot-done" });
  });
  const hint = document.createElement("span");
  hint.style.display = "none";
  return hint;
}
