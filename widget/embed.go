// Package widget embeds the built visitor widget (widget/dist) into the Go
// binaries, so running Parley needs no Node.js. Build it with
// `npm ci && npm run build` in this folder; commit dist/.
package widget

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Dist is the built widget: widget.js (the loader), frame.html, frame.js,
// frame.css.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees dist exists
	}
	return sub
}
