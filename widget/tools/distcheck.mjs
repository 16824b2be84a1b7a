// checkDist builds an app into a temporary directory and compares it with
// the committed dist/: the Go binary embeds dist/, so a stale dist/ means the
// server would ship code that is not in src/. It also prints gzipped sizes
// and enforces size budgets. Used by widget/ and agent-app/ check-dist.
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name).slice(dir.length + 1))
    .sort();
}

/** gzipSize is the size of a file compressed the way a server would. */
export function gzipSize(path) {
  return gzipSync(readFileSync(path), { level: 9 }).length;
}

/**
 * checkDist({ name, distDir, build, budgets }) → exit code.
 * build(outdir) must write the app into outdir. budgets is a list of
 * { label, files: [names in dist], maxGzipBytes }.
 */
export async function checkDist({ name, distDir, build, budgets = [] }) {
  const tmp = mkdtempSync(join(tmpdir(), `parley-${name}-dist-`));
  let failed = false;
  try {
    await build(tmp);
    const fresh = listFiles(tmp);
    const committed = listFiles(distDir);
    const stale = [];
    for (const f of new Set([...fresh, ...committed])) {
      if (!fresh.includes(f)) stale.push(`${f} (in dist/ but no longer built)`);
      else if (!committed.includes(f)) stale.push(`${f} (built but missing from dist/)`);
      else if (!readFileSync(join(tmp, f)).equals(readFileSync(join(distDir, f)))) stale.push(`${f} (differs)`);
    }
    if (stale.length) {
      failed = true;
      console.error(`${name}: dist/ is stale; run "npm run build" in ${name}/ and commit dist/:`);
      for (const s of stale) console.error(`  ${s}`);
    } else {
      console.log(`${name}: dist/ matches a fresh build (${fresh.length} files)`);
    }
    for (const f of fresh) {
      const raw = readFileSync(join(tmp, f)).length;
      console.log(`  ${f.padEnd(14)} ${String(raw).padStart(7)} B  ${String(gzipSize(join(tmp, f))).padStart(6)} B gzipped`);
    }
    for (const b of budgets) {
      const size = b.files.reduce((sum, f) => sum + gzipSize(join(tmp, f)), 0);
      const ok = size <= b.maxGzipBytes;
      if (!ok) failed = true;
      console.log(`  budget ${b.label}: ${size} B gzipped of ${b.maxGzipBytes} B ${ok ? "ok" : "OVER BUDGET"}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}
