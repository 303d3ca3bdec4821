// Package jsontext is the JSON the scenario runner and the recorder read
// and write the same way: bodies decoded with numbers kept as written, and
// values written compactly without HTML escaping, so that a message or a
// recorded body reads as the other side sent it (and redaction finds it).
package jsontext

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Errors of Decode besides the decoder's own.
var (
	ErrEmpty    = errors.New("the body is empty")
	ErrTrailing = errors.New("trailing data after the JSON value")
)

// Decode reads one JSON value, numbers as json.Number: ErrEmpty for a
// blank body, ErrTrailing when more follows the value.
func Decode(b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, ErrEmpty
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, ErrTrailing
	}
	return v, nil
}

// Marshal is v as compact JSON without HTML escaping; fmt's form of v if
// it cannot be encoded.
func Marshal(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
