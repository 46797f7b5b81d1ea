package sqldb

import (
	"context"

	"gatehouse/store"
)

// What the tests of package sqldb_test reach inside the package.
var (
	InsertWithID    = insertWithID
	Inserted        = inserted
	SetTokenModules = setTokenModules
	ScanAudit       = scanAudit
)

// Internals the tests read.
const (
	AuditColumns = auditColumns
	BulkBatch    = bulkBatch
)

// AppendAudit appends r to the chain inside tx.
func (s *Store) AppendAudit(ctx context.Context, tx *Tx, r store.AuditRecord) (store.AuditRecord, error) {
	return s.appendAudit(ctx, tx, r)
}

// SetBulkIDs replaces the bulk seeder's id generators until restore is
// called.
func SetBulkIDs(token, audit func() string) (restore func()) {
	oldToken, oldAudit := bulkTokenID, bulkAuditID
	bulkTokenID, bulkAuditID = token, audit
	return func() { bulkTokenID, bulkAuditID = oldToken, oldAudit }
}
