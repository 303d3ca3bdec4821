package directory

import (
	"strings"
	"sync"
	"testing"
)

func TestMapperMemo(t *testing.T) {
	memo := newMapperMemo()
	custom := []*CustomField{{Name: "Department"}}
	dept := []*Mapping{{SCIMPath: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", Field: "department"}}

	a, err := memo.compile(dept, custom)
	if err != nil {
		t.Fatal(err)
	}
	b, err := memo.compile([]*Mapping{{SCIMPath: dept[0].SCIMPath, Field: dept[0].Field}}, []*CustomField{{Name: "Department"}})
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("the same mappings compiled twice")
	}
	if got := a.Mappings()[len(a.Mappings())-1].Field; got != "Department" {
		t.Errorf("field %q: the custom field's spelling was not applied", got)
	}

	// Another mapping, or another set of custom fields, is another Mapper.
	title := []*Mapping{{SCIMPath: "title", Field: "Department"}}
	c, err := memo.compile(title, custom)
	if err != nil || c == a {
		t.Errorf("changed mappings: %v, same mapper %v", err, c == a)
	}

	// A refused set is refused every time (not kept).
	missing := []*Mapping{{SCIMPath: "title", Field: "Nope"}}
	for range 2 {
		if _, err := memo.compile(missing, custom); err == nil || !strings.Contains(err.Error(), "Nope") {
			t.Errorf("unknown field: %v", err)
		}
	}
	custom2 := append(custom, &CustomField{Name: "Nope"})
	if _, err := memo.compile(missing, custom2); err != nil {
		t.Errorf("after the field exists: %v", err)
	}

	// Bounded.
	for i := range maxMemoMappers + 10 {
		fields := []*CustomField{{Name: "F" + strings.Repeat("x", i%50)}, {Name: "Department"}}
		if _, err := memo.compile(dept, append(fields, &CustomField{Name: string(rune('a' + i%26))})); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(memo.m); n > maxMemoMappers {
		t.Errorf("memo holds %d mappers, more than %d", n, maxMemoMappers)
	}

	// Concurrent use, for the race detector.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			m, err := memo.compile(dept, custom)
			if err != nil {
				t.Error(err)
				return
			}
			m.Derive(&User{UserName: "a@example.com", Resource: map[string]any{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "Eng"}}})
		})
	}
	wg.Wait()

	var nilMemo *mapperMemo
	if m, err := nilMemo.compile(dept, custom); err != nil || m == nil {
		t.Errorf("nil memo: %v", err)
	}
}
