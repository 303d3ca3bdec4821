package directory_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/sqlite"
)

// TestProviderMapperMemo: the Service reuses a provider's Mapper between writes,
// yet a change of its mappings or of the custom fields through the Service
// is in force for the very next write; through another Service on the same
// SQLite file, within a second.
func TestProviderMapperMemo(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kacescim.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, b := directory.NewService(st), directory.NewService(st)
	p, _, err := a.AddProvider(ctx, "okta", true)
	if err != nil {
		t.Fatal(err)
	}
	maps := func(s *directory.Service, field string) bool {
		t.Helper()
		m, err := s.Mapper(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, mm := range m.Mappings() {
			if mm.Field == field {
				return true
			}
		}
		return false
	}
	m1, err := a.Mapper(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m2, _ := a.Mapper(ctx, p.ID); m2 != m1 {
		t.Error("a second Mapper of unchanged mappings was not the one remembered")
	}
	if maps(b, "EmployeeNumber") {
		t.Fatal("EmployeeNumber mapped before any mapping")
	}

	if _, err := a.AddCustomField(ctx, "EmployeeNumber", ""); err != nil {
		t.Fatal(err)
	}
	if maps(a, "EmployeeNumber") { // remembered again
		t.Fatal("EmployeeNumber mapped before any mapping")
	}
	mappings := append(m1.Mappings(), directory.Mapping{SCIMPath: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", Field: "EmployeeNumber"})
	if _, _, err := a.SetMappings(ctx, "okta", mappings); err != nil {
		t.Fatal(err)
	}
	if !maps(a, "EmployeeNumber") {
		t.Error("right after SetMappings, through the same service: the new mapping is not in force")
	}
	deadline := time.Now().Add(1500 * time.Millisecond)
	for !maps(b, "EmployeeNumber") {
		if time.Now().After(deadline) {
			t.Fatal("another service on the database still maps without the new mapping after 1.5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	if _, _, err := a.SetMappings(ctx, "okta", m1.Mappings()); err != nil {
		t.Fatal(err)
	}
	if maps(a, "EmployeeNumber") {
		t.Error("right after the mapping was removed, through the same service: still mapped")
	}
}
