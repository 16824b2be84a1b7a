package config

import (
	"testing"
	"time"
)

// A call rings for PARLEY_CALL_RING_TIMEOUT (30 s by default); the flag
// overrides the environment, and nonsense is refused at start.
func TestCallRingTimeout(t *testing.T) {
	load := func(args []string, env map[string]string) (Config, error) {
		return Load(append([]string{"-data-dir", t.TempDir()}, args...), func(k string) string { return env[k] })
	}
	c, err := load(nil, nil)
	if err != nil || c.CallRingTimeout != 30*time.Second {
		t.Fatalf("default ring timeout %v (%v), want 30s", c.CallRingTimeout, err)
	}
	c, err = load(nil, map[string]string{"PARLEY_CALL_RING_TIMEOUT": "45s"})
	if err != nil || c.CallRingTimeout != 45*time.Second {
		t.Fatalf("PARLEY_CALL_RING_TIMEOUT=45s gave %v (%v)", c.CallRingTimeout, err)
	}
	c, err = load([]string{"-call-ring-timeout", "2s"}, map[string]string{"PARLEY_CALL_RING_TIMEOUT": "45s"})
	if err != nil || c.CallRingTimeout != 2*time.Second {
		t.Fatalf("the flag over the environment gave %v (%v)", c.CallRingTimeout, err)
	}
	for _, bad := range []string{"soon", "0s", "-5s", "500ms", "1h"} {
		if _, err := load(nil, map[string]string{"PARLEY_CALL_RING_TIMEOUT": bad}); err == nil {
			t.Errorf("PARLEY_CALL_RING_TIMEOUT=%q accepted", bad)
		}
	}
}
