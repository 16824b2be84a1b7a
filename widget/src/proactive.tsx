// A proactive message (a site's trigger fired, hostapi.ts): shown at the
// top of the chat as a message from the agent or assistant the site's
// admin named, until the page changes or the visitor answers it (the
// conversation then holds it as its first message, stored).

import { useProactive } from "./hostapi";

export function ProactiveNote({ answered }: { answered: boolean }) {
  const shown = useProactive();
  if (!shown || answered) return null;
  return (
    <div class="pw-msg pw-msg-other pw-proactive" data-testid="proactive">
      <div class="pw-msg-author-row">
        <div class="pw-msg-author" data-testid="proactive-from">
          {shown.from}
        </div>
      </div>
      <div class="pw-bubble" data-testid="proactive-body">
        {shown.message}
      </div>
    </div>
  );
}
