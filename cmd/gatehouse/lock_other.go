//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package main

import "os"

// lockFile takes no lock on systems without flock: there, keeping to one
// serve per SQLite database is left to the operator.
func lockFile(*os.File) error { return nil }
