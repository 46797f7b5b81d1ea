package cluster

import (
	"os"
	"regexp"
	"testing"
)

// docs/deploy.md shows the nginx configuration the multi-process test runs.
func TestDeployDocShowsTheTestedNginxConfig(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```nginx\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/deploy.md has no nginx block")
	}
	if want := NginxConfig(ExampleReplicas); string(m[1]) != want {
		t.Errorf("docs/deploy.md's nginx block is not the tested configuration; want:\n%s", want)
	}
}
