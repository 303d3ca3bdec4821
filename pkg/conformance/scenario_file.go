package conformance

import (
	"bytes"
	"encoding/json"
)

// MarshalScenario is s as an indented scenario file, written as a person
// would: a single status as a number, cleanup steps without the name and
// expectations they do not use.
func MarshalScenario(s *Scenario) ([]byte, error) {
	type scenarioAlias Scenario
	type stepAlias Step
	type expectOut struct {
		Status any         `json:"status,omitempty"`
		Assert []Assertion `json:"assert,omitempty"`
	}
	type stepOut struct {
		Name string `json:"name,omitempty"`
		*stepAlias
		Expect *expectOut `json:"expect,omitempty"`
	}
	type scenarioOut struct {
		*scenarioAlias
		Steps   []stepOut `json:"steps"`
		Cleanup []stepOut `json:"cleanup,omitempty"`
	}
	conv := func(steps []Step) []stepOut {
		var out []stepOut
		for i := range steps {
			st := &steps[i]
			so := stepOut{Name: st.Name, stepAlias: (*stepAlias)(st)}
			if len(st.Expect.Status) > 0 || len(st.Expect.Assert) > 0 {
				so.Expect = &expectOut{Assert: st.Expect.Assert}
				switch len(st.Expect.Status) {
				case 0:
				case 1:
					so.Expect.Status = st.Expect.Status[0]
				default:
					so.Expect.Status = []int(st.Expect.Status)
				}
			}
			out = append(out, so)
		}
		return out
	}
	v := scenarioOut{scenarioAlias: (*scenarioAlias)(s), Steps: conv(s.Steps), Cleanup: conv(s.Cleanup)}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
