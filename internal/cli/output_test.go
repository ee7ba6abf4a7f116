package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// --output aimed at a device, a FIFO, a symbolic link and a regular file.
func TestOutputTargets(t *testing.T) {
	dir := t.TempDir()
	snap := filepath.Join(dir, "snap.json")
	if r := run(t, "collect", "--dsn", pg.NewDB(t).URI, "--output", snap); r.code != 0 {
		t.Fatalf("collect: %s", r.stderr)
	}
	check := func(path string) result { return run(t, "check", "--snapshot", snap, "--output", path) }
	write := func(path string) (int, string) {
		r := check(path)
		return r.code, r.stderr
	}
	// /dev/null is written through and stays a device (writing as root, a rename
	// would have replaced it with a regular file).
	if code, stderr := write("/dev/null"); code != 0 {
		t.Fatalf("/dev/null: exit %d: %s", code, stderr)
	}
	if st, err := os.Stat("/dev/null"); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("/dev/null is no longer a character device: %v %v", st.Mode(), err)
	}
	// /dev/full fails with one line saying why.
	r := check("/dev/full")
	if line := oneErrorLine(t, r); r.code != 1 || !strings.Contains(line, "no space left") {
		t.Errorf("/dev/full: exit %d: %s", r.code, line)
	}
	// A FIFO is written through to its reader.
	fifo := filepath.Join(dir, "report.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string)
	go func() {
		fh, err := os.Open(fifo)
		if err != nil {
			got <- err.Error()
			return
		}
		data, _ := io.ReadAll(fh)
		fh.Close()
		got <- string(data)
	}()
	if code, stderr := write(fifo); code != 0 {
		t.Fatalf("FIFO: exit %d: %s", code, stderr)
	}
	if text := <-got; !strings.Contains(text, "pgmedic") {
		t.Errorf("the FIFO's reader got %.200q", text)
	}
	if st, _ := os.Lstat(fifo); st.Mode()&os.ModeNamedPipe == 0 {
		t.Error("the FIFO was replaced")
	}
	// A symbolic link is refused, and its target left alone.
	target := filepath.Join(dir, "target.txt")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.txt")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	r = check(link)
	if line := oneErrorLine(t, r); r.code != 2 || !strings.Contains(line, "symbolic link") || !strings.Contains(line, target) {
		t.Errorf("symlink: exit %d: %s", r.code, line)
	}
	if data, _ := os.ReadFile(target); string(data) != "keep" {
		t.Error("the link's target was written")
	}
	// A regular file is replaced whole, readable by its owner only.
	file := filepath.Join(dir, "report.txt")
	if err := os.WriteFile(file, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stderr := write(file); code != 0 {
		t.Fatalf("file: exit %d: %s", code, stderr)
	}
	st, _ := os.Stat(file)
	data, _ := os.ReadFile(file)
	if st.Mode().Perm() != 0o600 || !strings.Contains(string(data), "pgmedic") {
		t.Errorf("file: mode %v, %d bytes", st.Mode().Perm(), len(data))
	}
	// A directory is refused.
	if r := check(dir); r.code != 2 {
		t.Errorf("directory: exit %d", r.code)
	}
}

// Names from the database reach the terminal escaped: a table whose name holds an
// escape sequence cannot clear the screen or recolour the report.
func TestControlCharactersEscaped(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE \"evil\x1b[2J\" (id int PRIMARY KEY); CREATE TABLE kids (id int PRIMARY KEY, p int REFERENCES \"evil\x1b[2J\" (id)); ANALYZE")
	for _, args := range [][]string{
		{"check", "--dsn", db.URI, "--no-color"},
		{"fix", "--dsn", db.URI, "--check", "schema.fk_without_index"},
		{"fix", "--dsn", db.URI, "--check", "schema.fk_without_index", "--apply"},
		{"actions", "--dsn", db.URI},
	} {
		r := run(t, args...)
		if args[0] == "check" && !strings.Contains(r.stdout, `\x1b[2J`) {
			t.Errorf("%v: the name is not shown escaped: %s", args[:2], r.stdout)
		}
		if strings.ContainsRune(r.stdout+r.stderr, 0x1b) {
			t.Errorf("%v: a raw escape character reached the output", args[:2])
		}
	}
}
