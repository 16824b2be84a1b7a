package protocol

import (
	"errors"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite protocol.ts")

func TestTypeScriptIsFresh(t *testing.T) {
	want := TypeScript()
	if *update {
		if err := os.WriteFile("protocol.ts", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("protocol.ts")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("pkg/protocol/protocol.ts is stale: run go test ./pkg/protocol -run TestTypeScriptIsFresh -update")
	}
}

func TestDecode(t *testing.T) {
	long := strings.Repeat("x", MaxBodyBytes+1)
	cases := []struct {
		name string
		in   string
		code string
		ref  string
	}{
		{"not json", `{nope`, CodeBadJSON, ""},
		{"array", `[1,2]`, CodeBadJSON, ""},
		{"unknown type", `{"type":"launch","ref":"r1"}`, CodeUnknownType, "r1"},
		{"server-only type", `{"type":"ack"}`, CodeUnknownType, ""},
		{"server-only offer", `{"type":"offer","conversation":"c","ref":"o"}`, CodeUnknownType, "o"},
		{"server-only offline", `{"type":"offline","reason":"no_agent"}`, CodeUnknownType, ""},
		{"send without client id", `{"type":"send","conversation":"c","body":"hi"}`, CodeInvalid, ""},
		{"send without conversation", `{"type":"send","client_id":"a","body":"hi"}`, CodeInvalid, ""},
		{"send blank body", `{"type":"send","client_id":"a","conversation":"c","body":"  \n"}`, CodeInvalid, ""},
		{"send wrong field type", `{"type":"send","client_id":5,"conversation":"c","body":"hi","ref":"x"}`, CodeInvalid, "x"},
		{"body too long", `{"type":"send","client_id":"a","conversation":"c","body":"` + long + `"}`, CodeTooBig, ""},
		{"bad status", `{"type":"status","status":"asleep"}`, CodeInvalid, ""},
		{"negative resume", `{"type":"resume","conversations":{"c":-1}}`, CodeInvalid, ""},
		{"empty resume", `{"type":"resume","conversations":{}}`, CodeInvalid, ""},
		{"NUL in client id", `{"type":"send","ref":"n","client_id":"a\u0000b","conversation":"c","body":"hi"}`, CodeInvalid, "n"},
		{"NUL in body", `{"type":"send","ref":"n","client_id":"a","conversation":"c","body":"hi\u0000"}`, CodeInvalid, "n"},
		{"NUL in resume id", `{"type":"hello","v":1,"resume":{"c\u0000":1}}`, CodeInvalid, ""},
		{"invalid UTF-8 in body", "{\"type\":\"send\",\"ref\":\"u\",\"client_id\":\"a\",\"conversation\":\"c\",\"body\":\"caf\xc3\"}", CodeInvalid, "u"},
		{"invalid UTF-8 in client id", "{\"type\":\"send\",\"client_id\":\"\xff\",\"conversation\":\"c\",\"body\":\"hi\"}", CodeInvalid, ""},
		{"frame too big", `{"type":"ping","pad":"` + strings.Repeat("y", MaxFrameBytes) + `"}`, CodeTooBig, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode([]byte(c.in))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("want DecodeError, got %v", err)
			}
			if de.Code != c.code || de.Ref != c.ref {
				t.Fatalf("got code %q ref %q, want %q %q (%v)", de.Code, de.Ref, c.code, c.ref, err)
			}
		})
	}
}

func TestDecodeValid(t *testing.T) {
	f, err := Decode([]byte(`{"type":"send","ref":"r","client_id":"u1","conversation":"c1","body":"hello <b>"}`))
	if err != nil {
		t.Fatal(err)
	}
	s := f.(*Send)
	if s.ClientID != "u1" || s.Conversation != "c1" || s.Body != "hello <b>" || s.Ref != "r" {
		t.Fatalf("decoded %+v", s)
	}
	// An escaped backslash before u0000 is text, not a NUL.
	f, err = Decode([]byte(`{"type":"send","client_id":"u1","conversation":"c1","body":"see \\u0000 and \\\\u0000"}`))
	if err != nil || f.(*Send).Body != `see \u0000 and \\u0000` {
		t.Fatalf("escaped backslash: %v %+v", err, f)
	}
	f, err = Decode([]byte(`{"type":"hello","v":1,"resume":{"c1":4}}`))
	if err != nil || f.(*Hello).Resume["c1"] != 4 {
		t.Fatalf("hello: %v %+v", err, f)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","v":1,"resume":{"a":1}}`,
		`{"type":"send","client_id":"x","conversation":"c","body":"hi"}`,
		`{"type":"resume","conversations":{"c":0}}`,
		`{"type":"typing","conversation":"c","on":true}`,
		`{"type":"status","status":"away"}`,
		`{"type":"close","conversation":"c"}`,
		`{"type":"start"}`, `{"type":"ping"}`, `{`, `null`, `"x"`,
		`{"type":"send","client_id":"a\u0000","conversation":"c","body":"hi"}`,
		`{"type":"send","client_id":"a","conversation":"c","body":"\\u0000"}`,
		"{\"type\":\"send\",\"client_id\":\"a\",\"conversation\":\"c\",\"body\":\"\xe2\x82\"}",
		`{"type":"hello","v":1,"resume":{"\u0000":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if err == nil && v == nil {
			t.Fatal("nil frame without error")
		}
		if err == nil {
			// What is accepted can be stored: no NUL, no invalid UTF-8,
			// in any string of the frame.
			checkStoreable(t, reflect.ValueOf(v))
		}
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Code == "" {
				t.Fatalf("error without code: %v", err)
			}
		}
	})
}

// checkStoreable fails t when a string in v (fields, map keys and values,
// slices) holds a NUL or invalid UTF-8.
func checkStoreable(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			checkStoreable(t, v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				checkStoreable(t, v.Field(i))
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			checkStoreable(t, k)
			checkStoreable(t, v.MapIndex(k))
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			checkStoreable(t, v.Index(i))
		}
	case reflect.String:
		if s := v.String(); !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			t.Fatalf("decoded string %q cannot be stored", s)
		}
	}
}
