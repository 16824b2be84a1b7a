// npm run check-dist: fails when dist/ differs from a fresh build or the
// widget is over its size budgets (docs/DESIGN.md, "Budgets").
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "./build.mjs";
import { checkDist } from "./tools/distcheck.mjs";

const root = dirname(fileURLToPath(import.meta.url));
process.exitCode = await checkDist({
  name: "widget",
  distDir: join(root, "dist"),
  build,
  budgets: [
    { label: "loader widget.js", files: ["widget.js"], maxGzipBytes: 2 * 1024 },
    {
      label: "whole widget (loader + frame html/js/css)",
      files: ["widget.js", "frame.html", "frame.js", "frame.css"],
      maxGzipBytes: 35 * 1024,
    },
  ],
});
