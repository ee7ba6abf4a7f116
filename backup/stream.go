package backup

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The encrypted file is a 64-byte header followed by records. Each record is a 5-byte
// header (kind with the final flag, ciphertext length) and AES-256-GCM ciphertext. The
// nonce is the record's sequence number and its final flag, and the additional data is
// the file header plus the record header, so a record moved, dropped, duplicated,
// altered or given a false final flag fails authentication, and a file cut short ends
// without its final record. The data key is derived from the key file and a random
// salt per file, so nonces never repeat under one key.
//
//	header: magic "PGMDBK01" | version 1 | 3 zero bytes | chunk size (uint32) |
//	        salt (32) | key check (16)
//	record: kind|final<<7 (1) | length (uint32) | ciphertext (length bytes)
const (
	magic       = "PGMDBK01"
	formatV1    = 1
	headerSize  = 64
	recHdrSize  = 5
	tagSize     = 16
	ChunkSize   = 1 << 20 // plaintext bytes per data record
	maxRecord   = 64 << 20
	finalFlag   = 0x80
	kindData    = 1
	kindTrailer = 2
)

// Reasons an encrypted backup is refused. Each is its own error so a caller can tell
// them apart; the messages are what a user sees.
var (
	ErrNotBackup = errors.New("is not a pgmedic backup file")
	ErrWrongKey  = errors.New("cannot be opened with this key (wrong key file)")
	ErrTruncated = errors.New("is truncated: it ends before its final record")
	ErrDamaged   = errors.New("is damaged or was altered: a record fails authentication")
	ErrTrailing  = errors.New("has data after its final record (altered)")
)

// RecordError says which record failed and why.
type RecordError struct {
	Seq uint64
	Err error
}

func (e *RecordError) Error() string { return fmt.Sprintf("%v (record %d)", e.Err, e.Seq) }
func (e *RecordError) Unwrap() error { return e.Err }

func deriveKeys(key, salt []byte) (aead cipher.AEAD, check []byte, err error) {
	if len(key) != KeySize {
		return nil, nil, fmt.Errorf("backup: key must be %d bytes, got %d", KeySize, len(key))
	}
	dk, err := hkdf.Key(sha256.New, key, salt, "pgmedic backup v1 data", 32)
	if err != nil {
		return nil, nil, fmt.Errorf("backup: deriving the data key: %w", err)
	}
	block, err := aes.NewCipher(dk)
	if err != nil {
		return nil, nil, fmt.Errorf("backup: %w", err)
	}
	aead, err = cipher.NewGCM(block)
	if err != nil {
		return nil, nil, fmt.Errorf("backup: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("pgmedic backup v1 key check"))
	m.Write(salt)
	return aead, m.Sum(nil)[:16], nil
}

func nonce(seq uint64, final bool) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n, seq)
	if final {
		n[8] = 1
	}
	return n
}

// Writer encrypts a stream of data records and ends it with a trailer record.
type Writer struct {
	w      io.Writer
	aead   cipher.AEAD
	header []byte
	buf    []byte
	out    []byte
	seq    uint64
	done   bool
}

// NewWriter writes the file header to w and returns a Writer. Write the dump through
// it, then call Finish with the trailer.
func NewWriter(w io.Writer, key []byte) (*Writer, error) {
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("backup: generating a salt: %w", err)
	}
	aead, check, err := deriveKeys(key, salt)
	if err != nil {
		return nil, err
	}
	h := make([]byte, headerSize)
	copy(h, magic)
	h[8] = formatV1
	binary.BigEndian.PutUint32(h[12:16], ChunkSize)
	copy(h[16:48], salt)
	copy(h[48:64], check)
	if _, err := w.Write(h); err != nil {
		return nil, fmt.Errorf("backup: writing the header: %w", err)
	}
	return &Writer{w: w, aead: aead, header: h, buf: make([]byte, 0, ChunkSize),
		out: make([]byte, 0, recHdrSize+ChunkSize+tagSize)}, nil
}

// Write buffers p and writes a data record for every full chunk.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("backup: write after Finish")
	}
	n := 0
	for len(p) > 0 {
		k := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		n += k
		if len(w.buf) == cap(w.buf) {
			if err := w.record(kindData, false, w.buf); err != nil {
				return n, err
			}
			w.buf = w.buf[:0]
		}
	}
	return n, nil
}

// Finish writes what is buffered and the final trailer record.
func (w *Writer) Finish(trailer []byte) error {
	if w.done {
		return errors.New("backup: Finish called twice")
	}
	if len(w.buf) > 0 {
		if err := w.record(kindData, false, w.buf); err != nil {
			return err
		}
		w.buf = w.buf[:0]
	}
	w.done = true
	return w.record(kindTrailer, true, trailer)
}

func (w *Writer) record(kind byte, final bool, plain []byte) error {
	hdr := [recHdrSize]byte{kind}
	if final {
		hdr[0] |= finalFlag
	}
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(plain)+tagSize))
	ad := append(append(make([]byte, 0, headerSize+recHdrSize), w.header...), hdr[:]...)
	out := append(w.out[:0], hdr[:]...)
	out = w.aead.Seal(out, nonce(w.seq, final), plain, ad)
	w.seq++
	if _, err := w.w.Write(out); err != nil {
		return fmt.Errorf("backup: writing record %d: %w", w.seq-1, err)
	}
	return nil
}

// Reader decrypts the data records of a backup; Trailer is available once Read has
// returned io.EOF, which it does only after the final record authenticated.
type Reader struct {
	r       *bufio.Reader
	aead    cipher.AEAD
	header  []byte
	seq     uint64
	plain   []byte
	rec     []byte
	trailer []byte
	err     error
}

// NewReader reads and checks the header: the magic and the key check.
func NewReader(r io.Reader, key []byte) (*Reader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	h := make([]byte, headerSize)
	if _, err := io.ReadFull(br, h); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ErrNotBackup
		}
		return nil, fmt.Errorf("backup: reading the header: %w", err)
	}
	if string(h[:8]) != magic || h[8] != formatV1 {
		return nil, ErrNotBackup
	}
	aead, check, err := deriveKeys(key, h[16:48])
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(check, h[48:64]) {
		return nil, ErrWrongKey
	}
	return &Reader{r: br, aead: aead, header: h}, nil
}

// Read returns decrypted dump data.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.next()
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// Trailer is the final record's content (nil until the stream was read to its end).
func (r *Reader) Trailer() []byte { return r.trailer }

// Records is the number of records authenticated so far.
func (r *Reader) Records() uint64 { return r.seq }

func (r *Reader) next() error {
	var hdr [recHdrSize]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return &RecordError{Seq: r.seq, Err: ErrTruncated}
		}
		return fmt.Errorf("backup: reading record %d: %w", r.seq, err)
	}
	final := hdr[0]&finalFlag != 0
	kind := hdr[0] &^ finalFlag
	n := binary.BigEndian.Uint32(hdr[1:])
	if n < tagSize || n > maxRecord || (kind != kindData && kind != kindTrailer) {
		return &RecordError{Seq: r.seq, Err: ErrDamaged}
	}
	if cap(r.rec) < int(n) {
		r.rec = make([]byte, n)
	}
	ct := r.rec[:n]
	if _, err := io.ReadFull(r.r, ct); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return &RecordError{Seq: r.seq, Err: ErrTruncated}
		}
		return fmt.Errorf("backup: reading record %d: %w", r.seq, err)
	}
	ad := append(append(make([]byte, 0, headerSize+recHdrSize), r.header...), hdr[:]...)
	plain, err := r.aead.Open(ct[:0], nonce(r.seq, final), ct, ad)
	if err != nil {
		return &RecordError{Seq: r.seq, Err: ErrDamaged}
	}
	r.seq++
	if !final {
		if kind != kindData {
			return &RecordError{Seq: r.seq - 1, Err: ErrDamaged}
		}
		r.plain = plain
		return nil
	}
	if kind != kindTrailer {
		return &RecordError{Seq: r.seq - 1, Err: ErrDamaged}
	}
	r.trailer = append([]byte(nil), plain...)
	if _, err := r.r.ReadByte(); err == nil {
		return &RecordError{Seq: r.seq, Err: ErrTrailing}
	}
	return io.EOF
}
