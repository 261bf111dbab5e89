package main

import (
	"strings"
	"testing"
)

func TestClusterConfigRefusesWhatCannotRun(t *testing.T) {
	ok := DefaultClusterConfig()
	ok.Address = "127.0.0.1:7233"
	if err := ok.validate(); err != nil {
		t.Fatalf("default config with an address: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*ClusterConfig)
		want   string
	}{
		{"no address", func(c *ClusterConfig) { c.Address = "" }, "no Temporal address"},
		{"no jobs", func(c *ClusterConfig) { c.Jobs = 0 }, "jobs must be at least 1"},
		{"no clients", func(c *ClusterConfig) { c.Clients = nil }, "no client counts"},
		{"no workers", func(c *ClusterConfig) { c.Workers = nil }, "no worker counts"},
		{"workers not ascending", func(c *ClusterConfig) { c.Workers = []int{2, 1} }, "ascending"},
		{"zero workers", func(c *ClusterConfig) { c.Workers = []int{0, 1} }, "ascending"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			if err := c.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// The table puts every cluster figure next to the dev stack's, as a ratio.
func TestClusterTableComparesWithTheDevStack(t *testing.T) {
	rep := &ClusterReport{Address: "127.0.0.1:7233", Namespace: "ns", Jobs: 10, Runs: []ClusterRun{
		{Stack: "dev", Workers: 1, Overhead: Dist{P50: 30, P99: 60}, Throughput: []Throughput{{Clients: 10, JobsPerSec: 40}, {Clients: 50, JobsPerSec: 40}}},
		{Stack: "cluster", Workers: 2, Overhead: Dist{P50: 90, P99: 150}, Throughput: []Throughput{{Clients: 10, JobsPerSec: 20}, {Clients: 50, JobsPerSec: 10, Lost: 1}}},
	}}
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	cluster := strings.Fields(lines[len(lines)-1])
	want := []string{"cluster", "(PostgreSQL)", "2", "90.0", "/", "150.0", "3.0×", "20.0", "0.5×", "0", "/", "0", "0", "10.0", "0.2×", "0", "/", "0", "1"}
	if strings.Join(cluster, " ") != strings.Join(want, " ") {
		t.Errorf("cluster row = %q\nwant         %q\n%s", cluster, want, b.String())
	}
	if !strings.Contains(lines[len(lines)-3], "10 clients jobs/s") || !strings.Contains(lines[len(lines)-3], "50 clients jobs/s") {
		t.Errorf("header does not name the client levels:\n%s", b.String())
	}
}
