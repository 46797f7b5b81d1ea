package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"gatehouse/store"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// keyFlags adds --key-file (and the refused --master-key) to a command; the
// function it returns loads the token encryption key, from
// GATEHOUSE_MASTER_KEY or the key file, once the flags are parsed.
func keyFlags(fs *flag.FlagSet, getenv func(string) string, data *dataOpts) func() (*store.Sealer, error) {
	refuseMasterKeyFlag(fs)
	keyFile := fs.String("key-file", getenv("GATEHOUSE_KEY_FILE"), "key file (GATEHOUSE_KEY_FILE; default DATA/gatehouse.key); or set GATEHOUSE_MASTER_KEY to the base64 key")
	return func() (*store.Sealer, error) {
		if *keyFile == "" {
			*keyFile = filepath.Join(data.dir, "gatehouse.key")
		}
		return loadSealer(getenv("GATEHOUSE_MASTER_KEY"), *keyFile)
	}
}

// refuseMasterKeyFlag defines --master-key only to refuse it, saying why and
// what to do instead: a key on a command line shows in ps and in the shell's
// history.
func refuseMasterKeyFlag(fs *flag.FlagSet) {
	fs.Var(refusedFlag("a key on the command line shows in ps and in shell history: set GATEHOUSE_MASTER_KEY, or give a key file with --key-file"),
		"master-key", "not accepted (use GATEHOUSE_MASTER_KEY or --key-file)")
}

// refusedFlag is a flag that is refused, with its reason, when given.
type refusedFlag string

func (f refusedFlag) String() string   { return "" }
func (f refusedFlag) Set(string) error { return errors.New(string(f)) }

// readPassword reads one line from stdin.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	fmt.Fprint(stderr, "Password (one line on standard input): ")
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	fmt.Fprintln(stderr)
	return strings.TrimRight(line, "\r\n"), nil
}

func userCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	data := dataFlag(fs, getenv)
	var account, email, name, role string
	switch sub {
	case "add":
		fs.StringVar(&account, "account", "", "account id (ACC-…)")
		fs.StringVar(&email, "email", "", "email address, the login")
		fs.StringVar(&name, "name", "", "full name")
		fs.StringVar(&role, "role", "", "Administrator, Operator or Viewer")
	case "set-role":
		fs.StringVar(&email, "email", "", "email address of the user")
		fs.StringVar(&role, "role", "", "Administrator, Operator or Viewer")
	case "set-password":
		fs.StringVar(&email, "email", "", "email address of the user")
	case "list":
	default:
		fmt.Fprintf(stderr, "unknown command \"user %s\"\n\n%s", sub, usage)
		return errUsage
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	st, err := openStore(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "add":
		if _, err := st.Account(ctx, account); err != nil {
			return fmt.Errorf("account %q: %w", account, err)
		}
		password, err := readPassword(stdin, stderr)
		if err != nil {
			return err
		}
		u, err := st.CreateUser(ctx, store.NewUser{AccountID: account, Email: email, Name: name, Role: role, Password: password})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Added %s %s (%s) to %s as %s.\n", u.ID, u.Email, u.Name, u.AccountID, u.Role)
	case "set-role":
		if err := st.SetRole(ctx, email, role); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is now %s; their sessions have ended.\n", email, role)
	case "set-password":
		password, err := readPassword(stdin, stderr)
		if err != nil {
			return err
		}
		if err := st.SetPassword(ctx, email, password); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "The password of %s was changed; their sessions have ended.\n", email)
	case "list":
		users, err := st.Users(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tROLE\tACCOUNT")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s (%s)\n", u.ID, u.Email, u.Name, u.Role, u.AccountName, u.AccountID)
		}
		return tw.Flush()
	}
	return nil
}

// accountCommand adds accounts, lists them, and shows or changes an
// account's modules.
func accountCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("account "+sub, flag.ContinueOnError)
	data := dataFlag(fs, getenv)
	var account, name, typ string
	var modules, enable, disable stringList
	switch sub {
	case "add":
		fs.StringVar(&name, "name", "", "the account's name")
		fs.StringVar(&typ, "type", "", "Client, Vendor or Operations")
		fs.Var(&modules, "module", "module to enable for the account (MOD-…); repeat for more")
	case "modules":
		fs.StringVar(&account, "account", "", "account id (ACC-…)")
		fs.Var(&enable, "enable", "module to enable (MOD-…); repeat for more")
		fs.Var(&disable, "disable", "module to disable (MOD-…), taken from the account's tokens too; repeat for more")
	case "list":
	default:
		fmt.Fprintf(stderr, "unknown command \"account %s\"\n\n%s", sub, usage)
		return errUsage
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if sub == "modules" && account == "" {
		fmt.Fprintln(stderr, "account modules needs --account ACC-…")
		return errUsage
	}
	st, err := openStore(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "add":
		a, err := st.AddAccount(ctx, store.SystemActor, store.NewAccount{Name: name, Type: typ, ModuleIDs: modules})
		if err != nil {
			return err
		}
		mods, err := st.AccountModules(ctx, a.ID)
		if err != nil {
			return err
		}
		// The id alone on stdout, for scripts: ACCOUNT=$(gatehouse account add …).
		fmt.Fprintf(stderr, "Added account %s %q (%s) with %s.\n", a.ID, a.Name, a.Type, describeModules(mods))
		fmt.Fprintln(stdout, a.ID)
	case "modules":
		if len(enable)+len(disable) == 0 {
			a, err := st.Account(ctx, account)
			if err != nil {
				return fmt.Errorf("account %q: %w", account, err)
			}
			mods, err := st.AccountModules(ctx, a.ID)
			if err != nil {
				return err
			}
			return printModules(stdout, mods)
		}
		ch, err := st.ChangeAccountModules(ctx, store.SystemActor, account, enable, disable)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("account %q: %w", account, err)
		}
		if err != nil {
			return err
		}
		who := fmt.Sprintf("%s (%s)", ch.Account.ID, ch.Account.Name)
		for _, id := range enable {
			if !slices.ContainsFunc(ch.Enabled, func(m store.Module) bool { return m.ID == id }) {
				fmt.Fprintf(stderr, "%s was already enabled for %s: nothing to do.\n", id, who)
			}
		}
		for _, id := range disable {
			if !slices.ContainsFunc(ch.Disabled, func(m store.Module) bool { return m.ID == id }) {
				fmt.Fprintf(stderr, "%s was not enabled for %s: nothing to do.\n", id, who)
			}
		}
		for _, m := range ch.Enabled {
			fmt.Fprintf(stderr, "Enabled %s (%s) for %s.\n", m.ID, m.Name, who)
		}
		for _, m := range ch.Disabled {
			fmt.Fprintf(stderr, "Disabled %s (%s) for %s.\n", m.ID, m.Name, who)
		}
		if len(ch.Tokens) > 0 {
			fmt.Fprintln(stderr, "Taken from the account's API tokens that held it (every running server honours this within a second):")
			for _, t := range ch.Tokens {
				fmt.Fprintf(stderr, "  %s %q\n", t.ID, t.Name)
			}
		}
		return printModules(stdout, ch.Modules)
	case "list":
		accounts, err := st.Accounts(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tTYPE")
		for _, a := range accounts {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", a.ID, a.Name, a.Type)
		}
		return tw.Flush()
	}
	return nil
}

// printModules prints an account's enabled modules, one a line.
func printModules(w io.Writer, mods []store.Module) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODULE\tNAME")
	for _, m := range mods {
		fmt.Fprintf(tw, "%s\t%s\n", m.ID, m.Name)
	}
	return tw.Flush()
}

// describeModules says which modules an account has, for a sentence.
func describeModules(mods []store.Module) string {
	if len(mods) == 0 {
		return "no modules"
	}
	parts := make([]string, len(mods))
	for i, m := range mods {
		parts[i] = m.ID + " (" + m.Name + ")"
	}
	return "modules " + strings.Join(parts, ", ")
}

func tokenCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	data := dataFlag(fs, getenv)
	account := fs.String("account", "", "account id (ACC-…)")
	name := fs.String("name", "", "token name")
	description := fs.String("description", "", "token description")
	sealer := keyFlags(fs, getenv, data)
	var modules stringList
	fs.Var(&modules, "module", "module to grant (MOD-…); repeat for more")
	if err := parseFlags(fs, args[1:], stderr); err != nil {
		return err
	}
	st, err := openStore(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Account(ctx, *account); err != nil {
		return fmt.Errorf("account %q: %w", *account, err)
	}
	sl, err := sealer()
	if err != nil {
		return err
	}
	t, value, err := st.CreateToken(ctx, sl, store.SystemActor, *account,
		store.NewToken{Name: *name, Description: *description, ModuleIDs: modules})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "Created %s %q in %s. Its value is printed once, below; store it now.\n", t.ID, t.Name, t.AccountID)
	fmt.Fprintln(stdout, value)
	return nil
}

// errAuditBroken is returned when the audit chain does not verify; main
// exits with status 1 for it after the report is printed.
var errAuditBroken = errors.New("the audit trail does not verify")

func auditCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	data := dataFlag(fs, getenv)
	anchorFlag := fs.String("anchor", "", "SEQ:HASH of a record, as an earlier verify or the server's \"audit head\" log line printed it: check that the trail still holds it")
	if err := parseFlags(fs, args[1:], stderr); err != nil {
		return err
	}
	var anchor store.AuditAnchor
	if *anchorFlag != "" {
		var ok bool
		if anchor, ok = store.ParseAuditAnchor(*anchorFlag); !ok {
			fmt.Fprintln(stderr, "--anchor must be SEQ:HASH, a record number and its 64-character hex hash, as verify prints it")
			return errUsage
		}
	}
	st, err := openStore(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := st.VerifyAudit(ctx)
	if err != nil {
		return err
	}
	if res.BadID != "" {
		fmt.Fprintf(stdout, "Audit trail BROKEN at record %s (#%d): %s. The %d records before it verify.\n",
			res.BadID, res.BadSeq, res.Problem, res.Count)
		return errAuditBroken
	}
	fmt.Fprintf(stdout, "Audit trail intact: %d records verified.\n", res.Count)
	if anchor.Seq != 0 {
		problem, err := st.CheckAuditAnchor(ctx, anchor)
		if err != nil {
			return err
		}
		if problem != "" {
			fmt.Fprintf(stdout, "Audit trail BROKEN against anchor %s: %s.\n", anchor, problem)
			return errAuditBroken
		}
		fmt.Fprintf(stdout, "Anchor holds: record #%d and every record before it are as they were when the anchor was taken.\n", anchor.Seq)
	}
	// The last record the walk checked, not a fresh read of the head: a
	// running server may have written more since.
	if head := res.Last; head.Seq != 0 {
		fmt.Fprintf(stdout, "Head: %s (#%d). Its anchor, to keep somewhere else and check later with --anchor: %s\n", head.ID, head.Seq, head)
	}
	return nil
}

// seedCommand fills an account with bulk data for benchmarks and load tests.
func seedCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	data := dataFlag(fs, getenv)
	tokens := fs.Int("tokens", 1000, "tokens to add")
	audit := fs.Int("audit", 0, "audit records to add in all (at least one per token)")
	account := fs.String("account", "", "account id (default: the first account, or a new one)")
	sealer := keyFlags(fs, getenv, data)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *tokens < 0 || *audit < 0 {
		fmt.Fprintln(stderr, "--tokens and --audit must not be negative")
		return errUsage
	}
	st, err := openStore(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()
	sl, err := sealer()
	if err != nil {
		return err
	}
	if *account == "" {
		accounts, err := st.Accounts(ctx)
		if err != nil {
			return err
		}
		if len(accounts) > 0 {
			*account = accounts[0].ID
		} else {
			mods, err := st.Modules(ctx)
			if err != nil {
				return err
			}
			ids := make([]string, len(mods))
			for i, m := range mods {
				ids[i] = m.ID
			}
			a, err := st.CreateAccount(ctx, "Bulk Data Inc.", store.AccountClient, ids)
			if err != nil {
				return err
			}
			*account = a.ID
		}
	}
	acc, err := st.Account(ctx, *account)
	if err != nil {
		return fmt.Errorf("account %q: %w", *account, err)
	}
	start := time.Now()
	err = st.BulkSeed(ctx, sl, acc.ID, *tokens, *audit, func(t, a int) {
		fmt.Fprintf(stderr, "\r%d tokens, %d audit records (%s)", t, a, time.Since(start).Round(time.Second))
	})
	fmt.Fprintln(stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Added %d tokens and %d audit records to %s (%s) in %s.\n",
		*tokens, max(*audit, *tokens), acc.Name, acc.ID, time.Since(start).Round(10*time.Millisecond))
	return nil
}
