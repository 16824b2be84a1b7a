// buildApp is the esbuild setup both front ends build with (widget/build.mjs
// and agent-app/build.mjs), so both follow one rule: minified, no source
// maps, no legal comments, ES2020, Preact JSX, and byte-for-byte
// reproducible output (the Go binary embeds the committed dist/, and
// check-dist compares it with a fresh build).
//
// esbuild is passed in, not imported here: each app resolves its own pinned
// copy from its own node_modules, so building one app never depends on the
// other's install.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { privateNames } from "./privatenames.mjs";


/** sharedDir is widget/src/shared, the package both apps import as @parley/shared. */
const sharedDir = fileURLToPath(new URL("../src/shared", import.meta.url));
/**
 * onePreact resolves every preact import (preact, preact/hooks, the JSX
 * runtime) from root, the app being built, whichever file imports it. The
 * agent app bundles components from ../widget/src/shared, whose imports
 * would otherwise find the widget's node_modules/preact: two copies in one
 * bundle, and hooks break (each copy has its own current component).
 */
function onePreact(root) {
  return {
    name: "one-preact",
    setup(build) {
      build.onResolve({ filter: /^preact(\/.*)?$/ }, (args) =>
        args.pluginData === "one-preact" ? undefined : build.resolve(args.path, { kind: args.kind, resolveDir: root, pluginData: "one-preact" }),
      );
    },
  };
}

/**
 * buildApp({ esbuild, root, outdir, scripts, modules, base, styles, pages })
 * empties outdir (relative to root) and writes into it:
 *   scripts  { name: "src/entry.ts(x)" } → name.js, one self-contained IIFE each
 *   modules  { name: "src/entry.ts(x)" } → name.js, an ES module split at its
 *            import()s: what only a dynamic import reaches, and what is
 *            shared, goes to chunks/<name>-<hash>.js, fetched when needed
 *   styles   { name: "src/entry.css" }   → name.css
 *   pages    { "file.html": "src/file.html" } copied, with a modulepreload
 *            link (under base, the URL outdir is served at) for each chunk
 *            a module imports statically: the browser fetches them with the
 *            entry instead of after it
 * Entries are relative to root. Each script is built on its own, so no two
 * share a chunk and each file depends only on its own entry. With
 * typescript (the app's copy of the module), the scripts' and modules'
 * private class members get short names (tools/privatenames.mjs).
 */
export async function buildApp({ esbuild, root, outdir, scripts = {}, modules = {}, base = "/", styles = {}, pages = {}, typescript }) {
  // A warning fails the build: esbuild recovers from a broken stylesheet
  // (an unclosed rule nests everything after it) and would ship it.
  const strict = async (options) => {
    const r = await esbuild.build(options);
    if (r.warnings.length > 0) throw new Error(`build: ${r.warnings.length} warning(s) in ${Object.values(options.entryPoints).join(", ")}`);
    return r;
  };
  const out = resolve(root, outdir);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const common = {
    bundle: true,
    minify: true,
    sourcemap: false,
    legalComments: "none",
    charset: "utf8",
    target: ["es2020"],
    logLevel: "warning",
    absWorkingDir: root,
    outdir: out,
  };
  const scriptOptions = {
    ...common,
    jsx: "automatic",
    jsxImportSource: "preact",
    // The code both apps share (live client, transports, WebRTC, calls,
    // formatting) is one package, imported by name: @parley/shared/<module>.
    alias: { "@parley/shared": sharedDir },
    plugins: [onePreact(root)],
  };
  if (typescript) {
    // The library code the scripts bundle (preact) is plain JavaScript the
    // type checker does not see: privateNames reads it as text.
    const { metafile } = await esbuild.build({ ...scriptOptions, format: "esm", entryPoints: { ...scripts, ...modules }, write: false, metafile: true });
    const library = Object.keys(metafile.inputs).filter((p) => p.includes("node_modules/")).map((p) => resolve(root, p));
    const names = privateNames(typescript, root, library);
    if (names.length > 0) scriptOptions.mangleProps = new RegExp(`^(${names.join("|")})$`);
  }
  for (const [name, entry] of Object.entries(scripts)) {
    await strict({ ...scriptOptions, entryPoints: { [name]: entry }, format: "iife" });
  }
  const preloads = [];
  for (const [name, entry] of Object.entries(modules)) {
    const r = await strict({ ...scriptOptions, entryPoints: { [name]: entry }, format: "esm", splitting: true, chunkNames: "chunks/[name]-[hash]", metafile: true });
    const inOut = (file) => relative(out, resolve(root, file));
    const staticImports = (file) => r.metafile.outputs[file].imports.filter((i) => i.kind === "import-statement").map((i) => i.path);
    const seen = new Set();
    const walk = (file) => {
      for (const dep of staticImports(file)) {
        if (seen.has(dep)) continue;
        seen.add(dep);
        preloads.push(inOut(dep));
        walk(dep);
      }
    };
    walk(Object.keys(r.metafile.outputs).find((file) => inOut(file) === `${name}.js`));
  }
  for (const [name, entry] of Object.entries(styles)) {
    await strict({ ...common, entryPoints: { [name]: entry } });
  }
  const links = preloads.map((file) => `<link rel="modulepreload" href="${base}${file}">\n`).join("");
  for (const [file, from] of Object.entries(pages)) {
    writeFileSync(join(out, file), readFileSync(join(root, from), "utf8").replace("</head>", `${links}</head>`));
  }
}
