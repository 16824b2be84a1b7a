// npm run check-dist: fails when dist/ differs from a fresh build.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "./build.mjs";
import { checkDist } from "../widget/tools/distcheck.mjs";

const root = dirname(fileURLToPath(import.meta.url));
process.exitCode = await checkDist({ name: "agent-app", distDir: join(root, "dist"), build });
