package config

import (
	"strings"
	"testing"

	"github.com/imagegen/imagegen/mcpserver"
)

func TestMCPLimitsReachTheHTTPFace(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want mcpserver.Limits
	}{
		{"the defaults", nil, nil, mcpserver.Limits{SSESessionsPerClient: 16, SSESessions: 256, CallsPerSession: 8, Calls: 512}},
		{"the environment sets them", map[string]string{"IMAGEGEN_MAX_SSE_SESSIONS_PER_CLIENT": "2", "IMAGEGEN_MAX_SSE_SESSIONS": "3", "IMAGEGEN_MAX_CALLS_PER_SESSION": "4", "IMAGEGEN_MAX_CALLS": "5"}, nil,
			mcpserver.Limits{SSESessionsPerClient: 2, SSESessions: 3, CallsPerSession: 4, Calls: 5}},
		{"flags override the environment", map[string]string{"IMAGEGEN_MAX_CALLS": "5"}, []string{"--max-calls", "9"},
			mcpserver.Limits{SSESessionsPerClient: 16, SSESessions: 256, CallsPerSession: 8, Calls: 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("serve", tc.args, func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			opts, err := cfg.Resolve(nil)
			if err != nil {
				t.Fatal(err)
			}
			if opts.HTTP.MCPLimits != tc.want {
				t.Errorf("limits %+v, want %+v", opts.HTTP.MCPLimits, tc.want)
			}
		})
	}
}

func TestBadMCPLimitIsRefusedByName(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"IMAGEGEN_MAX_SSE_SESSIONS_PER_CLIENT", "0"},
		{"IMAGEGEN_MAX_SSE_SESSIONS", "many"},
		{"IMAGEGEN_MAX_CALLS_PER_SESSION", "-1"},
		{"IMAGEGEN_MAX_CALLS", "2000000"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			cfg, err := Parse("serve", nil, func(k string) string { return map[string]string{tc.name: tc.value}[k] })
			if err == nil {
				_, err = cfg.Resolve(nil)
			}
			if err == nil || !strings.Contains(err.Error(), tc.name) {
				t.Errorf("err = %v, want an error naming %s", err, tc.name)
			}
		})
	}
}
