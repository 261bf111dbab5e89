package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTheBinaryLinksNoTestCode holds cmd/imagegen to production code: no
// benchmark, no test kit, no provider fake of this module's own.
func TestTheBinaryLinksNoTestCode(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go tool is not on PATH, so the dependency list cannot be read: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const module = "github.com/imagegen/imagegen"
	var ours int
	for _, pkg := range strings.Fields(string(out)) {
		if pkg != module && !strings.HasPrefix(pkg, module+"/") {
			continue
		}
		ours++
		last := pkg[strings.LastIndex(pkg, "/")+1:]
		if strings.HasSuffix(last, "test") || strings.Contains(pkg, "bench") || strings.Contains(pkg, "testkit") {
			t.Errorf("cmd/imagegen links %s", pkg)
		}
	}
	if ours < 10 {
		t.Fatalf("only %d packages of this module in the dependency list: not the list expected\n%s", ours, out)
	}
}
