// The object table: one row per physics object, sortable; a click focuses, a tick adds to the mass.
// Names come from event files, so they are only ever set as text, never as HTML.

const STYLE = `
  .box { font-family: inherit; font-size: 12px; width: 100%; }
  .bar { display: flex; align-items: center; gap: 6px; margin: 0 0 4px 0; color: #444; }
  .scroll { max-height: 260px; overflow-y: auto; border: 1px solid #ddd; border-radius: 3px; }
  table { border-collapse: collapse; width: 100%; }
  th { position: sticky; top: 0; background: #f3f4f6; cursor: pointer; user-select: none;
       font-weight: 600; text-align: right; padding: 3px 5px; white-space: nowrap; }
  th.text, td.text { text-align: left; }
  td { padding: 2px 5px; text-align: right; white-space: nowrap; border-top: 1px solid #eee; }
  tr.row { cursor: pointer; }
  tr.row:hover { background: #eef4ff; }
  tr.focus { background: #dbe8ff; outline: 1px solid #5b8def; }
  tr.hidden td { color: #999; }
  .swatch { display: inline-block; width: 8px; height: 8px; border-radius: 2px; margin-right: 4px; }
  .empty { color: #666; padding: 6px; }
`;
const KIND_COLORS = {
  electron: "#2ee66b", muon: "#ff2fd4", photon: "#ffe03a", jet: "#ff9f1c", met: "#ff4040",
  track: "#9fb3c8",
};
const COLUMNS = [
  { key: "type", label: "Type", text: true },
  { key: "pt", label: "pT (GeV)" },
  { key: "eta", label: "η" },
  { key: "phi", label: "φ" },
  { key: "e", label: "E (GeV)" },
  { key: "charge", label: "q" },
  { key: "collection", label: "Collection", text: true },
];

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function shown(value, key) {
  if (value === null || value === undefined) return "";
  if (key === "charge") return value > 0 ? `+${value}` : String(value);
  if (key === "eta" || key === "phi") return Number(value).toFixed(2);
  if (typeof value === "number") return value.toFixed(1);
  return String(value);
}

export function render({ model }) {
  const box = element("div", "box");
  box.dataset.testid = "object-table";
  const style = element("style", "", STYLE);
  const bar = element("label", "bar");
  const tracks = element("input");
  tracks.type = "checkbox";
  tracks.addEventListener("change", () => { model.tracks = tracks.checked; });
  bar.append(tracks, element("span", "", "List tracks too"));
  const scroll = element("div", "scroll");
  const table = element("table");
  const head = element("thead");
  const body = element("tbody");
  table.append(head, body);
  scroll.append(table);
  box.append(style, bar, scroll);
  let sort = { key: null, down: true };
  let rowsById = new Map();

  function headers() {
    const line = element("tr");
    line.append(element("th", "text", "Σm"));
    for (const column of COLUMNS) {
      const arrow = sort.key === column.key ? (sort.down ? " ▼" : " ▲") : "";
      const cell = element("th", column.text ? "text" : "", column.label + arrow);
      cell.title = "Sort by " + column.label;
      cell.addEventListener("click", () => {
        sort = { key: column.key, down: sort.key === column.key ? !sort.down : !column.text };
        build();
      });
      line.append(cell);
    }
    head.replaceChildren(line);
  }

  function ordered() {
    const rows = [...model.rows];
    if (sort.key === null) return rows;
    const sign = sort.down ? -1 : 1;
    return rows.sort((a, b) => {
      const x = a[sort.key], y = b[sort.key];
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * sign;
    });
  }

  function rowElement(row) {
    const line = element("tr", "row");
    line.dataset.id = row.id;
    line.dataset.testid = "object-row";
    const tickCell = element("td", "text");
    const tick = element("input");
    tick.type = "checkbox";
    tick.disabled = !row.addable;
    tick.title = row.addable ? "Add to the invariant mass" : "No four-momentum to add";
    tick.setAttribute("aria-label", `Add ${row.type} ${row.id} to the invariant mass`);
    tick.addEventListener("click", (event) => event.stopPropagation());
    tick.addEventListener("change", () => {
      const others = model.chosen.filter((id) => id !== row.id);
      model.chosen = tick.checked ? [...others, row.id] : others;
    });
    tickCell.append(tick);
    line.append(tickCell);
    for (const column of COLUMNS) {
      const cell = element("td", column.text ? "text" : "");
      if (column.key === "type") {
        const swatch = element("span", "swatch");
        swatch.style.background = KIND_COLORS[row.kind] || "#999";
        cell.append(swatch, element("span", "", row.type));
      } else {
        cell.textContent = shown(row[column.key], column.key);
      }
      if (column.key === "collection") cell.title = `ATLAS collection ${row.name}`;
      line.append(cell);
    }
    line.addEventListener("click", () => { model.focus = row.id; });
    return { line, tick, row };
  }

  function update() {
    const hidden = new Set(model.hidden);
    const chosen = new Set(model.chosen);
    for (const [id, parts] of rowsById) {
      const isHidden = hidden.has(parts.row.layer);
      parts.line.classList.toggle("focus", id === model.focus);
      parts.line.classList.toggle("hidden", isHidden);
      parts.line.title = isHidden ? "Its collection is hidden in the 3D view" : "";
      parts.tick.checked = chosen.has(id);
    }
    tracks.checked = Boolean(model.tracks);
  }

  function build() {
    headers();
    rowsById = new Map();
    if (!model.rows.length) {
      const line = element("tr");
      const cell = element("td", "empty", "No physics objects in this event.");
      cell.colSpan = COLUMNS.length + 1;
      line.append(cell);
      body.replaceChildren(line);
    } else {
      body.replaceChildren(...ordered().map((row) => {
        const parts = rowElement(row);
        rowsById.set(row.id, parts);
        return parts.line;
      }));
    }
    update();
  }

  model.on("rows", build);
  model.on("hidden", update);
  model.on("focus", () => {
    update();
    const focused = rowsById.get(model.focus);
    if (focused) focused.line.scrollIntoView({ block: "nearest" });
  });
  model.on("chosen", update);
  model.on("tracks", update);
  build();
  return box;
}
