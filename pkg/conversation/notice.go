package conversation

import "strings"

// The system notices a visitor reads, as templates. The stored body is the
// template filled in English (transcripts, mail, the dashboard); message
// frames also carry the template and its values (protocol.Message Notice
// and Args), so the widget writes the notice in the visitor's language:
// each template is a key of widget/src/locales/<lang>.json.
const (
	NoticeJoined      = "{0} joined the chat"
	NoticeTransferred = "You are now chatting with {0}."
	NoticeHandoff     = "Connecting you with a person…"
	// Routing widened its search for an agent (events.go, tellRelaxed).
	NoticeRelaxedLanguage = "We're finding you an agent who speaks another language; your messages may be translated."
	NoticeRelaxedSkill    = "Our specialists are all busy, so we're finding you another agent who can help."
)

// notices are the templates noticeOf recognizes.
var notices = []string{NoticeJoined, NoticeTransferred, NoticeHandoff, NoticeRelaxedLanguage, NoticeRelaxedSkill}

// Notice fills template's {0} with arg (templates take one value at most).
func Notice(template, arg string) string {
	return strings.Replace(template, "{0}", arg, 1)
}

// noticeOf finds the template a system message's body was filled from, and
// the value it was filled with; "" when the body is none of them (a call's
// record, an agent's summary), which the widget then shows as it is.
func noticeOf(body string) (template string, args []string) {
	for _, t := range notices {
		before, after, one := strings.Cut(t, "{0}")
		if !one {
			if body == t {
				return t, nil
			}
			continue
		}
		if len(body) > len(before)+len(after) && strings.HasPrefix(body, before) && strings.HasSuffix(body, after) {
			return t, []string{body[len(before) : len(body)-len(after)]}
		}
	}
	return "", nil
}
