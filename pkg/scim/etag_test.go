package scim

import "testing"

func TestETagList(t *testing.T) {
	cases := []struct {
		header  []string
		present bool
		match   map[string]bool // entity tag → matches
	}{
		{nil, false, map[string]bool{`W/"1"`: false}},
		{[]string{`W/"3"`}, true, map[string]bool{`W/"3"`: true, `"3"`: true, `W/"30"`: false}},
		{[]string{`"3"`}, true, map[string]bool{`W/"3"`: true}},
		{[]string{`W/"1", W/"5"`, `"7"`}, true, map[string]bool{`W/"1"`: true, `W/"5"`: true, `W/"7"`: true, `W/"2"`: false}},
		{[]string{`*`}, true, map[string]bool{`W/"9"`: true}},
		{[]string{`W/"a,b", "c"`}, true, map[string]bool{`W/"a,b"`: true, `"c"`: true, `W/"a"`: false}},
		{[]string{`3`, `w/4`}, true, map[string]bool{`W/"3"`: true, `W/"4"`: true}},
		{[]string{``, ` , `}, false, map[string]bool{`W/"1"`: false}},
	}
	for _, tc := range cases {
		l, present := ParseETagList(tc.header)
		if present != tc.present {
			t.Errorf("%q: present = %v", tc.header, present)
		}
		for tag, want := range tc.match {
			if got := l.Match(tag); got != want {
				t.Errorf("%q matches %s = %v, want %v", tc.header, tag, got, want)
			}
		}
	}
}
