package service

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// prechatAnswers are what a visitor filled in of the site's pre-chat
// fields (POST /api/widget/prechat and, for the fields beyond name and
// email, /api/widget/offline). They become the visitor's profile.
type prechatAnswers struct {
	Name   string            `json:"name"`
	Email  string            `json:"email"`
	Phone  string            `json:"phone"`
	Custom map[string]string `json:"custom"`
}

// profile checks the answers against the site's fields: every required
// one given, each within its size, the email an address, custom values
// only for the site's own labels. Its error is the visitor's to read.
func (a prechatAnswers) profile(fields []protocol.PrechatField) (store.VisitorProfile, error) {
	p := store.VisitorProfile{Name: strings.TrimSpace(a.Name), Email: strings.TrimSpace(a.Email), Phone: strings.TrimSpace(a.Phone), Custom: map[string]string{}}
	for _, f := range fields {
		var v string
		switch f.Kind {
		case "name":
			v = p.Name
		case "email":
			v = p.Email
		case "phone":
			v = p.Phone
		case "custom":
			v = strings.TrimSpace(a.Custom[f.Label])
			if v != "" {
				p.Custom[f.Label] = v
			}
		}
		if f.Required && v == "" {
			what := f.Label
			if what == "" {
				what = "your " + f.Kind
			}
			return p, errors.New("please fill in " + what)
		}
	}
	if err := checkContact(p.Name, p.Email, p.Phone); err != nil {
		return p, err
	}
	for k, v := range p.Custom {
		if utf8.RuneCountInString(v) > 200 || !utf8.ValidString(v) {
			return p, errors.New(k + " is at most 200 characters")
		}
	}
	return p, nil
}

// checkContact checks a visitor's name, email and phone as given in the
// pre-chat form or by an agent (empty ones are not checked).
func checkContact(name, email, phone string) error {
	switch {
	case utf8.RuneCountInString(name) > 200:
		return errors.New("the name is at most 200 characters")
	case email != "" && (len(email) > 320 || !validEmail(email)):
		return errors.New("please give an email address we can answer to")
	case len(phone) > 40 || strings.Trim(phone, "0123456789+-() .") != "":
		return errors.New("please give a phone number (digits, spaces, + - ( ) only)")
	}
	return nil
}
