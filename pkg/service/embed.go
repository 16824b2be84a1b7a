package service

// embedCode is the snippet an admin pastes into a site's pages: the queue
// stub (Parley(...) calls made before the loader arrives wait in
// Parley.q and run once, in order; README "JavaScript API"), the boot call
// naming the site, and the loader tag. The tag keeps data-site, so a page
// with the tag alone still works.
func embedCode(origin, siteID string) string {
	return `<script>window.Parley=window.Parley||function(){(Parley.q=Parley.q||[]).push(arguments)};Parley("boot",{site:"` + siteID + `"});</script>` +
		"\n" + `<script src="` + origin + `/widget.js" data-site="` + siteID + `" async></script>`
}
