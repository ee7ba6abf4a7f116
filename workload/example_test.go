package workload_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pgmedic/pgmedic/workload"
)

// OpenFile reads the application's SQL or a server log as a workload, detecting which
// it is; Inputs streams the statements, and Done says what was skipped.
func ExampleOpenFile() {
	dir, err := os.MkdirTemp("", "workload")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.sql")
	sql := "SELECT * FROM claims WHERE patient_id = $1;\n\\set ON_ERROR_STOP on\nSELEC broken;\nUPDATE claims SET status = 'paid' WHERE id = 7;\n"
	if err := os.WriteFile(path, []byte(sql), 0o600); err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	f, err := workload.OpenFile(ctx, path)
	if err != nil {
		fmt.Println(err)
		return
	}
	n := 0
	for range f.Inputs(ctx) {
		n++
	}
	rep, err := f.Done(ctx)
	fmt.Println(n, "statements;", workload.SkippedCount(rep.Skipped), "skipped; log:", rep.Log, err)

	_, err = workload.OpenFile(ctx, filepath.Join(dir, "missing.sql"))
	var fe *workload.FileError
	fmt.Println(errors.As(err, &fe) && fe.Kind == workload.FileCannotOpen)
	// Output:
	// 2 statements; 2 statements or lines skipped; log: false <nil>
	// true
}
