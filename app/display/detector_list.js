// The "Detector" list: per detector group a show toggle (its name is the toggle's label, so a
// click on the name switches it, as in the physics-object list) and an opacity slider.
// One page model for every group instead of two widgets each.

const STYLE = `
  .rows { font-family: inherit; font-size: 13px; width: 290px; }
  .system { font-size: 11px; color: #888; text-transform: uppercase; margin: 6px 0 1px 0; }
  .row { display: flex; align-items: center; gap: 6px; padding: 2px 0; }
  .row label { flex: 0 0 150px; display: flex; align-items: center; gap: 6px; cursor: pointer; }
  .row input[type=range] { flex: 1; min-width: 0; }
  .row output { min-width: 32px; text-align: right; color: #333; font-size: 12px; }
`;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function rowElement(model, row, parts) {
  const box = element("div", "row");
  box.dataset.detector = row.name;
  const label = element("label");
  const checkbox = element("input");
  checkbox.type = "checkbox";
  checkbox.addEventListener("change", () => {
    model.shown = { ...model.shown, [row.name]: checkbox.checked };
  });
  label.append(checkbox, element("span", "", row.name));
  const slider = element("input");
  slider.type = "range";
  slider.min = "0";
  slider.max = "1";
  slider.step = "0.01";
  slider.setAttribute("aria-label", `${row.name}: opacity`);
  const value = element("output");
  slider.addEventListener("input", () => { value.textContent = Number(slider.value).toFixed(2); });
  slider.addEventListener("change", () => {
    model.opacity = { ...model.opacity, [row.name]: Number(slider.value) };
  });
  box.append(label, slider, value);
  Object.assign(parts, { checkbox, slider, value });
  return box;
}

export function render({ model }) {
  const root = element("div", "rows");
  const style = element("style", "", STYLE);
  let parts = new Map();

  function update() {
    for (const [name, row] of parts) {
      row.checkbox.checked = Boolean(model.shown[name]);
      const opacity = Number(model.opacity[name] ?? 0);
      row.slider.value = String(opacity);
      row.value.textContent = opacity.toFixed(2);
    }
  }

  function build() {
    parts = new Map();
    const children = [];
    let system = null;
    for (const row of model.rows) {
      if (row.system !== system) {
        system = row.system;
        children.push(element("div", "system", system));
      }
      const rowParts = {};
      parts.set(row.name, rowParts);
      children.push(rowElement(model, row, rowParts));
    }
    root.replaceChildren(...children);
    update();
  }

  model.on("rows", build);
  model.on("shown", update);
  model.on("opacity", update);
  build();
  const wrapper = element("div");
  wrapper.append(style, root);
  return wrapper;
}
