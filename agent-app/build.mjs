// Builds the agent dashboard into an output directory (dist/ by default):
//   index.html  the page, loading /app/app.js and /app/app.css
//   app.js      the dashboard (Preact; the live client comes from
//               ../widget/src/shared so both apps deliver messages alike)
//   app.css     its styles
// Output is minified, without source maps, and byte-for-byte reproducible.
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));

const common = {
  bundle: true,
  minify: true,
  sourcemap: false,
  legalComments: "none",
  charset: "utf8",
  target: ["es2020"],
  logLevel: "warning",
  absWorkingDir: root,
};

export async function build(outdir) {
  const out = resolve(root, outdir);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await esbuild.build({
    ...common,
    entryPoints: { app: "src/app.tsx" },
    format: "iife",
    jsx: "automatic",
    jsxImportSource: "preact",
    outdir: out,
  });
  await esbuild.build({ ...common, entryPoints: { app: "src/app.css" }, outdir: out });
  copyFileSync(join(root, "src/index.html"), join(out, "index.html"));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await build(process.argv[2] ?? "dist");
}
