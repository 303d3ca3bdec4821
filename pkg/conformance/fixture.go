package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/client"
)

// MappingFields are the custom fields kacescim's suggested mappings fill
// (an identity provider's manager, department, organisation, mobile
// number and groups); a Fixture creates those the server does not have
// yet.
var MappingFields = []string{"Manager", "Department", "Organization", "Mobile", "Groups"}

// Fixture is a throw-away provider on a kacescim server, made through its
// admin API so that a run can check mapping outcomes: the provider has the
// server's suggested mappings, and the custom fields they fill exist.
type Fixture struct {
	// Provider is the provider's name; Key its security key.
	Provider string
	Key      string

	admin         *client.Admin
	createdFields []string
}

// NewFixture creates a provider named name (e.g. "kacescim-test-1a2b3c")
// on the kacescim server admin talks to, with the suggested mappings and
// the custom fields they need. Close removes the provider, its users and
// the fields the fixture created.
func NewFixture(ctx context.Context, admin *client.Admin, name string) (*Fixture, error) {
	return NewFixtureFor(ctx, admin, adminapi.CreateProviderRequest{Name: name})
}

// NewFixtureFor is NewFixture for a provider made as req says (strict, with
// a rate limit); it is always enabled.
func NewFixtureFor(ctx context.Context, admin *client.Admin, req adminapi.CreateProviderRequest) (*Fixture, error) {
	name := req.Name
	f := &Fixture{Provider: name, admin: admin}
	fields, err := admin.Fields(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the custom fields: %w", err)
	}
	for _, want := range MappingFields {
		if hasField(fields, want) {
			continue
		}
		if _, err := admin.CreateField(ctx, adminapi.CreateFieldRequest{Name: want, Description: "created by kacescim test"}); err != nil {
			return nil, errors.Join(fmt.Errorf("create custom field %s: %w", want, err), f.Close(ctx))
		}
		f.createdFields = append(f.createdFields, want)
	}
	req.Enabled = true
	created, err := admin.CreateProvider(ctx, req)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("create provider %s: %w", name, err), f.Close(ctx))
	}
	f.Key = created.Key
	suggested, err := admin.SuggestedMappings(ctx)
	if err == nil {
		_, err = admin.SetMappings(ctx, name, suggested)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("map provider %s: %w", name, err), f.removeProvider(ctx), f.Close(ctx))
	}
	return f, nil
}

func hasField(fields []adminapi.Field, name string) bool {
	for _, f := range fields {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

func (f *Fixture) removeProvider(ctx context.Context) error {
	if f.Key == "" {
		return nil
	}
	if err := f.admin.RemoveProvider(ctx, f.Provider); err != nil {
		return fmt.Errorf("remove provider %s: %w", f.Provider, err)
	}
	f.Key = ""
	return nil
}

// Close removes the provider (with its users and groups) and the custom
// fields the fixture created. It returns what could not be removed.
func (f *Fixture) Close(ctx context.Context) error {
	errs := []error{f.removeProvider(ctx)}
	for _, name := range f.createdFields {
		if err := f.admin.RemoveField(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("remove custom field %s: %w", name, err))
		}
	}
	f.createdFields = nil
	return errors.Join(errs...)
}

// Directory reads the fixture provider's directory users.
func (f *Fixture) Directory() Directory { return adminDirectory{admin: f.admin, provider: f.Provider} }

type adminDirectory struct {
	admin    *client.Admin
	provider string
}

func (d adminDirectory) User(ctx context.Context, id string) (map[string]string, bool, error) {
	u, err := d.admin.DirectoryUser(ctx, id)
	var ce *client.Error
	if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !strings.EqualFold(u.Provider, d.provider) {
		return nil, false, fmt.Errorf("directory user %s belongs to provider %s, not %s", id, u.Provider, d.provider)
	}
	fields := make(map[string]string, len(u.Fields))
	for k, v := range u.Fields {
		if v == nil {
			continue
		}
		fields[k] = text(v)
	}
	return fields, true, nil
}
