package partition

import (
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
)

// seal hashes the dump and, with recipients, encrypts it and removes the plaintext. It
// returns the file the restore check reads and a clean-up for temporary files.
func seal(o ArchiveOptions, m *Manifest) (check string, cleanup func(), err error) {
	plain := m.File
	cleanup = func() {}
	sum, err := fileSHA256(plain)
	if err != nil {
		return "", cleanup, err
	}
	if len(o.Recipients) == 0 {
		m.SHA256, m.CheckedFrom = sum, "dump"
		return plain, cleanup, nil
	}
	recips, err := age.ParseRecipients(strings.NewReader(strings.Join(o.Recipients, "\n")))
	if err != nil {
		return "", cleanup, fmt.Errorf("partition: archive recipients: %w", err)
	}
	enc := plain + ".age"
	if err := encryptFile(plain, enc, recips); err != nil {
		return "", cleanup, fmt.Errorf("partition: encrypting the archive: %w", err)
	}
	m.Encrypted, m.PlainSHA256, m.File = true, sum, enc
	if m.SHA256, err = fileSHA256(enc); err != nil {
		return "", cleanup, err
	}
	if o.IdentityFile == "" {
		m.CheckedFrom = "dump before encryption"
		return plain, func() { os.Remove(plain) }, nil
	}
	os.Remove(plain)
	dec := plain + ".check"
	cleanup = func() { os.Remove(dec) }
	if err := decryptFile(enc, dec, o.IdentityFile); err != nil {
		return "", cleanup, fmt.Errorf("partition: decrypting the archive to check it: %w", err)
	}
	m.CheckedFrom = "decrypted archive"
	return dec, cleanup, nil
}

func encryptFile(from, to string, recips []age.Recipient) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w, err := age.Encrypt(out, recips...)
	if err != nil {
		out.Close()
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		out.Close()
		return err
	}
	if err := w.Close(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func decryptFile(from, to, identityFile string) error {
	idf, err := os.Open(identityFile)
	if err != nil {
		return err
	}
	ids, err := age.ParseIdentities(idf)
	idf.Close()
	if err != nil {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	r, err := age.Decrypt(in, ids...)
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
