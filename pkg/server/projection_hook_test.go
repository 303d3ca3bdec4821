package server

import "github.com/kacescim/kacescim/pkg/directory"

// WrapStore puts wrap(store) between the SCIM handlers and the real
// store, so that a test can observe what the handlers read through a thin
// wrapper. Call it before the test's first request.
func WrapStore(s *Server, wrap func(directory.Store) directory.Store) { s.store = wrap(s.store) }
