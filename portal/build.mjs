// Bundles the portal (src/) into ../src/sightline/portal/static/: index.html, the entry script and its
// chunks (one per page, loaded when the page opens), the style sheet; every file but index.html is named by
// a hash of its content, and gets a gzip copy (.gz) that the app serves to clients that accept gzip.
// Run with the machine's Node: `node build.mjs` (`make portal` does, when a source is newer than the bundle).
import { build } from "esbuild";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "sightline", "portal", "static");

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: [join(here, "src", "main.js")],
  bundle: true,
  splitting: true,
  format: "esm",
  minify: true,
  target: ["chrome110", "firefox110", "safari16"],
  outdir: out,
  entryNames: "[name]-[hash]",
  chunkNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});
const outputs = Object.entries(result.metafile.outputs);
const entry = outputs.find(([, meta]) => meta.entryPoint === "src/main.js");
const script = basename(entry[0]);
const style = entry[1].cssBundle ? basename(entry[1].cssBundle) : null;
const page = readFileSync(join(here, "src", "index.html"), "utf8")
  .replace("{{style}}", style ? `<link rel="stylesheet" href="/portal/${style}">` : "")
  .replace("{{script}}", `<script type="module" src="/portal/${script}"></script>`);
writeFileSync(join(out, "index.html"), page);
for (const name of readdirSync(out)) {
  if (/\.(js|css|html|txt)$/.test(name)) {
    writeFileSync(join(out, name + ".gz"), gzipSync(readFileSync(join(out, name)), { level: 9 }));
  }
}
console.log(`portal built into ${out}: ${script}${style ? ", " + style : ""}`);
