// Screens the first view does not show (admin screens, reports with its
// charts, supervision, the first-run checklist) are chunks of their own
// (build.mjs splits app.js at each import()), so an agent's first view
// downloads, compiles and runs only the inbox and the conversation. A
// component taken from such a chunk renders its placeholder until the
// chunk has loaded, then the real component with the same props.

import type { ComponentChild, ComponentType, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { t } from "./i18n";

/** When a chunk loads: "now" as soon as one of its components shows (a
 * screen that was opened), "later" once the first view is on screen and
 * the browser idle (the sidebar's buttons: they show a moment after the
 * inbox, and their code does not hold it up). */
type When = "now" | "later";

let showFirstView = () => {};
const firstViewShown = new Promise<void>((resolve) => (showFirstView = resolve));

/** firstViewDone tells the "later" chunks that the first view is on
 * screen (the dashboard's live inbox has arrived). */
export function firstViewDone(): void {
  showFirstView();
}

/** MOST_LATER_MS: the "later" chunks load after this even when the first
 * view never comes (the live connection cannot open): the admin screens
 * still work over HTTP. */
const MOST_LATER_MS = 3000;

/** afterFirstView runs f once the first view is shown and the page has
 * been idle (or after a second: not every browser has
 * requestIdleCallback); the returned function cancels it. */
function afterFirstView(f: () => void): () => void {
  let cancelIdle = () => {};
  let live = true;
  void Promise.race([firstViewShown, new Promise((r) => setTimeout(r, MOST_LATER_MS))]).then(() => {
    if (!live) return;
    if ("requestIdleCallback" in window) {
      const id = requestIdleCallback(f, { timeout: 1000 });
      cancelIdle = () => cancelIdleCallback(id);
    } else {
      const id = setTimeout(f, 300);
      cancelIdle = () => clearTimeout(id);
    }
  });
  return () => {
    live = false;
    cancelIdle();
  };
}

type Props<C> = C extends ComponentType<infer P> ? P : never;

/**
 * chunk(load) is a chunk's loader, loading it once whichever of its
 * components asks first; chunk(load)(name, when, placeholder) is one of
 * its components (placeholder: what shows until it has loaded; nothing
 * by default). A chunk that fails to load (the server went away, or was
 * upgraded to other chunks) says so instead, and is tried again the next
 * time one of its components shows.
 */
export function chunk<M>(load: () => Promise<M>) {
  let module: M | undefined;
  let loading: Promise<M> | undefined;
  const get = () =>
    (loading ??= load().then(
      (m) => (module = m),
      (e: unknown) => {
        loading = undefined;
        throw e;
      },
    ));
  return function part<K extends keyof M>(name: K, when: When, placeholder?: (props: Props<M[K]>) => ComponentChild): M[K] {
    function Lazy(props: Props<M[K]>): JSX.Element | null {
      const [, setLoaded] = useState(false);
      const [failed, setFailed] = useState(false);
      useEffect(() => {
        if (module) return;
        let live = true;
        const start = () =>
          void get().then(
            () => live && setLoaded(true),
            () => live && setFailed(true),
          );
        const cancel = when === "now" ? (start(), undefined) : afterFirstView(start);
        return () => {
          live = false;
          cancel?.();
        };
      }, []);
      if (module) {
        const Loaded = module[name] as unknown as ComponentType<object>;
        return <Loaded {...(props as object)} />;
      }
      if (failed) {
        return (
          <span class="pa-muted" role="alert">
            {t("error.network")}
          </span>
        );
      }
      return <>{placeholder?.(props) ?? null}</>;
    }
    return Lazy as M[K];
  }
}
