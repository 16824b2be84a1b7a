// The dashboard's one dialog. A modal dialog as people expect it: it takes
// focus when it opens (the first field, else the dialog), keeps Tab and
// Shift+Tab inside, closes on Escape, on the visible Close button or on a
// click outside, and gives focus back to what opened it. Screen readers
// hear a modal named by its title. Every dashboard dialog uses it.

import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { lang, t } from "./i18n";

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** keys closes the dialog box on Escape and keeps Tab inside it. */
function keys(e: KeyboardEvent, box: HTMLElement, close: () => void) {
  if (e.key === "Escape") {
    e.preventDefault();
    close();
    return;
  }
  if (e.key !== "Tab") return;
  const list = focusables(box);
  if (list.length === 0) {
    e.preventDefault();
    return;
  }
  const at = list.indexOf(document.activeElement as HTMLElement);
  if (e.shiftKey && at <= 0) {
    e.preventDefault();
    list[list.length - 1].focus();
  } else if (!e.shiftKey && (at === -1 || at === list.length - 1)) {
    e.preventDefault();
    list[0].focus();
  }
}

function focusables(box: HTMLElement): HTMLElement[] {
  return [...box.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.offsetParent !== null || el === document.activeElement);
}

// Open dialogs, innermost last: keys go to the innermost one, wherever
// focus is (an element that re-rendered away leaves focus on the page).
const open: HTMLElement[] = [];

export function Dialog(props: { title: string; onClose: () => void; wide?: boolean; children: ComponentChildren }) {
  const { title, onClose, wide, children } = props;
  const box = useRef<HTMLDivElement>(null);
  const titleId = useId();
  const close = useRef(onClose);
  close.current = onClose;
  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const el = box.current!;
    // The first field, so typing starts at once; else the dialog itself
    // (not the Close button, which Enter would press by mistake).
    const first = focusables(el).find((f) => f.dataset.testid !== "dialog-close" && f.tagName !== "BUTTON");
    (first ?? el).focus();
    open.push(el);
    const onKeyDown = (e: KeyboardEvent) => {
      if (open[open.length - 1] === el) keys(e, el, () => close.current());
    };
    document.addEventListener("keydown", onKeyDown);
    return () => {
      document.removeEventListener("keydown", onKeyDown);
      open.splice(open.indexOf(el), 1);
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  return (
    <div class="pa-dialog-bg" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div
        ref={box}
        class={"pa-dialog pa-card" + (wide ? " pa-dialog-wide" : "")}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        tabIndex={-1}
        data-testid="dialog"
      >
        <div class="pa-dialog-head">
          <h2 id={titleId}>{title}</h2>
          <button type="button" class="pa-dialog-close" data-testid="dialog-close" aria-label={t("dialog.close")} title={t("dialog.closeEsc")} onClick={onClose}>
            <span aria-hidden="true">×</span>
          </button>
        </div>
        {children}
      </div>
    </div>
  );
}

/** useConfirm asks a yes/no question in a dialog (the browser's confirm()
 * is unstyled and blocks the page): ask(question, action) resolves true
 * when the action's button is pressed, false on Cancel, Escape or a click
 * outside. Render the returned element. */
export function useConfirm(): [preact.JSX.Element | null, (question: string, action: string) => Promise<boolean>] {
  const [q, setQ] = useState<{ question: string; action: string; done: (yes: boolean) => void } | null>(null);
  const ask = (question: string, action: string) => new Promise<boolean>((done) => setQ({ question, action, done }));
  const answer = (yes: boolean) => {
    q?.done(yes);
    setQ(null);
  };
  const el = q && (
    <Dialog title={t("admin.ask", { action: q.action })} onClose={() => answer(false)}>
      <p>{q.question}</p>
      <div class="pa-form-actions">
        <button type="button" class="pa-btn pa-btn-danger-solid" onClick={() => answer(true)}>
          {q.action}
        </button>
        <button type="button" class="pa-btn-outline" onClick={() => answer(false)}>
          {t("common.cancel")}
        </button>
      </div>
    </Dialog>
  );
  return [el, ask];
}

/** ScreenButton is a sidebar button that opens a screen in a wide dialog;
 * the screen mounts when opened, so it loads fresh each time. */
export function ScreenButton(props: { label: string; testid: string; children: () => ComponentChildren }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" class="pa-btn-ghost" data-testid={props.testid} onClick={() => setOpen(true)}>
        {props.label}
      </button>
      {open && (
        <Dialog title={props.label} wide onClose={() => setOpen(false)}>
          {props.children()}
        </Dialog>
      )}
    </>
  );
}

/** Table is an admin screen's list: a header row, then a row per item, or
 * the empty line once the items are known to be none (nothing while they
 * load). It scrolls sideways rather than squeeze on a narrow screen. */
export function Table<T>(props: {
  testid?: string;
  class?: string;
  head: ComponentChildren[];
  rows: readonly T[] | null | undefined;
  empty?: string;
  children: (row: T) => ComponentChildren;
}) {
  const { rows, empty, head } = props;
  return (
    <div class="pa-table-scroll">
      <table class={"pa-table" + (props.class ? " " + props.class : "")} data-testid={props.testid}>
        <thead>
          <tr>
            {head.map((h, i) => (
              <th key={i}>{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {empty && rows?.length === 0 && (
            <tr>
              <td colSpan={head.length} class="pa-empty-line">
                {empty}
              </td>
            </tr>
          )}
          {rows?.map(props.children)}
        </tbody>
      </table>
    </div>
  );
}

/** when shows a stored time in the reader's locale; "—" when there is none. */
export function when(at: string | null | undefined): string {
  return at ? new Date(at).toLocaleString(lang) : "—";
}
