package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kacescim/kacescim/pkg/adminapi"
)

// LoadOrCreateAdminToken returns the admin token kept in dataDir, creating
// it (256 random bits, file mode 0600) when there is none yet. A token file
// that others can read is refused rather than trusted.
func LoadOrCreateAdminToken(dataDir string) (string, error) {
	path := filepath.Join(dataDir, adminapi.TokenFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		info, err := os.Stat(path)
		if err != nil {
			return "", err
		}
		if info.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("admin token file %s is readable by others (mode %v): run chmod 600 %s", path, info.Mode().Perm(), path)
		}
		token := strings.TrimSpace(string(b))
		if token == "" {
			return "", fmt.Errorf("admin token file %s is empty: remove it to generate a new token", path)
		}
		return token, nil
	case errors.Is(err, fs.ErrNotExist):
	default:
		return "", fmt.Errorf("read admin token: %w", err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	token := "kca_" + base64.RawURLEncoding.EncodeToString(buf)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("write admin token: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write admin token: %w", err)
	}
	return token, nil
}
