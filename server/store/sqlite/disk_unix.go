//go:build unix

package sqlite

import (
	"errors"

	"golang.org/x/sys/unix"
)

var (
	errReadOnlyFS  = errors.New("read-only file system")
	errNotWritable = errors.New("file not writable")
)

// writable reports why the file at path cannot be written, if it cannot:
// errReadOnlyFS, errNotWritable, or nil when the kernel would allow a
// write (or the file is gone).
func writable(path string) error {
	for _, p := range []string{path, path + "-wal"} {
		switch err := unix.Access(p, unix.W_OK); {
		case errors.Is(err, unix.EROFS):
			return errReadOnlyFS
		case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
			return errNotWritable
		}
	}
	return nil
}
