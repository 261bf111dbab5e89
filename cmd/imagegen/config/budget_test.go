package config

import (
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/app"
)

func TestBudgetSettingsReachTheJobLayer(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want app.BudgetOptions
	}{
		{"none by default", nil, nil, app.BudgetOptions{OrphanGrace: 2 * time.Minute}},
		{"dollars from the environment", map[string]string{"IMAGEGEN_DAILY_BUDGET_USD": "5", "IMAGEGEN_JOB_BUDGET_USD": "0.05"}, nil,
			app.BudgetOptions{Daily: 5 * imagegen.Dollar, PerJob: 5 * imagegen.Dollar / 100, OrphanGrace: 2 * time.Minute}},
		{"flags override the environment", map[string]string{"IMAGEGEN_DAILY_BUDGET_USD": "5"}, []string{"--daily-budget-usd", "$1.50", "--budget-orphan-grace", "30s"},
			app.BudgetOptions{Daily: 3 * imagegen.Dollar / 2, OrphanGrace: 30 * time.Second}},
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
			if opts.Budget != tc.want {
				t.Errorf("budget %+v, want %+v", opts.Budget, tc.want)
			}
		})
	}
}

func TestBadBudgetSettingIsRefusedByName(t *testing.T) {
	for _, tc := range []struct{ env, value string }{
		{"IMAGEGEN_DAILY_BUDGET_USD", "-1"},
		{"IMAGEGEN_DAILY_BUDGET_USD", "five dollars"},
		{"IMAGEGEN_JOB_BUDGET_USD", "0.0000000001"},
		{"IMAGEGEN_BUDGET_ORPHAN_GRACE", "10ms"},
		{"IMAGEGEN_BUDGET_ORPHAN_GRACE", "soon"},
	} {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			cfg, err := Parse("serve", nil, func(k string) string {
				if k == tc.env {
					return tc.value
				}
				return ""
			})
			if err == nil {
				_, err = cfg.Resolve(nil)
			}
			if err == nil || !strings.Contains(err.Error(), tc.env) {
				t.Errorf("got %v, want an error naming %s", err, tc.env)
			}
		})
	}
}
