// Builds the agent dashboard into an output directory (dist/ by default):
//   index.html  the page, loading /app/app.js and /app/app.css
//   app.js      the dashboard (Preact; the live client comes from
//               ../widget/src/shared so both apps deliver messages alike),
//               an ES module: the screens the first view does not show
//               are chunks/*.js, loaded on demand (src/lazy.tsx)
//   app.css     its styles
//   locale-<lang>.js  a language's words (src/locales/<lang>.ts), loaded
//               only when an agent reads the dashboard in it (src/i18n.ts)
// Output is minified, without source maps, and byte-for-byte reproducible
// (../widget/tools/bundle.mjs, shared with the widget).
import * as esbuild from "esbuild";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { buildApp } from "../widget/tools/bundle.mjs";

const root = dirname(fileURLToPath(import.meta.url));

export function build(outdir) {
  return buildApp({
    esbuild,
    root,
    outdir,
    modules: { app: "src/app.tsx" },
    base: "/app/",
    scripts: Object.fromEntries(["es", "fr", "de", "pt", "ar"].map((l) => [`locale-${l}`, `src/locales/${l}.ts`])),
    styles: { app: "src/app.css" },
    pages: { "index.html": "src/index.html" },
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await build(process.argv[2] ?? "dist");
}
