// Package postgres is the store's PostgreSQL engine (15 or later), for the
// platforms that outgrow one machine: the migrations (store/sqlite's
// versions translated for PostgreSQL), the connection through pgx's
// database/sql driver, and PostgreSQL's side of the dialect the engines
// share (store/sqldb).
package postgres

import "embed"

// migrations are applied in name order, each in one transaction, and have the
// same names as the SQLite engine's: the schema at every version is the same
// on both engines, table for table, column for column, index for index.
//
//go:embed migrations/*.sql
var migrations embed.FS
