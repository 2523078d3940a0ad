package main

import (
	"archive/tar"
	"bytes"
	"time"
)

// The user goodwilld runs as: 65532, "nonroot", as in distroless images,
// so clusters' policies written for those (runAsUser 65532) fit.
const (
	nonrootUID  = 65532
	nonrootName = "nonroot"
)

// Paths inside the image.
const (
	binaryPath = "/goodwilld"
	// dataDir holds the embedded store and the bootstrap key: the only
	// place goodwilld writes, owned by nonroot. With a read-only root file
	// system, mount a volume here (docs/deploy.md).
	dataDir = "/data"
	caPath  = "/etc/ssl/certs/ca-certificates.crt"
)

// passwd and group name root and nonroot: os/user (`goodwilld keys`
// records who created a key) and anything printing a user name read them;
// without them the user is only a number.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/data:/sbin/nologin\n"
	group = "root:x:0:\n" +
		"nonroot:x:65532:\n"
)

// entry is one file or directory of the image's only layer.
type entry struct {
	name     string // without the leading slash, as image layers spell it
	mode     int64
	uid      int
	dir      bool
	contents []byte
}

// rootFS is the layer: the binary, user and group files, the CA bundle
// when there is one (ca may be nil), a data directory nonroot may write
// and a /tmp (SQLite may spill large sorts there). Every entry has the
// time mtime, so one commit builds a byte-identical layer.
func rootFS(binary, ca []byte, mtime time.Time) ([]byte, error) {
	entries := []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, contents: []byte(passwd)},
		{name: "etc/group", mode: 0o644, contents: []byte(group)},
	}
	if ca != nil {
		entries = append(entries,
			entry{name: "etc/ssl/", mode: 0o755, dir: true},
			entry{name: "etc/ssl/certs/", mode: 0o755, dir: true},
			entry{name: caPath[1:], mode: 0o644, contents: ca})
	}
	entries = append(entries,
		entry{name: dataDir[1:] + "/", mode: 0o700, uid: nonrootUID, dir: true},
		entry{name: "tmp/", mode: 0o1777, dir: true},
		// Owned by root: the process cannot replace its own binary.
		entry{name: binaryPath[1:], mode: 0o755, contents: binary},
	)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: mtime,
			Uname: "root", Gname: "root", Format: tar.FormatPAX}
		if e.uid == nonrootUID {
			h.Uname, h.Gname = nonrootName, nonrootName
		}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.contents))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.contents); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
