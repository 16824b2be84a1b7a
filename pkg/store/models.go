package store

import "time"

// The gorm models. Every row but Workspace carries WorkspaceID, and every
// query goes through a Scoped store that adds it (see scoped.go), so a query
// cannot forget it.

// Workspace is one customer account: its agents, sites and conversations.
type Workspace struct {
	ID   string `gorm:"primaryKey;size:36"`
	Name string `gorm:"size:200;not null"`
	// Require2FAForAdmins: an admin without two-factor sign-in may only
	// enrol in it (pkg/service/http_totp.go).
	Require2FAForAdmins bool `gorm:"column:require_2fa_for_admins;not null;default:false"`
	// Retention in days (0: forever) of closed conversations, with all
	// keyed by them, and of page views (retention.go).
	RetainMessagesDays  int `gorm:"not null;default:0"`
	RetainPageViewsDays int `gorm:"not null;default:0"`
	CreatedAt           time.Time
}

// Site is a website that embeds the widget.
type Site struct {
	ID          string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;index"`
	Name        string `gorm:"size:200;not null"`
	// AllowedOrigins lists, space-separated, the origins (scheme://host[:port])
	// whose pages may embed the widget.
	AllowedOrigins string `gorm:"size:2000;not null;default:''"`
	// Secret signs identity verification hashes and JWTs of this site's
	// backend. Never sent to the widget.
	Secret string `gorm:"size:100;not null"`
	// IdentityRequired: visitors must prove who they are (a user hash or
	// JWT from the site's backend) before they may chat.
	IdentityRequired bool `gorm:"not null;default:false"`
	// Routing rules (see pkg/routing.Rules). RoutingMode is "auto" or
	// "offer"; RelaxAfter lists seconds, comma-separated ("30,60,120"),
	// DefaultRelaxAfter for a new site (site_defaults.go), empty: never;
	// BusinessHours is JSON {"mon":["09:00-17:00"],...} in TimeZone (IANA),
	// empty for always open.
	RoutingMode         string `gorm:"size:10;not null;default:'auto'"`
	OfferTimeoutSeconds int    `gorm:"not null;default:30"`
	MaxMisses           int    `gorm:"not null;default:3"`
	RelaxAfter          string `gorm:"size:100;not null;default:''"`
	BusinessHours       string `gorm:"type:text;not null;default:''"`
	TimeZone            string `gorm:"size:64;not null;default:''"`
	// Entry rules, JSON: PageRules [{"pattern":"/pricing*","skill":"sales"}]
	// (the first match of the page a conversation starts on sets what it
	// needs), PrechatChoices [{"label":"Sales","skill":"sales"}] (what the
	// widget's pre-chat form offers). See pkg/routing.PageRule and Choice.
	PageRules      string `gorm:"type:text;not null;default:''"`
	PrechatChoices string `gorm:"type:text;not null;default:''"`
	// PrechatFields: what the pre-chat form asks (prechat_fields.go).
	PrechatFields string `gorm:"type:text;not null;default:''"`
	// VisitorCalls: the site's visitors may start voice calls (agents
	// always may).
	VisitorCalls bool `gorm:"not null;default:false"`
	// The widget's look (sites.go): its header title and greeting (empty:
	// the widget's own words), accent colour (#rrggbb; empty: the
	// default blue), launcher corner ("right" or "left"), and whether
	// agents' avatars show beside their messages.
	WidgetTitle      string `gorm:"size:60;not null;default:''"`
	WidgetGreeting   string `gorm:"size:300;not null;default:''"`
	AccentColor      string `gorm:"size:7;not null;default:''"`
	LauncherPosition string `gorm:"size:10;not null;default:'right'"`
	ShowAvatars      bool   `gorm:"not null;default:true"`
	// Language is the widget's language (widget_language.go); empty: the
	// visitor's.
	Language string `gorm:"size:10;not null;default:''"`
	// Attachments the site's visitors and agents may send (attachments.go):
	// the largest in bytes (0: the default) and the MIME types allowed,
	// space-separated (empty: the default list).
	AttachMaxBytes int64  `gorm:"not null;default:0"`
	AttachTypes    string `gorm:"size:2000;not null;default:''"`
	// ConversionWindowHours: a purchase counts for a conversation started
	// at most this long before it (conversions.go).
	ConversionWindowHours int `gorm:"not null;default:168"`
	CreatedAt             time.Time
}

// Agent is a person who answers chats.
type Agent struct {
	ID          string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;index;uniqueIndex:idx_agents_ws_email,priority:1"`
	// Email is unique within the workspace: one person may be an agent of
	// several workspaces with one address (sign-in then asks which).
	Email        string `gorm:"size:320;not null;uniqueIndex:idx_agents_ws_email,priority:2"`
	Name         string `gorm:"size:200;not null"`
	Role         string `gorm:"size:20;not null"`
	PasswordHash string `gorm:"size:200;not null"`
	// Status is what the agent chose (online or away); whether they are
	// connected at all is presence, kept by the server.
	Status   string `gorm:"size:20;not null;default:'away'"`
	Capacity int    `gorm:"not null;default:5"`
	// Languages, Skills and Teams are comma-separated lists ("en,fr").
	Languages string `gorm:"size:500;not null;default:''"`
	Skills    string `gorm:"size:1000;not null;default:''"`
	Teams     string `gorm:"size:1000;not null;default:''"`
	// DisabledAt is when an admin disabled the agent (nil: enabled); a
	// disabled agent cannot sign in (agents.go). LastSeenAt is when it
	// last signed in or connected.
	DisabledAt *time.Time
	LastSeenAt *time.Time
	// TOTPSecret is the sealed two-factor secret (totp.go; "": none), on
	// when TOTPEnabledAt is set; TOTPLastStep is the last code's step
	// used to sign in, refused again.
	TOTPSecret    string `gorm:"column:totp_secret;type:text;not null;default:''" json:"-"`
	TOTPEnabledAt *time.Time
	TOTPLastStep  int64 `gorm:"column:totp_last_step;not null;default:0"`
	// Locale is the dashboard language the agent chose (agent_locale.go;
	// "": the browser's).
	Locale    string `gorm:"size:20;not null;default:''"`
	CreatedAt time.Time
}

// Session is a signed-in agent's browser session. Only a hash of the cookie
// value is stored, so a leaked database does not leak sessions.
type Session struct {
	TokenHash   string `gorm:"primaryKey;size:64"`
	AgentID     string `gorm:"size:36;not null;index"`
	WorkspaceID string `gorm:"size:36;not null"`
	CSRFToken   string `gorm:"size:64;not null"`
	ExpiresAt   time.Time
	CreatedAt   time.Time
}

// Visitor is a person on a customer's site.
type Visitor struct {
	ID          string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;index"`
	SiteID      string `gorm:"size:36;not null;index;index:idx_visitor_user"`
	// UserID is the customer's own id for this person, set only when the
	// site's backend vouched for it (identity verification).
	UserID string `gorm:"size:256;not null;default:'';index:idx_visitor_user"`
	Name   string `gorm:"size:200;not null"`
	// Email is a verified user's, from the identity JWT (sealed).
	Email      string `gorm:"type:text;not null;default:''"`
	Locale     string `gorm:"size:35;not null;default:''"`
	CreatedAt  time.Time
	LastSeenAt time.Time
	// Presence is the visitor's connection state as agents see it:
	// online, away (the page is hidden), gone (no connection), or ""
	// (not known); LastSeenAt is when it last changed.
	Presence string `gorm:"size:10;not null;default:''"`
	// PageURL is the page the widget was last opened on (for page rules).
	PageURL string `gorm:"size:1000;not null;default:''"`
	// Phone and Profile (custom fields, JSON by label) are what the
	// visitor gave in the pre-chat form (prechat_fields.go), sealed.
	Phone   string `gorm:"type:text;not null;default:''"`
	Profile string `gorm:"type:text;not null;default:''"`
	// UserAgent and the place (from the GeoIP database, when configured)
	// are what the visitor's latest session request told
	// (visitor_device.go).
	UserAgent   string `gorm:"size:512;not null;default:''"`
	CountryCode string `gorm:"size:2;not null;default:''"`
	Country     string `gorm:"size:100;not null;default:''"`
	Region      string `gorm:"size:100;not null;default:''"`
	City        string `gorm:"size:100;not null;default:''"`
	// RefreshHash is the SHA-256 of the refresh secret the widget keeps to
	// get a new token once its short-lived one expired; PrevRefreshHash
	// the one before the latest rotation (accepted briefly, for two tabs
	// that refresh at once). RefreshedAt is when it was rotated.
	RefreshHash     string `gorm:"size:64;not null;default:''"`
	PrevRefreshHash string `gorm:"size:64;not null;default:''"`
	RefreshedAt     *time.Time
	// ContactID is the contact this visitor is one of ("" none yet;
	// contacts.go).
	ContactID string `gorm:"size:36;not null;default:'';index:idx_visitors_contact"`
}

// Conversation is one chat between a visitor and the agents of a workspace.
// LastSeq is the seq of its newest message: messages are numbered 1, 2, 3…
// with no gaps (see AppendMessage).
type Conversation struct {
	ID          string  `gorm:"primaryKey;size:36"`
	WorkspaceID string  `gorm:"size:36;not null;index:idx_conv_ws_status"`
	SiteID      string  `gorm:"size:36;not null"`
	VisitorID   string  `gorm:"size:36;not null;index"`
	AgentID     *string `gorm:"size:36;index"`
	Status      string  `gorm:"size:20;not null;index:idx_conv_ws_status"`
	Language    string  `gorm:"size:35;not null;default:''"`
	// Routing: what the conversation needs (empty: any), its priority
	// (higher first), the reason routing gave for its latest decision, the
	// note of its latest transfer, and, for an offline message, the
	// contact the visitor left.
	Skill         string `gorm:"size:100;not null;default:''"`
	Team          string `gorm:"size:100;not null;default:''"`
	Priority      int    `gorm:"not null;default:0"`
	RoutingReason string `gorm:"size:1000;not null;default:''"`
	// RoutingSummary: why its agent has it, in a sentence for agents.
	RoutingSummary string `gorm:"size:300;not null;default:''"`
	TransferNote   string `gorm:"size:1000;not null;default:''"`
	ContactName    string `gorm:"size:200;not null;default:''"`
	ContactEmail   string `gorm:"size:320;not null;default:''"`
	LastSeq        int64  `gorm:"not null;default:0"`
	LastBody       string `gorm:"type:text;not null;default:''"` // sealed when encryption is on
	// HandedOff: the visitor left the assistant for a person (or the
	// assistant failed); the assistant does not take it back.
	HandedOff bool `gorm:"not null;default:false"`
	// MailedSeq: messages up to it were mailed, or needed no mail (email.go).
	MailedSeq int64 `gorm:"not null;default:0"`
	// The visitor's rating of the ended chat (csat.go): 1 to 5, 0 for
	// none; the comment is sealed when encryption is on.
	CsatRating  int    `gorm:"not null;default:0"`
	CsatComment string `gorm:"type:text;not null;default:''"`
	CsatAt      *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ClosedAt    *time.Time
	// AssignedAt is when an agent first had it (reports.go: queue wait).
	AssignedAt *time.Time
	// InboxState is open (""), pending or snoozed (State*) while the
	// conversation is not closed; SnoozedUntil is when a snoozed one
	// comes back (inbox.go).
	InboxState   string `gorm:"size:10;not null;default:''"`
	SnoozedUntil *time.Time
	// Read receipts (read_receipts.go): the highest seq the visitor read,
	// and the highest any agent read.
	VisitorReadSeq int64 `gorm:"not null;default:0"`
	AgentReadSeq   int64 `gorm:"not null;default:0"`
}

// Message is one stored chat message. (ConversationID, Seq) and
// (ConversationID, ClientID) are unique: the first orders, the second makes
// resends idempotent.
type Message struct {
	ID             int64  `gorm:"primaryKey;autoIncrement"`
	WorkspaceID    string `gorm:"size:36;not null"`
	ConversationID string `gorm:"size:36;not null;uniqueIndex:idx_msg_conv_seq,priority:1;uniqueIndex:idx_msg_conv_client,priority:1"`
	Seq            int64  `gorm:"not null;uniqueIndex:idx_msg_conv_seq,priority:2"`
	ClientID       string `gorm:"size:64;not null;uniqueIndex:idx_msg_conv_client,priority:2"`
	AuthorKind     string `gorm:"size:20;not null"`
	AuthorID       string `gorm:"size:36;not null"`
	AuthorName     string `gorm:"type:text;not null"` // sealed when encryption is on
	Body           string `gorm:"type:text;not null"` // sealed when encryption is on
	// Audience is who a system message is for: "" everyone, or only the
	// "visitor" or only the "agent" side (protocol.Audience*).
	Audience string `gorm:"size:20;not null;default:''"`
	// Sources are the help articles an assistant's answer came from (JSON
	// of protocol.Source; empty for every other message).
	Sources string `gorm:"type:text;not null;default:''"`
	// Attachment is the file the message carries (JSON of
	// protocol.Attachment, sealed when encryption is on; empty for none).
	Attachment string `gorm:"type:text;not null;default:''"`
	CreatedAt  time.Time
}
