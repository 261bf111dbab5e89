// Package reliability holds the end-to-end fault tests of the service: a
// process killed mid-generation (imagegen dev, and a worker of a serve +
// worker split), a storage outage, the Workers AI error matrix through the
// whole stack, and Temporal going away under a running MCP server.
//
// The tests drive the real service (the imagegen binary or the app package)
// over MCP on loopback, with an in-process fake Workers AI and an in-process
// S3 server, so they need no network. The package has no non-test code.
package reliability
