// One self-contained browser script, committed as chalicelib/static/vendor/cognito.js, with
// the licences of everything inside it in chalicelib/static/vendor/LICENSES.txt.
// Reproducible: `npm ci && npm run build` gives the same bytes for the same package-lock.json.
import { build } from "esbuild";
import { readFileSync, readdirSync, existsSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const vendor = join(here, "..", "chalicelib", "static", "vendor");

const result = await build({
  entryPoints: [join(here, "entry.js")],
  bundle: true,
  format: "iife",
  globalName: "IlopisteCognito",
  platform: "browser",
  target: ["es2020"],
  minify: true,
  legalComments: "none",
  charset: "utf8",
  metafile: true,
  outfile: join(vendor, "cognito.js"),
  define: { "process.env.NODE_ENV": '"production"', global: "globalThis" },
});

// The licence text of every package that has a file in the bundle.
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g);
  if (m) packages.add(m[m.length - 1].replace(/^node_modules\//, "").replace(/\/$/, ""));
}
const parts = [];
for (const name of [...packages].sort()) {
  const dir = join(here, "node_modules", name);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
  const text = file ? readFileSync(join(dir, file), "utf8").trim() : `License: ${pkg.license}`;
  parts.push(`${"=".repeat(78)}\n${name} ${pkg.version} (${pkg.license})\n${"=".repeat(78)}\n${text}\n`);
}
writeFileSync(
  join(vendor, "LICENSES.txt"),
  "Licences of the packages bundled into cognito.js (built by console/build.mjs)\n\n" + parts.join("\n"),
);
console.log(`cognito.js: ${packages.size} packages: ${[...packages].sort().join(", ")}`);
