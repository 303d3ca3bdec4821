// Package postgres is the directory.Store on PostgreSQL, for several
// kacescim replicas sharing one database.
package postgres

import _ "github.com/jackc/pgx/v5/pgxpool" // the driver this package is built on
