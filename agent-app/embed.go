// Package agentapp embeds the built agent dashboard (agent-app/dist) into
// the signaling binary. Build it with `npm ci && npm run build` in this
// folder; commit dist/.
package agentapp

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Dist is the built dashboard: index.html, app.js, app.css, and the
// chunks/ that app.js imports on demand.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err)
	}
	return sub
}
