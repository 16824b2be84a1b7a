// The visitor hears and sees a new reply that arrives while the chat is
// hidden or the tab is in the background: a short soft chime (made with
// Web Audio, no file to load) unless the visitor muted it (remembered in
// this browser), and the loader's badge and title count (parley:unread).

let ctx: AudioContext | null = null;
const muteKey = "parley:muted";

/** muted says whether the visitor turned the sound off. */
export function muted(): boolean {
  try {
    return localStorage.getItem(muteKey) === "1";
  } catch {
    return false;
  }
}

export function setMuted(on: boolean): void {
  try {
    if (on) localStorage.setItem(muteKey, "1");
    else localStorage.removeItem(muteKey);
  } catch {
    // Storage blocked: the choice lasts for this page.
  }
}

/** chime plays two short soft notes; the count is kept on the page
 * (data-chimes) so tests can tell it rang without listening. */
export function chime(): void {
  if (muted()) return;
  document.body.dataset.chimes = String(Number(document.body.dataset.chimes || 0) + 1);
  try {
    ctx ??= new AudioContext();
    const now = ctx.currentTime;
    for (const [i, f] of [660, 880].entries()) {
      const o = ctx.createOscillator();
      const g = ctx.createGain();
      o.frequency.value = f;
      g.gain.setValueAtTime(0.0001, now + i * 0.12);
      g.gain.exponentialRampToValueAtTime(0.08, now + i * 0.12 + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.12 + 0.25);
      o.connect(g).connect(ctx.destination);
      o.start(now + i * 0.12);
      o.stop(now + i * 0.12 + 0.3);
    }
  } catch {
    // No audio here (blocked or missing): the badge still shows.
  }
}
