package localpg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// StandbyOptions say where to run a streaming standby of a primary.
type StandbyOptions struct {
	Options
	// Slot, when set, is a physical replication slot created on the primary for the
	// standby to stream from, so the primary keeps the WAL the standby still needs.
	Slot string
}

// StartStandby makes a streaming standby of primary in opts.Dir with pg_basebackup (over
// the primary's private socket, as its superuser) and starts it; a standby already made
// there is started as it is. The standby has its own port and socket, the primary's CA
// and certificate (one sslrootcert verifies the whole topology), the primary's superuser
// password, and the primary's extra settings under its own (hot standby needs the
// primary's connection and worker limits or more).
func StartStandby(ctx context.Context, primary *Cluster, opts StandbyOptions) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("localpg: no directory given for the standby")
	}
	settings := maps.Clone(primary.opts.Settings)
	if settings == nil {
		settings = map[string]string{}
	}
	maps.Copy(settings, opts.Settings)
	opts.Settings = settings
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("localpg: resolving %s: %w", opts.Dir, err)
	}
	opts.Dir = dir
	if _, err := readState(dir); err == nil {
		return Start(ctx, opts.Options)
	}
	own, err := currentOwner(opts.ServerUser)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, Superuser: primary.Superuser, owner: own, opts: opts.Options, Bin: primary.Bin}
	c.CAFile = filepath.Join(dir, "tls", "ca.crt")
	c.PassFile = filepath.Join(dir, "pgpass")
	if err := c.prepareHome(); err != nil {
		return nil, err
	}
	if err := c.baseBackup(ctx, primary, opts.Slot); err != nil {
		return nil, err
	}
	if err := c.shareTLS(primary); err != nil {
		return nil, err
	}
	pw, err := os.ReadFile(filepath.Join(primary.Dir, "superuser.pw"))
	if err != nil {
		return nil, fmt.Errorf("localpg: reading the primary's superuser password: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "superuser.pw"), pw, 0o600); err != nil {
		return nil, fmt.Errorf("localpg: writing the superuser password file: %w", err)
	}
	if err := os.WriteFile(c.PassFile, nil, 0o600); err != nil {
		return nil, fmt.Errorf("localpg: writing %s: %w", c.PassFile, err)
	}
	if err := c.saveState(); err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// baseBackup copies the primary's data directory with its WAL streamed alongside, and
// writes standby.signal and primary_conninfo (-R) so the copy starts as a standby.
func (c *Cluster) baseBackup(ctx context.Context, primary *Cluster, slot string) error {
	args := []string{"-D", c.DataDir, "-h", primary.SocketDir, "-p", strconv.Itoa(primary.Port()),
		"-U", primary.Superuser, "-X", "stream", "-R", "--checkpoint=fast", "--no-sync"}
	if slot != "" {
		args = append(args, "--create-slot", "--slot="+slot)
	}
	start := time.Now()
	cmd := c.owner.command(c.Bin.Tool("pg_basebackup"), args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("localpg: pg_basebackup failed: %w: %s", err, lastLines(string(out), 3))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fmt.Fprintf(c.opts.Log, "copied the primary in %s to %s (%.1fs)\n", primary.DataDir, c.DataDir, time.Since(start).Seconds())
	return nil
}

// Promote ends recovery on a standby (pg_ctl promote) and waits until it accepts writes.
func (c *Cluster) Promote(ctx context.Context) error {
	cmd := c.owner.command(c.Bin.Tool("pg_ctl"), "promote", "-w", "-D", c.DataDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("localpg: pg_ctl promote failed: %w: %s", err, lastLines(string(out), 3))
	}
	return ctx.Err()
}

// shareTLS gives the standby the primary's CA and server certificate: they name the
// loopback addresses, which the standby listens on too.
func (c *Cluster) shareTLS(primary *Cluster) error {
	clientTLS := filepath.Join(c.Dir, "tls")
	if err := os.MkdirAll(clientTLS, 0o755); err != nil {
		return fmt.Errorf("localpg: creating %s: %w", clientTLS, err)
	}
	copyFile := func(from, to string, mode os.FileMode, owned bool) error {
		raw, err := os.ReadFile(from)
		if err != nil {
			return fmt.Errorf("localpg: reading the primary's %s: %w", filepath.Base(from), err)
		}
		if owned {
			return c.owner.writeFile(to, raw, mode)
		}
		if err := os.WriteFile(to, raw, mode); err != nil {
			return fmt.Errorf("localpg: writing %s: %w", to, err)
		}
		return nil
	}
	if err := copyFile(primary.CAFile, c.CAFile, 0o644, false); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(primary.Dir, "tls", "ca.key"), filepath.Join(clientTLS, "ca.key"), 0o600, false); err != nil {
		return err
	}
	srvTLS := filepath.Join(c.Home, "tls")
	if err := c.owner.mkdir(srvTLS, 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		mode os.FileMode
	}{{"server.crt", 0o644}, {"server.key", 0o600}} {
		if err := copyFile(filepath.Join(primary.Home, "tls", f.name), filepath.Join(srvTLS, f.name), f.mode, true); err != nil {
			return err
		}
	}
	return nil
}
