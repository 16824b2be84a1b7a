#!/bin/bash
# make tour: runs the browser tests that take the README tour's screenshots
# and copies them into docs/tour/ (commit the result), so the tour shows
# the product as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
shots=$(mktemp -d)
trap 'rm -rf "$shots"' EXIT
# test file → its screenshot → the tour's name for it
tour=(
  "inbox inbox-visitor-panel 1-inbox"
  "notes notes-canned-picker 2-canned-replies"
  "attachments attachments-visitor 3-widget"
  "assistant widget-assistant-answer 4-assistant"
  "search search-results 5-search"
  "supervision supervision-reassigned 6-supervision"
  "reports reports-month 7-reports"
  "contacts contacts-list 8-contacts"
  "admin-integrations admin-webhooks-log 9-webhooks"
  "dashboard-i18n i18n-ar-conversation 10-arabic"
)
files=$(printf '%s\n' "${tour[@]}" | awk '{print $1 ".test.mjs"}' | sort -u)
(cd e2e && PARLEY_SCREENSHOTS="$shots" node --test $files)
mkdir -p docs/tour
for t in "${tour[@]}"; do
  set -- $t
  cp "$shots/$2.png" "docs/tour/$3.png"
done
echo "tour: $(ls docs/tour | wc -l) screenshots in docs/tour"
