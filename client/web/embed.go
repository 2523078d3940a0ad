// Package web holds the console's built files (dist/, made by `make
// console` from the sources beside this file), for goodwilld to serve at
// /console/. The sources are a Preact application; see README.md here.
package web

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Files returns the console's files, index.html at the root.
func Files() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded at build time: it is there
	}
	return sub
}
