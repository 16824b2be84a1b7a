// npm run check-dist: fails when dist/ differs from a fresh build or the
// widget is over its size budgets (docs/DESIGN.md, "Budgets").
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LOCALES, build } from "./build.mjs";
import { checkDist } from "./tools/distcheck.mjs";

const root = dirname(fileURLToPath(import.meta.url));
process.exitCode = await checkDist({
  name: "widget",
  distDir: join(root, "dist"),
  build,
  budgets: [
    { label: "loader widget.js", files: ["widget.js"], maxGzipBytes: 2 * 1024 },
    // A visitor loads the frame and at most one language: each language
    // counts against the whole widget's budget.
    ...["en", ...LOCALES].map((l) => ({
      label: `whole widget in ${l} (loader + host API + frame html/js/css${l === "en" ? "" : " + locale-" + l + ".json"})`,
      files: ["widget.js", "host.js", "frame.html", "frame.js", "frame.css", ...(l === "en" ? [] : [`locale-${l}.json`])],
      maxGzipBytes: 35 * 1024,
    })),
  ],
});
