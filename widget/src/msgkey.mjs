// msgKey is the short key of an English string in the built locale tables
// (dist/locale-<lang>.json): a salted FNV-1a hash of its UTF-16 code units,
// at most three base-36 characters. The tables in src/locales stay keyed by
// the English text, for translators; the build swaps each key for its
// msgKey, with the first salt under which no two strings share a key, and
// writes that salt in the table ("#"), so a visitor does not download
// every English sentence a second time. Shared by the build (build.mjs)
// and the frame (i18n.ts).
export function msgKey(s, salt) {
  let h = 2166136261 ^ salt;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return ((h >>> 0) % 46656).toString(36);
}

/** shortKeys keys a table by msgKey of each English string, with the first
 * salt that gives every string its own key. */
export function shortKeys(table) {
  for (let salt = 0; ; salt++) {
    const out = { "#": salt };
    for (const [en, text] of Object.entries(table)) out[msgKey(en, salt)] = text;
    if (Object.keys(out).length === Object.keys(table).length + 1) return out;
  }
}
