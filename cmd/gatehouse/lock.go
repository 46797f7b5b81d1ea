package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// errLockHeld means another process holds the serve lock.
var errLockHeld = errors.New("the lock is held")

// lockServe keeps a second "gatehouse serve" off a SQLite database. SQLite
// is single-process on purpose: a second server would keep a token cache
// and a login throttle of its own beside the first's. The lock is an
// exclusive lock on a file next to the database (DB-serve.lock, created
// 0600), held until release is called; it is released by the system when
// the process ends, however it ends. It is not taken on the database file
// itself: closing any descriptor of that file would drop SQLite's own
// locks on it. The file is left in place, since removing it could let two
// servers lock two different files of the same name. Commands other than
// serve do not take it, and PostgreSQL needs none: replicas are the point.
func lockServe(d *dataOpts) (release func(), err error) {
	name, target, err := d.engine()
	if err != nil {
		return nil, err
	}
	if name != "sqlite" {
		return func() {}, nil
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := target + "-serve.lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the serve lock: %w", err)
	}
	if err := lockFile(f); errors.Is(err, errLockHeld) {
		f.Close()
		return nil, fmt.Errorf("another gatehouse serve holds the SQLite database %s (its lock %s): stop it first; only one serve may run on a SQLite database, several need PostgreSQL: %w",
			target, path, errConfig)
	} else if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
