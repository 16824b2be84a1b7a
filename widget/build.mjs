// Builds the widget into an output directory (dist/ by default):
//   widget.js   the loader for customer pages (no framework)
//   host.js     the JS API on customer pages, fetched by the loader when idle
//   frame.html  the chat page, loading /widget/frame.js and /widget/frame.css
//   frame.js    the chat UI (Preact)
//   frame.css   its styles
//   locale-<lang>.json  the frame's words in each language but English
// Output is minified, without source maps, and byte-for-byte reproducible
// (tools/bundle.mjs, shared with the agent app).
import * as esbuild from "esbuild";
import typescript from "typescript";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildApp } from "./tools/bundle.mjs";
import { shortKeys } from "./src/msgkey.mjs";

const root = dirname(fileURLToPath(import.meta.url));

/** LOCALES are the languages besides English (built into frame.js): each
 * is written, minified, to locale-<lang>.json, which the frame fetches when
 * it speaks that language (src/i18n.ts), keyed by msgKey of the English. */
export const LOCALES = ["es", "fr", "de", "pt", "ar"];

export async function build(outdir) {
  await buildApp({
    esbuild,
    root,
    outdir,
    scripts: { widget: "src/loader.ts", host: "src/host.ts", frame: "src/frame.tsx" },
    styles: { frame: "src/frame.css" },
    pages: { "frame.html": "src/frame.html" },
    typescript,
  });
  for (const l of LOCALES) {
    const table = JSON.parse(readFileSync(join(root, "src/locales", l + ".json"), "utf8"));
    writeFileSync(resolve(root, outdir, `locale-${l}.json`), JSON.stringify(shortKeys(table)));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await build(process.argv[2] ?? "dist");
}
