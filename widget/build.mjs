// Builds the widget into an output directory (dist/ by default):
//   widget.js   the loader for customer pages (no framework)
//   frame.html  the chat page, loading /widget/frame.js and /widget/frame.css
//   frame.js    the chat UI (Preact)
//   frame.css   its styles
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
  await esbuild.build({ ...common, entryPoints: { widget: "src/loader.ts" }, format: "iife", outdir: out });
  await esbuild.build({
    ...common,
    entryPoints: { frame: "src/frame.tsx" },
    format: "iife",
    jsx: "automatic",
    jsxImportSource: "preact",
    outdir: out,
  });
  await esbuild.build({ ...common, entryPoints: { frame: "src/frame.css" }, outdir: out });
  copyFileSync(join(root, "src/frame.html"), join(out, "frame.html"));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await build(process.argv[2] ?? "dist");
}
