package conformance_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/conformance"
)

func TestSelectSuites(t *testing.T) {
	for _, tc := range []struct {
		names, extra, want []string
		err                string
	}{
		{nil, nil, nil, ""},
		{nil, []string{"mine"}, []string{"mine"}, ""},
		{[]string{"OKTA-Groups", " entra "}, nil, []string{"okta-groups", "entra"}, ""},
		{[]string{"Mine", "rfc7644"}, []string{"mine"}, []string{"mine", "rfc7644"}, ""},
		{[]string{"nosuch"}, []string{"mine"}, nil, `unknown suite "nosuch": the suites are okta-spec, okta-lifecycle, okta-groups, entra, rfc7644, concurrency, isolation, lists, auth, mine`},
	} {
		got, err := conformance.SelectSuites(tc.names, tc.extra)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("SelectSuites(%q, %q) error %v, want %q", tc.names, tc.extra, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("SelectSuites(%q, %q) = %q, %v; want %q", tc.names, tc.extra, got, err, tc.want)
		}
	}
}

func TestLoadScenarioDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "recorded")
	scenario := func(name, suite string) string {
		s := `{"name":"` + name + `",` + suite + `"steps":[{"name":"` + name + ` step","method":"GET","path":"/Users","expect":{"status":200}}]}`
		return s
	}
	for path, body := range map[string]string{
		"top.json":         scenario("top", ""),
		"groups/g.json":    scenario("g", ""),
		"named/n.json":     scenario("n", `"suite":"custom",`),
		"groups/notes.txt": "not a scenario",
	} {
		p := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, suites, err := conformance.LoadScenarioDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	bySuite := map[string]string{}
	for _, s := range got {
		bySuite[s.Name] = s.Suite
	}
	if bySuite["top"] != "recorded" || bySuite["g"] != "groups" || bySuite["n"] != "custom" || len(got) != 3 {
		t.Errorf("suites by scenario %v: want top in recorded (the folder itself), g in groups, n in custom", bySuite)
	}
	slices.Sort(suites)
	if !slices.Equal(suites, []string{"custom", "groups", "recorded"}) {
		t.Errorf("suites %q", suites)
	}
	if _, _, err := conformance.LoadScenarioDir(filepath.Join(dir, "top.json")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file: %v, want not a directory", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.json"), []byte(`{"name":`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := conformance.LoadScenarioDir(dir); err == nil || !strings.Contains(err.Error(), "broken.json") {
		t.Errorf("a broken file: %v, want an error naming it", err)
	}
}
