// The "Physics objects" list: per collection a show toggle, its count and an optional cut slider.
// All collections live in this one element (one page model instead of six widgets per row).
// Names come from event files, so they are only ever set as text, never as HTML.

const STYLE = `
  .rows { font-family: inherit; font-size: 13px; width: 290px; }
  .row { padding: 3px 0 5px 0; border-bottom: 1px solid #eee; }
  .row:last-child { border-bottom: none; }
  .head { display: flex; align-items: center; gap: 6px; }
  .head label { flex: 1; display: flex; align-items: center; gap: 6px; cursor: pointer; }
  .count { color: #666; font-size: 12px; min-width: 60px; text-align: right; }
  .name { font-size: 11px; color: #888; line-height: 1.1; margin-left: 24px; }
  .cut { display: flex; align-items: center; gap: 6px; margin: 2px 0 0 24px; font-size: 12px; }
  .cut input { flex: 1; min-width: 0; }
  .cut output { min-width: 38px; text-align: right; color: #333; }
`;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function cutRow(model, row, parts) {
  const box = element("div", "cut");
  const label = element("span", "", row.cut_label);
  const slider = element("input");
  slider.type = "range";
  slider.min = "0";
  slider.max = String(row.cut_max);
  slider.step = String(row.cut_step);
  slider.setAttribute("aria-label", `${row.label}: ${row.cut_label}`);
  const value = element("output");
  slider.addEventListener("input", () => { value.textContent = Number(slider.value).toFixed(1); });
  // Like a throttled slider: Python hears the value when the student lets go.
  slider.addEventListener("change", () => {
    model.cuts = { ...model.cuts, [row.key]: Number(slider.value) };
  });
  box.append(label, slider, value);
  parts.slider = slider;
  parts.value = value;
  return box;
}

function rowElement(model, row, parts) {
  const box = element("div", "row");
  box.dataset.collection = row.key;
  const head = element("div", "head");
  const label = element("label");
  const checkbox = element("input");
  checkbox.type = "checkbox";
  checkbox.addEventListener("change", () => {
    model.shown = { ...model.shown, [row.key]: checkbox.checked };
  });
  label.append(checkbox, element("span", "", row.label));
  const count = element("span", "count");
  count.dataset.testid = "collection-count";
  head.append(label, count);
  box.append(head);
  if (row.name) {
    const name = element("div", "name", row.name);
    name.title = `ATLAS collection ${row.name}`;
    name.dataset.testid = "collection-name";
    box.append(name);
  }
  if (row.cut_label) box.append(cutRow(model, row, parts));
  Object.assign(parts, { box, checkbox, count });
  return box;
}

export function render({ model }) {
  const root = element("div", "rows");
  const style = element("style", "", STYLE);
  let parts = new Map();

  function update() {
    for (const [key, row] of parts) {
      const count = model.counts[key];
      row.box.style.display = count === undefined ? "none" : "";
      row.count.textContent = count ?? "";
      row.checkbox.checked = Boolean(model.shown[key]);
      if (row.slider) {
        const cut = Number(model.cuts[key] ?? 0);
        row.slider.value = String(cut);
        row.value.textContent = cut.toFixed(1);
      }
    }
  }

  function build() {
    parts = new Map();
    root.replaceChildren(
      ...model.rows.map((row) => {
        const rowParts = {};
        parts.set(row.key, rowParts);
        return rowElement(model, row, rowParts);
      }),
    );
    update();
  }

  model.on("rows", build);
  model.on("counts", update);
  model.on("shown", update);
  model.on("cuts", update);
  build();
  const wrapper = element("div");
  wrapper.append(style, root);
  return wrapper;
}
