// The filter bar's conditions and the API's bracket syntax (`[cdn=Akamai][country=US|CA]`), both ways.

const CONDITION = /\[\s*([^\]=!<>]+?)\s*(!=|=)([^\]]*)\]/g;

export function parseFilter(text) {
  const conditions = [];
  for (const match of (text ?? "").matchAll(CONDITION)) {
    const values = match[3].split("|").map((v) => v.trim()).filter((v) => v !== "");
    if (values.length) conditions.push({ field: match[1], op: match[2], values });
  }
  return conditions;
}

export function filterText(conditions) {
  return conditions.map((c) => `[${c.field}${c.op}${c.values.join("|")}]`).join("");
}

/** `filter` with the condition `field = value` added (replacing any on the same field). */
export function withCondition(filter, field, value) {
  const kept = parseFilter(filter).filter((c) => c.field !== field);
  return filterText([...kept, { field, op: "=", values: [String(value)] }]);
}

export const describeCondition = (c) => `${c.field} ${c.op === "=" ? "is" : "is not"} ${c.values.join(" or ")}`;
