package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/pgconn"
)

// Status is the state of a database's backups: pgBackRest's repository, WAL
// archiving, and the last restore pgmedic verified.
type Status struct {
	Now          time.Time     `json:"now"`
	Repo         *RepoStatus   `json:"pgbackrest,omitempty"`
	Archiver     Archiving     `json:"archiving"`
	LastVerified *Verification `json:"last_verified,omitempty"`
	Notes        []string      `json:"notes,omitempty"`
}

// RepoStatus is what `pgbackrest info --output=json` says about one stanza.
type RepoStatus struct {
	Stanza     string       `json:"stanza"`
	Status     string       `json:"status"`
	OK         bool         `json:"ok"`
	Cipher     string       `json:"cipher"`
	Backups    int          `json:"backups"`
	LastFull   *BackupEntry `json:"last_full,omitempty"`
	LastIncr   *BackupEntry `json:"last_incremental,omitempty"` // newest incr or diff
	Last       *BackupEntry `json:"last,omitempty"`             // newest of any type
	ArchiveMin string       `json:"archive_min,omitempty"`
	ArchiveMax string       `json:"archive_max,omitempty"`
}

// BackupEntry is one pgBackRest backup.
type BackupEntry struct {
	Label     string    `json:"label"`
	Type      string    `json:"type"` // full, diff, incr
	Start     time.Time `json:"start"`
	Stop      time.Time `json:"stop"`
	Size      int64     `json:"size"`
	RepoSize  int64     `json:"repo_size"`
	LSNStart  string    `json:"lsn_start"`
	LSNStop   string    `json:"lsn_stop"`
	WALStart  string    `json:"wal_start"`
	WALStop   string    `json:"wal_stop"`
	Error     bool      `json:"error"`
	Duration  float64   `json:"duration_seconds"`
	Reference []string  `json:"reference,omitempty"`
}

// Archiving is pg_stat_archiver read against the current WAL position. RPOSeconds is
// how much committed work a loss of the server would cost now: zero when every WAL
// byte written is archived, else the time since the last archived segment; nil when
// it cannot be told (archiving off, never archived, or a standby).
type Archiving struct {
	Mode             string     `json:"archive_mode"`
	Command          string     `json:"archive_command"`
	TimeoutSeconds   float64    `json:"archive_timeout_seconds"`
	Archived         int64      `json:"archived_count"`
	Failed           int64      `json:"failed_count"`
	LastArchivedWAL  string     `json:"last_archived_wal,omitempty"`
	LastArchivedTime *time.Time `json:"last_archived_time,omitempty"`
	LastFailedWAL    string     `json:"last_failed_wal,omitempty"`
	LastFailedTime   *time.Time `json:"last_failed_time,omitempty"`
	CurrentLSN       string     `json:"current_lsn,omitempty"`
	PendingBytes     *int64     `json:"pending_bytes,omitempty"`
	Failing          bool       `json:"failing"`
	RPOSeconds       *float64   `json:"rpo_seconds,omitempty"`
}

// StatusOptions say where to look.
type StatusOptions struct {
	PgBackRest *PgBackRest // nil: no pgBackRest repository
	Dir        string      // directory of pgmedic's logical backups ("" none)
}

// ReadStatus gathers the status. The database session may be read-only.
func ReadStatus(ctx context.Context, conn *pgx.Conn, o StatusOptions) (*Status, error) {
	st := &Status{}
	if err := readArchiving(ctx, conn, &st.Archiver, &st.Now); err != nil {
		return nil, err
	}
	if o.PgBackRest != nil {
		out, err := o.PgBackRest.Run(ctx, "info", "--output=json")
		if err != nil {
			return nil, err
		}
		if st.Repo, err = parseInfo(out, o.PgBackRest.Stanza); err != nil {
			return nil, err
		}
	}
	if o.Dir != "" {
		v, err := LastVerified(o.Dir)
		if err != nil {
			return nil, err
		}
		st.LastVerified = v
	}
	return st, nil
}

const archivingSQL = pgconn.Marker + `SELECT current_setting('archive_mode'), current_setting('archive_command'),
  EXTRACT(epoch FROM current_setting('archive_timeout')::interval)::float8,
  a.archived_count, a.failed_count, COALESCE(a.last_archived_wal, ''), a.last_archived_time,
  COALESCE(a.last_failed_wal, ''), a.last_failed_time,
  CASE WHEN pg_is_in_recovery() THEN '' ELSE pg_current_wal_insert_lsn()::text END,
  pg_size_bytes(current_setting('wal_segment_size')), now()
FROM pg_stat_archiver a`

func readArchiving(ctx context.Context, conn *pgx.Conn, a *Archiving, now *time.Time) error {
	var segSize int64
	if err := conn.QueryRow(ctx, archivingSQL).Scan(&a.Mode, &a.Command, &a.TimeoutSeconds, &a.Archived, &a.Failed,
		&a.LastArchivedWAL, &a.LastArchivedTime, &a.LastFailedWAL, &a.LastFailedTime, &a.CurrentLSN, &segSize, now); err != nil {
		return fmt.Errorf("backup: reading pg_stat_archiver: %w", err)
	}
	a.Failing = a.Failed > 0 && a.LastFailedTime != nil && (a.LastArchivedTime == nil || a.LastFailedTime.After(*a.LastArchivedTime))
	if a.Mode == "off" || a.CurrentLSN == "" || a.LastArchivedTime == nil {
		return nil
	}
	cur, ok1 := parseLSN(a.CurrentLSN)
	end, ok2 := segmentEnd(a.LastArchivedWAL, segSize)
	if !ok1 || !ok2 {
		return nil
	}
	// A fresh segment starts with its 40-byte long page header: that is no work.
	pending := int64(cur) - int64(end)
	if pending <= walLongPageHeader {
		pending = 0
	}
	a.PendingBytes = &pending
	rpo := 0.0
	if pending > 0 {
		rpo = now.Sub(*a.LastArchivedTime).Seconds()
	}
	a.RPOSeconds = &rpo
	return nil
}

const walLongPageHeader = 40

func parseLSN(s string) (uint64, bool) {
	var hi, lo uint64
	if _, err := fmt.Sscanf(s, "%X/%X", &hi, &lo); err != nil {
		return 0, false
	}
	return hi<<32 | lo, true
}

// segmentEnd is the LSN just past WAL file name (timeline, log, segment in hex).
func segmentEnd(name string, segSize int64) (uint64, bool) {
	if len(name) < 24 || segSize <= 0 {
		return 0, false
	}
	log, err1 := strconv.ParseUint(name[8:16], 16, 32)
	seg, err2 := strconv.ParseUint(name[16:24], 16, 32)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	perLog := uint64(0x100000000) / uint64(segSize)
	return (log*perLog + seg + 1) * uint64(segSize), true
}

type infoJSON struct {
	Name   string `json:"name"`
	Cipher string `json:"cipher"`
	Status struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
	Archive []struct {
		Min string `json:"min"`
		Max string `json:"max"`
	} `json:"archive"`
	Backup []struct {
		Label   string `json:"label"`
		Type    string `json:"type"`
		Error   bool   `json:"error"`
		Archive struct {
			Start string `json:"start"`
			Stop  string `json:"stop"`
		} `json:"archive"`
		Info struct {
			Size       int64 `json:"size"`
			Repository struct {
				Size int64 `json:"size"`
			} `json:"repository"`
		} `json:"info"`
		LSN struct {
			Start string `json:"start"`
			Stop  string `json:"stop"`
		} `json:"lsn"`
		Timestamp struct {
			Start int64 `json:"start"`
			Stop  int64 `json:"stop"`
		} `json:"timestamp"`
		Reference []string `json:"reference"`
	} `json:"backup"`
}

func parseInfo(raw []byte, stanza string) (*RepoStatus, error) {
	var all []infoJSON
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, fmt.Errorf("backup: pgbackrest info printed something that is not its JSON: %w", err)
	}
	for _, s := range all {
		if s.Name != stanza {
			continue
		}
		r := &RepoStatus{Stanza: s.Name, Status: s.Status.Message, OK: s.Status.Code == 0, Cipher: s.Cipher, Backups: len(s.Backup)}
		for _, a := range s.Archive {
			if r.ArchiveMin == "" || a.Min < r.ArchiveMin {
				r.ArchiveMin = a.Min
			}
			r.ArchiveMax = max(r.ArchiveMax, a.Max)
		}
		for _, b := range s.Backup {
			e := &BackupEntry{Label: b.Label, Type: b.Type, Start: time.Unix(b.Timestamp.Start, 0).UTC(), Stop: time.Unix(b.Timestamp.Stop, 0).UTC(),
				Size: b.Info.Size, RepoSize: b.Info.Repository.Size, LSNStart: b.LSN.Start, LSNStop: b.LSN.Stop,
				WALStart: b.Archive.Start, WALStop: b.Archive.Stop, Error: b.Error,
				Duration: float64(b.Timestamp.Stop - b.Timestamp.Start), Reference: b.Reference}
			if r.Last == nil || e.Stop.After(r.Last.Stop) {
				r.Last = e
			}
			if e.Type == "full" && (r.LastFull == nil || e.Stop.After(r.LastFull.Stop)) {
				r.LastFull = e
			}
			if e.Type != "full" && (r.LastIncr == nil || e.Stop.After(r.LastIncr.Stop)) {
				r.LastIncr = e
			}
		}
		return r, nil
	}
	return nil, fmt.Errorf("backup: pgbackrest knows no stanza %q", stanza)
}

// LastVerified is the newest successful verification record in dir (of a logical
// backup, or of a pgBackRest stanza), nil if none.
func LastVerified(dir string) (*Verification, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("backup: directory %s: %w", dir, err)
	}
	names, err := filepath.Glob(filepath.Join(dir, "*"+VerifiedSuffix))
	if err != nil {
		return nil, fmt.Errorf("backup: listing %s: %w", dir, err)
	}
	var best *Verification
	for _, n := range names {
		raw, err := os.ReadFile(n)
		if err != nil {
			continue
		}
		var v Verification
		if json.Unmarshal(raw, &v) != nil || !v.OK {
			continue
		}
		if best == nil || v.Verified.After(best.Verified) {
			best = &v
		}
	}
	return best, nil
}
