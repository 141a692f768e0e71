package gitea

// IndexReady reports whether c's index of login names is filled and no
// listing of it runs, for the tests outside the package.
func IndexReady(c *Connector) bool {
	c.index.mu.Lock()
	defer c.index.mu.Unlock()
	return c.index.ready && !c.index.busy
}
