package localpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Binaries is one PostgreSQL server installation.
type Binaries struct {
	Dir          string // directory holding initdb, postgres, pg_ctl ...
	Version      string // e.g. "15.18"
	Major        int    // e.g. 15
	SharedirPath string // where extension control files live (…/share/postgresql/15)
	PkgLibDir    string // where extension shared libraries live
}

// ErrNoBinaries is returned when no server installation can be found.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, postgres) not found")

// MissingBinariesError carries the places searched and the command that installs them.
type MissingBinariesError struct {
	Searched []string
}

func (e *MissingBinariesError) Error() string {
	return fmt.Sprintf("%v (looked in %s)", ErrNoBinaries, strings.Join(e.Searched, ", "))
}

// Hint is the one-line remedy shown to the user.
func (e *MissingBinariesError) Hint() string {
	return "install them with: sudo apt-get install -y postgresql-15 postgresql-contrib (or run scripts/setup), or point PGMEDIC_PG_BIN at a bin directory"
}

func (e *MissingBinariesError) Unwrap() error { return ErrNoBinaries }

// FindBinaries locates the server binaries: binDir if given, then $PGMEDIC_PG_BIN, then a
// directory on $PATH holding both initdb and postgres, then the newest
// /usr/lib/postgresql/<major>/bin.
func FindBinaries(ctx context.Context, binDir string) (*Binaries, error) {
	var candidates []string
	if binDir != "" {
		candidates = append(candidates, binDir)
	} else {
		if env := os.Getenv("PGMEDIC_PG_BIN"); env != "" {
			candidates = append(candidates, env)
		} else {
			if p, err := exec.LookPath("postgres"); err == nil {
				if real, err := filepath.EvalSymlinks(p); err == nil {
					candidates = append(candidates, filepath.Dir(real))
				}
				candidates = append(candidates, filepath.Dir(p))
			}
			candidates = append(candidates, debianBinDirs()...)
		}
	}
	for _, dir := range candidates {
		if !isExecutable(filepath.Join(dir, "postgres")) || !isExecutable(filepath.Join(dir, "initdb")) {
			continue
		}
		b, err := describe(ctx, dir)
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	searched := candidates
	if len(searched) == 0 {
		searched = []string{"PATH", "/usr/lib/postgresql/*/bin"}
	}
	return nil, &MissingBinariesError{Searched: searched}
}

// debianBinDirs lists /usr/lib/postgresql/<major>/bin, newest major first.
func debianBinDirs() []string {
	entries, err := os.ReadDir("/usr/lib/postgresql")
	if err != nil {
		return nil
	}
	var majors []int
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			majors = append(majors, n)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(majors)))
	dirs := make([]string, 0, len(majors))
	for _, m := range majors {
		dirs = append(dirs, filepath.Join("/usr/lib/postgresql", strconv.Itoa(m), "bin"))
	}
	return dirs
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?`)

func describe(ctx context.Context, dir string) (*Binaries, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("localpg: running %s --version: %w", filepath.Join(dir, "postgres"), err)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		return nil, fmt.Errorf("localpg: cannot read the server version from %q", strings.TrimSpace(string(out)))
	}
	major, _ := strconv.Atoi(m[1])
	b := &Binaries{Dir: dir, Major: major, Version: m[1]}
	if m[2] != "" {
		b.Version += "." + m[2]
	}
	b.SharedirPath, b.PkgLibDir = installDirs(ctx, dir, major)
	return b, nil
}

// installDirs asks pg_config where extensions live, falling back to the Debian layout.
func installDirs(ctx context.Context, binDir string, major int) (share, lib string) {
	if pgc := filepath.Join(binDir, "pg_config"); isExecutable(pgc) {
		if out, err := exec.CommandContext(ctx, pgc, "--sharedir", "--pkglibdir").Output(); err == nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) == 2 {
				return strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1])
			}
		}
	}
	return fmt.Sprintf("/usr/share/postgresql/%d", major), fmt.Sprintf("/usr/lib/postgresql/%d/lib", major)
}

// HasExtension reports whether the extension's control file is installed.
func (b *Binaries) HasExtension(name string) bool {
	_, err := os.Stat(filepath.Join(b.SharedirPath, "extension", name+".control"))
	return err == nil
}

// HasLibrary reports whether a loadable module (for shared_preload_libraries) is installed.
func (b *Binaries) HasLibrary(name string) bool {
	_, err := os.Stat(filepath.Join(b.PkgLibDir, name+".so"))
	return err == nil
}

// Tool returns the path of a program in the installation (pg_dump, pg_basebackup ...).
func (b *Binaries) Tool(name string) string { return filepath.Join(b.Dir, name) }
