// Builds the widget into an output directory (dist/ by default):
//   widget.js   the loader for customer pages (no framework)
//   frame.html  the chat page, loading /widget/frame.js and /widget/frame.css
//   frame.js    the chat UI (Preact)
//   frame.css   its styles
// Output is minified, without source maps, and byte-for-byte reproducible
// (tools/bundle.mjs, shared with the agent app).
import * as esbuild from "esbuild";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { buildApp } from "./tools/bundle.mjs";

const root = dirname(fileURLToPath(import.meta.url));

export function build(outdir) {
  return buildApp({
    esbuild,
    root,
    outdir,
    scripts: { widget: "src/loader.ts", frame: "src/frame.tsx" },
    styles: { frame: "src/frame.css" },
    pages: { "frame.html": "src/frame.html" },
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await build(process.argv[2] ?? "dist");
}
