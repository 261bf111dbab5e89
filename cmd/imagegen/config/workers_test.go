package config

import (
	"strings"
	"testing"
)

func TestProviderRateAndWorkerActivitiesReachTheWorkers(t *testing.T) {
	cloudflare := map[string]string{"CLOUDFLARE_ACCOUNT_ID": "acct", "CLOUDFLARE_API_TOKEN": "tok"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name       string
		mode       string
		env        map[string]string
		args       []string
		rate       float64
		activities int
	}{
		{"workersai is limited to 12 per second by default", "worker", cloudflare, nil, 12, 64},
		{"preview is not limited by default", "worker", nil, nil, 0, 64},
		{"the environment sets both", "worker", with(cloudflare, "IMAGEGEN_PROVIDER_RATE", "2.5", "IMAGEGEN_WORKER_ACTIVITIES", "8"), nil, 2.5, 8},
		{"zero means no limit, even with workersai", "worker", with(cloudflare, "IMAGEGEN_PROVIDER_RATE", "0"), nil, 0, 64},
		{"flags override the environment", "dev", with(cloudflare, "IMAGEGEN_PROVIDER_RATE", "2"), []string{"--provider-rate", "7", "--worker-activities", "3"}, 7, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(tc.mode, tc.args, func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			opts, err := cfg.Resolve(nil)
			if err != nil {
				t.Fatal(err)
			}
			if opts.Worker.TaskQueueActivitiesPerSecond != tc.rate || opts.Worker.MaxConcurrentActivityExecutionSize != tc.activities {
				t.Errorf("worker options: rate %v, activities %d; want %v, %d",
					opts.Worker.TaskQueueActivitiesPerSecond, opts.Worker.MaxConcurrentActivityExecutionSize, tc.rate, tc.activities)
			}
		})
	}
}

func TestBadProviderRateOrWorkerActivitiesIsRefusedByName(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"IMAGEGEN_PROVIDER_RATE", "-1"},
		{"IMAGEGEN_PROVIDER_RATE", "fast"},
		{"IMAGEGEN_PROVIDER_RATE", "NaN"},
		{"IMAGEGEN_WORKER_ACTIVITIES", "0"},
		{"IMAGEGEN_WORKER_ACTIVITIES", "1.5"},
		{"IMAGEGEN_WORKER_ACTIVITIES", "100000"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			cfg, err := Parse("worker", nil, func(k string) string { return map[string]string{tc.name: tc.value}[k] })
			if err == nil {
				_, err = cfg.Resolve(nil)
			}
			if err == nil || !strings.Contains(err.Error(), tc.name) {
				t.Errorf("err = %v, want an error naming %s", err, tc.name)
			}
		})
	}
}
