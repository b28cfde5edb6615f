// The upload box (FilePond) repaints its views on every animation frame for as long as the page
// is open, although nothing in it changes while nobody uses it. FilePond takes the painter it
// finds on the page when it loads (window.__framePainter): this one paints on every frame only
// for a while after the student does something or the upload box reports progress, and a few
// times a second otherwise.
(function () {
  if (window.__framePainter) return;
  const painter = { readers: [], writers: [] };
  window.__framePainter = painter;
  const ACTIVE_MS = 3000;
  const IDLE_MS = 250;
  const USER_EVENTS = ["pointerdown", "pointerup", "keydown", "dragenter", "dragover", "drop",
    "paste", "visibilitychange"];
  const UPLOAD_EVENTS = ["addfilestart", "addfileprogress", "addfile", "processfilestart",
    "processfileprogress", "processfile", "removefile", "updatefiles", "warning", "error"];
  let activeUntil = performance.now() + ACTIVE_MS;
  let frame = null;
  let timer = null;

  function paint(now) {
    frame = null;
    timer = null;
    schedule();  // first, as FilePond's own painter does: a view that throws stops no frame
    for (const read of painter.readers) read();
    for (const write of painter.writers) write(now);
  }

  function schedule() {
    if (frame !== null || timer !== null) return;
    if (performance.now() < activeUntil && !document.hidden) {
      frame = requestAnimationFrame(paint);
    } else {
      timer = setTimeout(() => paint(performance.now()), IDLE_MS);
    }
  }

  function wake() {
    activeUntil = performance.now() + ACTIVE_MS;
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    schedule();
  }

  for (const name of USER_EVENTS) {
    document.addEventListener(name, wake, { capture: true, passive: true });
  }
  for (const name of UPLOAD_EVENTS) {
    document.addEventListener("FilePond:" + name, wake);  // they cross shadow roots (composed)
  }
  schedule();
})();
