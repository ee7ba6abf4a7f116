package backup

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/snapshot"
)

// Evidence reads the backup status and turns it into the snapshot's backup evidence
// for the health checks. It does not fail: what cannot be read becomes a problem the
// checks report as unknown.
func Evidence(ctx context.Context, conn *pgx.Conn, o StatusOptions) *snapshot.Backups {
	b := &snapshot.Backups{Gathered: time.Now().UTC()}
	if o.PgBackRest != nil {
		b.Sources = append(b.Sources, "pgbackrest stanza "+o.PgBackRest.Stanza)
	}
	if o.Dir != "" {
		b.Sources = append(b.Sources, "directory "+o.Dir)
	}
	st, err := ReadStatus(ctx, conn, o)
	if err != nil {
		b.Problems = append(b.Problems, err.Error())
		return b
	}
	return evidenceFrom(st, o.Dir, b)
}

func evidenceFrom(st *Status, dir string, b *snapshot.Backups) *snapshot.Backups {
	b.RPOSeconds = st.Archiver.RPOSeconds
	b.ArchiveTimeout = st.Archiver.TimeoutSeconds
	later := func(cur *time.Time, t time.Time) *time.Time {
		if cur == nil || t.After(*cur) {
			return &t
		}
		return cur
	}
	if r := st.Repo; r != nil {
		if r.LastFull != nil {
			b.LastFull = later(b.LastFull, r.LastFull.Stop)
		}
		if r.Last != nil {
			b.LastBackup = later(b.LastBackup, r.Last.Stop)
		}
	}
	if dir != "" {
		if all, err := List(dir); err == nil && len(all) > 0 {
			b.LastBackup = later(b.LastBackup, all[0].Taken)
		}
	}
	if v := st.LastVerified; v != nil {
		b.LastVerified = &v.Verified
		b.RestoreSeconds = v.RestoreSeconds
		b.RestoredBytes = v.DatabaseBytes
	}
	return b
}
