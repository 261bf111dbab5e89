package config

import (
	"strings"
	"testing"
)

func TestFetchAllowReachesTheWorkersFetcher(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  string
		args []string
		want []string
		bad  string // a refusal's words
	}{
		{name: "empty allows public addresses only", want: nil},
		{name: "prefixes and addresses from the environment", env: "10.20.0.0/16, 127.0.0.1,fd00:1::/64", want: []string{"10.20.0.0/16", "127.0.0.1/32", "fd00:1::/64"}},
		{name: "the flag overrides the environment", env: "10.0.0.0/8", args: []string{"--fetch-allow", "192.168.5.0/24"}, want: []string{"192.168.5.0/24"}},
		{name: "a host name is refused at start", env: "minio", bad: `IMAGEGEN_FETCH_ALLOW: "minio" is neither a CIDR prefix nor an IP address`},
		{name: "a broken prefix is refused at start", env: "10.0.0.0/40", bad: `"10.0.0.0/40" is not a CIDR prefix`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"IMAGEGEN_FETCH_ALLOW": tc.env}
			cfg, err := Parse("worker", tc.args, func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			opts, err := cfg.Resolve(nil)
			if tc.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.bad) {
					t.Fatalf("Resolve = %v, want an error saying %q", err, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range opts.Fetch.Policy.Allow {
				got = append(got, p.String())
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("allow-list = %v, want %v", got, tc.want)
			}
		})
	}
}
