package localpg

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// owner is the operating-system account the server runs as. initdb and postgres refuse
// to run as root, so when pgmedic is root the cluster belongs to the "postgres" account.
type owner struct {
	uid, gid int
	groups   []uint32
	name     string
	switched bool // true when we run the server as another account than ourselves
}

func currentOwner(serverUser string) (*owner, error) {
	if os.Geteuid() != 0 {
		return &owner{uid: os.Getuid(), gid: os.Getgid()}, nil
	}
	if serverUser == "" {
		serverUser = "postgres"
	}
	u, err := user.Lookup(serverUser)
	if err != nil {
		return nil, fmt.Errorf("localpg: running as root, and there is no %q account to run the server as: %w", serverUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	o := &owner{uid: uid, gid: gid, name: serverUser, switched: true}
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.Atoi(g); err == nil {
				o.groups = append(o.groups, uint32(n))
			}
		}
	}
	return o, nil
}

// command builds an exec.Cmd that runs as the owner.
func (o *owner) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	if o.switched {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(o.uid), Gid: uint32(o.gid), Groups: o.groups},
		}
		// HOME of root is not readable by the postgres account; give it a neutral one.
		cmd.Env = append(os.Environ(), "HOME="+os.TempDir())
	}
	return cmd
}

// mkdir creates dir (and parents) and hands it to the owner with the given mode.
func (o *owner) mkdir(dir string, mode fs.FileMode) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return fmt.Errorf("localpg: creating %s: %w", dir, err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		return fmt.Errorf("localpg: setting the mode of %s: %w", dir, err)
	}
	return o.chown(dir)
}

func (o *owner) chown(path string) error {
	if !o.switched {
		return nil
	}
	if err := os.Lchown(path, o.uid, o.gid); err != nil {
		return fmt.Errorf("localpg: giving %s to %s: %w", path, o.name, err)
	}
	return nil
}

// writeFile writes a file owned by the server account.
func (o *owner) writeFile(path string, data []byte, mode fs.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("localpg: writing %s: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("localpg: setting the mode of %s: %w", path, err)
	}
	return o.chown(path)
}

// canReach reports whether the owner can traverse every directory down to dir. When
// root keeps its checkout under /root (mode 0700), the postgres account cannot.
func (o *owner) canReach(dir string) bool {
	if !o.switched {
		return true
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for p := abs; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err == nil {
			if !o.mayTraverse(st) {
				return false
			}
		} else if !os.IsNotExist(err) {
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}

func (o *owner) mayTraverse(st fs.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	mode := st.Mode().Perm()
	switch {
	case int(sys.Uid) == o.uid:
		return mode&0o100 != 0
	case o.inGroup(sys.Gid):
		return mode&0o010 != 0
	default:
		return mode&0o001 != 0
	}
}

func (o *owner) inGroup(gid uint32) bool {
	if int(gid) == o.gid {
		return true
	}
	for _, g := range o.groups {
		if g == gid {
			return true
		}
	}
	return false
}

// ServerCommand builds a command that runs as the server account (the "postgres" user
// when pgmedic runs as root; this process's user otherwise), for tools that refuse root
// such as Patroni. It is killed when this process dies.
func ServerCommand(name string, args ...string) (*exec.Cmd, error) {
	o, err := currentOwner("")
	if err != nil {
		return nil, err
	}
	cmd := o.command(name, args...)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	return cmd, nil
}

// GiveToServer hands paths to the server account (a no-op unless pgmedic runs as root).
func GiveToServer(paths ...string) error {
	o, err := currentOwner("")
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := o.chown(p); err != nil {
			return err
		}
	}
	return nil
}
