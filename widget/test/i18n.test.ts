// Every text of the widget is translated into each of its languages, with
// the same placeholders, and the language is chosen as README says: the
// site's, then the host page's boot option, then the browser's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
// @ts-expect-error: a plain ES module of the build tools
import { strings } from "../tools/strings.mjs";
import { LANGUAGES, choose, t } from "../src/i18n";
import { msgKey, shortKeys } from "../src/msgkey.mjs";

const src = join(process.cwd(), "src");

test("every widget string is in every locale, with its placeholders", () => {
  const keys: string[] = strings(src);
  assert.ok(keys.length > 80, `found ${keys.length} strings: the extraction broke`);
  for (const l of LANGUAGES.slice(1)) {
    const table: Record<string, string> = JSON.parse(readFileSync(join(src, "locales", l + ".json"), "utf8"));
    const missing = keys.filter((k) => !table[k]);
    assert.deepEqual(missing, [], `${l} lacks translations`);
    for (const k of keys) {
      for (const p of k.match(/\{\d\}/g) ?? []) assert.ok(table[k].includes(p), `${l}: "${table[k]}" lacks ${p}`);
    }
    const unused = Object.keys(table).filter((k) => !keys.includes(k));
    assert.deepEqual(unused, [], `${l} has strings the widget no longer uses`);
  }
});

test("the site's language wins, then the boot option, then the browser's", () => {
  assert.equal(choose("de", "fr", ["es-ES"]), "de");
  assert.equal(choose("", "fr-CA", ["es-ES"]), "fr-CA");
  assert.equal(choose(undefined, null, ["ja-JP", "pt-BR", "en"]), "pt-BR");
  assert.equal(choose("", "xx", ["ja"]), "en");
  assert.equal(choose("", "pt_PT", []), "pt-PT");
});

test("placeholders are filled, English when no table is loaded", () => {
  assert.equal(t("{0} is typing…", "Ada"), "Ada is typing…");
  assert.equal(t("Waiting for an agent — you are number {0}, about {1} min", 1200, 2), "Waiting for an agent — you are number 1,200, about 2 min");
});

test("a built table finds every string by its short key", () => {
  const fr: Record<string, string> = JSON.parse(readFileSync(join(src, "locales", "fr.json"), "utf8"));
  const built = shortKeys(fr);
  const salt = Number(built["#"]);
  for (const [en, text] of Object.entries(fr)) assert.equal(built[msgKey(en, salt)], text, en);
});
