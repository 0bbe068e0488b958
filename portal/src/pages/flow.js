// The Sankey of Content Paths from the `path` rows of contentpaths (pure: tested by portal/test/).

const END = "(end)";
const MAX_LINKS = 40;

/** Sankey nodes and links from `path` rows: a path's last step is a link from its step before; titles are
 * told apart by their step, so the flow never loops back. */
export function flow(rows) {
  const links = new Map();
  for (const row of rows) {
    const titles = row.titles;
    if (row.kind !== "path" || titles.length < 2) continue;
    const step = titles.length - 1;
    const key = `${step}. ${titles[step - 1]}\u0000${step + 1}. ${titles[step]}`;
    links.set(key, (links.get(key) ?? 0) + row.count);
  }
  const kept = [...links].sort((a, b) => b[1] - a[1]).slice(0, MAX_LINKS);
  const names = new Set();
  const data = kept.map(([key, value]) => {
    const [source, target] = key.split("\u0000");
    names.add(source);
    names.add(target);
    return { source, target, value };
  });
  return { nodes: [...names].map((name) => ({ name, itemStyle: name.endsWith(END) ? { color: "#9ca3af" } : undefined })), links: data };
}
