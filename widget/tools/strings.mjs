// strings lists every text the widget translates: the English string
// literals inside t(...) and tr(...) calls of widget/src (i18n.ts), plus
// the call module's notices shown through the translator, plus the server's
// system notices (pkg/conversation/notice.go: the widget writes a message's
// notice template in the visitor's language). The i18n test checks every
// locale file has each of them.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

export function strings(src) {
  const files = readdirSync(src, { recursive: true })
    .map(String)
    .filter((f) => /\.tsx?$/.test(f));
  const out = new Set();
  for (const f of files) {
    const text = readFileSync(join(src, f), "utf8");
    for (const m of text.matchAll(/\b(?:t|tr)\(/g)) {
      // The call's arguments, up to its closing parenthesis.
      let depth = 1;
      let i = m.index + m[0].length;
      const start = i;
      for (; i < text.length && depth > 0; i++) {
        if (text[i] === "(") depth++;
        else if (text[i] === ")") depth--;
        else if (text[i] === '"') while (text[++i] !== '"') if (text[i] === "\\") i++;
      }
      for (const s of text.slice(start, i - 1).matchAll(/"((?:[^"\\]|\\.)*)"/g)) out.add(JSON.parse(`"${s[1]}"`));
    }
    for (const s of text.matchAll(/export const (?:NO_NETWORK|CONNECTING) = "([^"]*)"/g)) out.add(s[1]);
  }
  const notices = readFileSync(join(src, "../../pkg/conversation/notice.go"), "utf8");
  for (const s of notices.matchAll(/^\tNotice\w+ += ("(?:[^"\\]|\\.)*")$/gm)) out.add(JSON.parse(s[1]));
  return [...out].sort();
}
