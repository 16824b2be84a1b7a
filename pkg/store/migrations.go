package store

import (
	"strings"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// migrations lists every schema change in order. Each one is frozen once it
// has shipped: it declares the tables as they were at that version (not the
// current models), so an old install upgrades through the same steps a new
// one runs. Add a new migration for every change; never edit an old one.
var migrations = []*gormigrate.Migration{
	{ID: "2026112501_initial", Migrate: migrateInitial},
	{ID: "2026112502_verified_visitors", Migrate: migrateVerifiedVisitors},
	{ID: "2026112503_routing", Migrate: migrateRouting},
	{ID: "2026112504_security", Migrate: migrateSecurity},
	{ID: "2026112505_routing_rules", Migrate: migrateRoutingRules},                             // routing_rules.go
	{ID: "2026112506_calls", Migrate: migrateCalls},                                            // calls.go
	{ID: "2026112508_seal_site_secrets", Migrate: migrateSealSiteSecrets},                      // site_secret.go
	{ID: "2026112509_agent_admin", Migrate: migrateAgentAdmin},                                 // agents.go
	{ID: "2026120701_agentui_message_audience", Migrate: migrateMessageAudience},               // agentview.go
	{ID: "2026120702_agentui_routing_summary", Migrate: migrateRoutingSummary},                 // agentview.go
	{ID: "2026120703_sites_widget_look", Migrate: migrateWidgetLook},                           // sites.go
	{ID: "2026120704_routing_relax_defaults", Migrate: migrateRelaxDefaults},                   // site_defaults.go
	{ID: "2026120705_agentui_visitor_presence", Migrate: migrateVisitorPresence},               // agentview.go
	{ID: "2026120710_seclive_sealed_author_names", Migrate: migrateSealAuthorNames},            // author_name.go
	{ID: "2026120711_sites_agent_email_per_workspace", Migrate: migrateAgentEmailPerWorkspace}, // agent_email.go
	{ID: "2026120720_totp_two_factor", Migrate: migrateTOTP},                                   // totp.go
	{ID: "2026120754_assistant_knowledge", Migrate: migrateAssistant},                          // knowledge.go
	{ID: "2026120734_wapi_visitor_activity", Migrate: migrateVisitorActivity},                  // visitor_activity.go
	{ID: "2026120742_inbox_states_tags", Migrate: migrateInboxStatesTags},                      // inbox.go
	{ID: "2026120758_email_settings_outbox", Migrate: migrateEmail},                            // email.go
	{ID: "2026120738_wui_site_language", Migrate: migrateSiteLanguage},                         // widget_language.go
	{ID: "2026120739_wui_csat", Migrate: migrateCSAT},                                          // csat.go
	{ID: "2026120746_notes_private_notes", Migrate: migrateNotes},                              // notes.go
	{ID: "2026120747_notes_canned_replies", Migrate: migrateCanned},                            // canned.go
	{ID: "2026120748_notes_notify_prefs", Migrate: migrateNotifyPrefs},                         // notify_prefs.go
	{ID: "2026120762_rights_retention", Migrate: migrateRetention},                             // retention.go
	{ID: "2026120750_api_tokens", Migrate: migrateAPITokens},                                   // apitokens.go
	{ID: "2026120751_api_webhooks", Migrate: migrateWebhooks},                                  // webhooks.go
	{ID: "2026120740_wui_prechat_fields", Migrate: migratePrechatFields},                       // prechat_fields.go
	{ID: "2026120880_translate_message_translations", Migrate: migrateTranslations},            // translations.go
	{ID: "2026120830_reports_assigned_at", Migrate: migrateReportsAssignedAt},                  // reports.go
	{ID: "2026120831_reports_conversions", Migrate: migrateConversions},                        // conversions.go
	{ID: "2026120801_search_index", Migrate: migrateSearch},                                    // search.go
	{ID: "2026120802_search_status_history", Migrate: migrateStatusHistory},                    // status_history.go
	{ID: "2026120835_attach_attachments", Migrate: migrateAttachments},                         // attachments.go
	{ID: "2026120847_perf_announcements", Migrate: migrateAnnouncements},                       // announce.go
	{ID: "2026120881_lead_visitor_device", Migrate: migrateVisitorDevice},                      // visitor_device.go
	{ID: "2026120836_attach_read_cursors", Migrate: migrateReadCursors},                        // read_receipts.go
	{ID: "2026120890_admin_webhook_controls", Migrate: migrateWebhookControls},                 // webhooks.go
	{ID: "2026120832_reports_conversation_stats", Migrate: migrateConversationStats},           // conversation_stats.go
	{ID: "2026120833_search_gaps", Migrate: migrateSearchGaps},                                 // search.go
	{ID: "2026120891_contacts_contacts", Migrate: migrateContacts},                             // contacts.go
	{ID: "2026120891_i18n_agent_locale", Migrate: migrateAgentLocale},                          // agent_locale.go
	{ID: "2026120891_assist_translation_settings", Migrate: migrateTranslationSettings},        // translation_settings.go
	{ID: "2026120892_firstview_live_index", Migrate: migrateLiveInboxIndex},                    // inbox.go
	{ID: "2026120893_reports_buckets", Migrate: migrateReportBuckets},                          // report_buckets.go
}

func migrate(db *gorm.DB) error {
	m := gormigrate.New(db, &gormigrate.Options{TableName: "schema_migrations", IDColumnSize: 100, UseTransaction: true}, migrations)
	return m.Migrate()
}

// The schema of 2026112501_initial.
type (
	v1Workspace struct {
		ID        string `gorm:"primaryKey;size:36"`
		Name      string `gorm:"size:200;not null"`
		CreatedAt time.Time
	}
	v1Site struct {
		ID             string `gorm:"primaryKey;size:36"`
		WorkspaceID    string `gorm:"size:36;not null;index"`
		Name           string `gorm:"size:200;not null"`
		AllowedOrigins string `gorm:"size:2000;not null;default:''"`
		Secret         string `gorm:"size:100;not null"`
		CreatedAt      time.Time
	}
	v1Agent struct {
		ID           string `gorm:"primaryKey;size:36"`
		WorkspaceID  string `gorm:"size:36;not null;index"`
		Email        string `gorm:"size:320;not null;uniqueIndex"`
		Name         string `gorm:"size:200;not null"`
		Role         string `gorm:"size:20;not null"`
		PasswordHash string `gorm:"size:200;not null"`
		Status       string `gorm:"size:20;not null;default:'away'"`
		Capacity     int    `gorm:"not null;default:5"`
		CreatedAt    time.Time
	}
	v1Session struct {
		TokenHash   string `gorm:"primaryKey;size:64"`
		AgentID     string `gorm:"size:36;not null;index"`
		WorkspaceID string `gorm:"size:36;not null"`
		CSRFToken   string `gorm:"size:64;not null"`
		ExpiresAt   time.Time
		CreatedAt   time.Time
	}
	v1Visitor struct {
		ID          string `gorm:"primaryKey;size:36"`
		WorkspaceID string `gorm:"size:36;not null;index"`
		SiteID      string `gorm:"size:36;not null;index"`
		Name        string `gorm:"size:200;not null"`
		Locale      string `gorm:"size:35;not null;default:''"`
		CreatedAt   time.Time
		LastSeenAt  time.Time
	}
	v1Conversation struct {
		ID          string  `gorm:"primaryKey;size:36"`
		WorkspaceID string  `gorm:"size:36;not null;index:idx_conv_ws_status"`
		SiteID      string  `gorm:"size:36;not null"`
		VisitorID   string  `gorm:"size:36;not null;index"`
		AgentID     *string `gorm:"size:36;index"`
		Status      string  `gorm:"size:20;not null;index:idx_conv_ws_status"`
		Language    string  `gorm:"size:35;not null;default:''"`
		LastSeq     int64   `gorm:"not null;default:0"`
		LastBody    string  `gorm:"type:text;not null;default:''"`
		CreatedAt   time.Time
		UpdatedAt   time.Time
		ClosedAt    *time.Time
	}
	v1Message struct {
		ID             int64  `gorm:"primaryKey;autoIncrement"`
		WorkspaceID    string `gorm:"size:36;not null"`
		ConversationID string `gorm:"size:36;not null;uniqueIndex:idx_msg_conv_seq,priority:1;uniqueIndex:idx_msg_conv_client,priority:1"`
		Seq            int64  `gorm:"not null;uniqueIndex:idx_msg_conv_seq,priority:2"`
		ClientID       string `gorm:"size:64;not null;uniqueIndex:idx_msg_conv_client,priority:2"`
		AuthorKind     string `gorm:"size:20;not null"`
		AuthorID       string `gorm:"size:36;not null"`
		AuthorName     string `gorm:"size:200;not null"`
		Body           string `gorm:"type:text;not null"`
		CreatedAt      time.Time
	}
)

func (v1Workspace) TableName() string    { return "workspaces" }
func (v1Site) TableName() string         { return "sites" }
func (v1Agent) TableName() string        { return "agents" }
func (v1Session) TableName() string      { return "sessions" }
func (v1Visitor) TableName() string      { return "visitors" }
func (v1Conversation) TableName() string { return "conversations" }
func (v1Message) TableName() string      { return "messages" }

func migrateInitial(tx *gorm.DB) error {
	return tx.AutoMigrate(&v1Workspace{}, &v1Site{}, &v1Agent{}, &v1Session{}, &v1Visitor{}, &v1Conversation{}, &v1Message{})
}

// 2026112502_verified_visitors: a visitor may be a verified user of the
// customer's site (identity verification); a site may require it.
type (
	v2Visitor struct {
		UserID string `gorm:"size:256;not null;default:'';index:idx_visitor_user"`
		SiteID string `gorm:"size:36;not null;index;index:idx_visitor_user"`
	}
	v2Site struct {
		IdentityRequired bool `gorm:"not null;default:false"`
	}
)

func (v2Visitor) TableName() string { return "visitors" }
func (v2Site) TableName() string    { return "sites" }

func migrateVerifiedVisitors(tx *gorm.DB) error {
	m := tx.Migrator()
	if err := m.AddColumn(&v2Visitor{}, "UserID"); err != nil {
		return err
	}
	if err := m.CreateIndex(&v2Visitor{}, "idx_visitor_user"); err != nil {
		return err
	}
	return m.AddColumn(&v2Site{}, "IdentityRequired")
}

// 2026112503_routing: agents' languages, skills and teams; what a
// conversation needs and why it was routed; each site's routing rules.
type (
	v3Agent struct {
		Languages string `gorm:"size:500;not null;default:''"`
		Skills    string `gorm:"size:1000;not null;default:''"`
		Teams     string `gorm:"size:1000;not null;default:''"`
	}
	v3Conversation struct {
		Skill         string `gorm:"size:100;not null;default:''"`
		Team          string `gorm:"size:100;not null;default:''"`
		Priority      int    `gorm:"not null;default:0"`
		RoutingReason string `gorm:"size:1000;not null;default:''"`
		TransferNote  string `gorm:"size:1000;not null;default:''"`
		ContactName   string `gorm:"size:200;not null;default:''"`
		ContactEmail  string `gorm:"size:320;not null;default:''"`
	}
	v3Site struct {
		RoutingMode         string `gorm:"size:10;not null;default:'auto'"`
		OfferTimeoutSeconds int    `gorm:"not null;default:30"`
		MaxMisses           int    `gorm:"not null;default:3"`
		RelaxAfter          string `gorm:"size:100;not null;default:''"`
		BusinessHours       string `gorm:"type:text;not null;default:''"`
		TimeZone            string `gorm:"size:64;not null;default:''"`
	}
)

func (v3Agent) TableName() string        { return "agents" }
func (v3Conversation) TableName() string { return "conversations" }
func (v3Site) TableName() string         { return "sites" }

func migrateRouting(tx *gorm.DB) error {
	m := tx.Migrator()
	for _, step := range []struct {
		model  any
		fields []string
	}{
		{&v3Agent{}, []string{"Languages", "Skills", "Teams"}},
		{&v3Conversation{}, []string{"Skill", "Team", "Priority", "RoutingReason", "TransferNote", "ContactName", "ContactEmail"}},
		{&v3Site{}, []string{"RoutingMode", "OfferTimeoutSeconds", "MaxMisses", "RelaxAfter", "BusinessHours", "TimeZone"}},
	} {
		for _, f := range step.fields {
			if err := m.AddColumn(step.model, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// 2026112504_security: agent invites, the audit log, visitors' refresh
// secrets (a hash, the current and the one before it, for a widget whose
// short-lived token expired), and room for sealed personal fields (a sealed
// value is longer than the plaintext limit; SQLite does not enforce sizes).
type (
	v4Invite struct {
		ID          string `gorm:"primaryKey;size:36"`
		WorkspaceID string `gorm:"size:36;not null;index"`
		Email       string `gorm:"size:320;not null"`
		Role        string `gorm:"size:20;not null"`
		TokenHash   string `gorm:"size:64;not null;uniqueIndex"`
		CreatedBy   string `gorm:"size:36;not null"`
		ExpiresAt   time.Time
		AcceptedAt  *time.Time
		AgentID     *string `gorm:"size:36"`
		CreatedAt   time.Time
	}
	v4AuditEntry struct {
		ID          int64  `gorm:"primaryKey;autoIncrement"`
		WorkspaceID string `gorm:"size:36;not null;index:idx_audit_ws_id,priority:1"`
		ActorID     string `gorm:"size:36;not null;default:''"`
		ActorName   string `gorm:"size:200;not null;default:''"`
		Action      string `gorm:"size:50;not null"`
		Target      string `gorm:"size:200;not null;default:''"`
		Detail      string `gorm:"type:text;not null;default:''"`
		IP          string `gorm:"size:64;not null;default:''"`
		CreatedAt   time.Time
	}
	v4Visitor struct {
		RefreshHash     string `gorm:"size:64;not null;default:''"`
		PrevRefreshHash string `gorm:"size:64;not null;default:''"`
		RefreshedAt     *time.Time
	}
)

func (v4Invite) TableName() string     { return "invites" }
func (v4AuditEntry) TableName() string { return "audit_entries" }
func (v4Visitor) TableName() string    { return "visitors" }

func migrateSecurity(tx *gorm.DB) error {
	if err := tx.AutoMigrate(&v4Invite{}, &v4AuditEntry{}); err != nil {
		return err
	}
	m := tx.Migrator()
	for _, f := range []string{"RefreshHash", "PrevRefreshHash", "RefreshedAt"} {
		if err := m.AddColumn(&v4Visitor{}, f); err != nil {
			return err
		}
	}
	if tx.Dialector.Name() != "postgres" {
		return nil
	}
	for _, col := range []string{"visitors.name", "conversations.contact_name", "conversations.contact_email"} {
		table, column, _ := strings.Cut(col, ".")
		if err := tx.Exec("ALTER TABLE " + table + " ALTER COLUMN " + column + " TYPE text").Error; err != nil {
			return err
		}
	}
	return nil
}
