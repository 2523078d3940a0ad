//go:build !unix

package sqlite

import "errors"

var (
	errReadOnlyFS  = errors.New("read-only file system")
	errNotWritable = errors.New("file not writable")
)

// writable cannot tell on this platform: disk I/O errors keep the generic
// message.
func writable(string) error { return nil }
