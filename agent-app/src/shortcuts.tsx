// Keyboard shortcuts for the common actions, and the sheet that lists
// them (?). Single keys act only when no text field has focus, so typing
// is never taken; Alt+↑/↓ move between conversations from anywhere. The
// actions press the same controls a person would (the inbox items, the
// Close and Transfer buttons), so a shortcut can do nothing the screen
// does not offer.

import { useEffect, useState } from "preact/hooks";
import { Dialog } from "./dialog";
import { NOTE_MODE_EVENT } from "./composer";
import { type Key, t } from "./i18n";

const SHEET: [string, Key][] = [
  ["J  or  Alt+↓", "keys.next"],
  ["K  or  Alt+↑", "keys.previous"],
  ["R", "keys.reply"],
  ["N", "keys.note"],
  ["C", "keys.close"],
  ["T", "keys.transfer"],
  ["/", "keys.canned"],
  ["Esc", "keys.escape"],
  ["?", "keys.help"],
];

function typing(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  return !!el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
}

function click(selector: string): boolean {
  const el = document.querySelector<HTMLElement>(selector);
  el?.click();
  return !!el;
}

/** move opens the next (+1) or previous (-1) conversation of the inbox,
 * in the order it shows them. */
function move(step: number) {
  const items = [...document.querySelectorAll<HTMLElement>("[data-testid=inbox-item]")];
  if (items.length === 0) return;
  const at = items.findIndex((el) => el.getAttribute("aria-current") === "true");
  const next = at < 0 ? (step > 0 ? 0 : items.length - 1) : Math.min(items.length - 1, Math.max(0, at + step));
  items[next].click();
  items[next].focus();
}

/** Shortcuts listens for the keys and renders the sheet when asked. */
export function Shortcuts() {
  const [sheet, setSheet] = useState(false);
  useEffect(() => {
    const on = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.isComposing) return;
      if (document.querySelector("[role=dialog]")) return; // a dialog has the keys
      if (e.altKey && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
        e.preventDefault();
        move(e.key === "ArrowDown" ? 1 : -1);
        return;
      }
      if (typing(e.target)) {
        if (e.key === "Escape") (e.target as HTMLElement).blur();
        return;
      }
      if (e.altKey) return;
      const acts: Record<string, () => unknown> = {
        j: () => move(1),
        k: () => move(-1),
        r: () => document.querySelector<HTMLElement>("[data-testid=composer]")?.focus(),
        n: () => dispatchEvent(new Event(NOTE_MODE_EVENT)),
        c: () => click("[data-testid=close-conversation]"),
        t: () => click("[data-testid=transfer]"),
        "?": () => setSheet(true),
      };
      const act = acts[e.key.length === 1 ? e.key.toLowerCase() : ""] ?? (e.key === "?" ? acts["?"] : undefined);
      if (!act) return;
      e.preventDefault();
      act();
    };
    document.addEventListener("keydown", on);
    return () => document.removeEventListener("keydown", on);
  }, []);
  return (
    <>
      <button type="button" class="pa-btn-ghost" data-testid="shortcuts-open" onClick={() => setSheet(true)}>
        {t("keys.open")} <kbd>?</kbd>
      </button>
      {sheet && (
        <Dialog title={t("keys.open")} onClose={() => setSheet(false)}>
          <table class="pa-shortcuts" aria-label={t("keys.open")}>
            <tbody>
              {SHEET.map(([keys, what]) => (
                <tr key={keys}>
                  <td>
                    {keys.split("  or  ").map((k, i) => (
                      <span key={k}>
                        {i > 0 && ` ${t("keys.or")} `}
                        <kbd>{k}</kbd>
                      </span>
                    ))}
                  </td>
                  <td>{t(what)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Dialog>
      )}
    </>
  );
}
