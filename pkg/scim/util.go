package scim

import (
	"errors"
	"strconv"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func itoa(i int) string { return strconv.Itoa(i) }
