package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"gatehouse/store"
)

// existingDatabase checks that the data directory holds a database, so that
// maintenance commands never create an empty one by mistake.
func existingDatabase(d *dataOpts) error {
	name, path, err := d.engine()
	if err != nil || name != "sqlite" {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no database at %s; check --data", path)
		}
		return err
	}
	return nil
}

// backupCommand writes an online, consistent copy of the database.
func backupCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	data := dataFlag(fs, getenv)
	out := fs.String("out", "", "file to write the copy to; must not exist")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stderr, "--out FILE is required")
		return errUsage
	}
	if name, _, err := data.engine(); err != nil {
		return err
	} else if name == "postgres" {
		fmt.Fprintln(stderr, `On PostgreSQL, back up with PostgreSQL's own tools: pg_dump --format=custom --file=gatehouse.dump "$GATEHOUSE_DATABASE" (docs/operations.md).`)
		return errUsage
	}
	if err := existingDatabase(data); err != nil {
		return err
	}
	st, err := openStore(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Backup(ctx, *out); err != nil {
		return err
	}
	fi, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote a backup of %d bytes to %s.\n", fi.Size(), *out)
	return nil
}

// keyCommand handles "key rotate": re-seal every token value under a new
// token encryption key.
func keyCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	fs := flag.NewFlagSet("key rotate", flag.ContinueOnError)
	data := dataFlag(fs, getenv)
	newKeyFile := fs.String("new-key-file", "", "file holding the new key; created with mode 0600 when missing")
	sealer := keyFlags(fs, getenv, data)
	if err := parseFlags(fs, args[1:], stderr); err != nil {
		return err
	}
	if *newKeyFile == "" {
		fmt.Fprintln(stderr, "--new-key-file FILE is required")
		return errUsage
	}
	if err := existingDatabase(data); err != nil {
		return err
	}
	// The current key must exist: loading it through the key file would
	// otherwise create a fresh one that opens nothing.
	usingMasterKey := getenv("GATEHOUSE_MASTER_KEY") != ""
	currentFile := fs.Lookup("key-file").Value.String()
	if currentFile == "" {
		currentFile = filepath.Join(data.dir, "gatehouse.key")
	}
	if !usingMasterKey {
		if _, err := os.Stat(currentFile); err != nil {
			return fmt.Errorf("current key file: %w (give the current key with --key-file or GATEHOUSE_MASTER_KEY)", err)
		}
		if abs(currentFile) == abs(*newKeyFile) {
			return errors.New("--new-key-file must differ from the current key file")
		}
	}
	oldKey, err := sealer()
	if err != nil {
		return fmt.Errorf("current key: %w", err)
	}
	_, statErr := os.Stat(*newKeyFile)
	created := errors.Is(statErr, os.ErrNotExist)
	key, err := store.LoadOrCreateKey(*newKeyFile)
	if err != nil {
		return fmt.Errorf("new key: %w", err)
	}
	newKey, err := store.NewSealer(key)
	if err != nil {
		return fmt.Errorf("new key: %w", err)
	}

	st, err := openStore(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.RotateKey(ctx, oldKey, newKey)
	if err != nil {
		if created {
			os.Remove(*newKeyFile)
		}
		return err
	}
	if created {
		fmt.Fprintf(stdout, "Created the new key file %s (mode 0600).\n", *newKeyFile)
	}
	fmt.Fprintf(stdout, "Re-sealed %d token values under the new key; nothing else changed.\n", n)
	fmt.Fprintln(stdout, "Next: start the server with the new key (a server still running holds the old one and cannot show token values):")
	if usingMasterKey {
		fmt.Fprintf(stdout, "  set GATEHOUSE_MASTER_KEY to the contents of %s, or unset it and pass --key-file %s.\n", *newKeyFile, *newKeyFile)
	} else {
		fmt.Fprintf(stdout, "  move %s over %s (keep mode 0600), or pass --key-file %s.\n", *newKeyFile, currentFile, *newKeyFile)
	}
	fmt.Fprintln(stdout, "Keep the old key until the server runs with the new one and shows a token value; then destroy it.")
	return nil
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
