// Package cluster has no code of its own: its tests run imagegen's
// production topology for real and hold it to what README "Production"
// promises. Each test starts PostgreSQL (initdb and pg_ctl on a temporary
// directory), the official Temporal server built from the go.temporal.io/server
// module this repository pins (cmd/server, with the schema set up by
// deploy/temporal/schema.sh and cmd/tools/sql, and the dynamic config
// deploy/dynamicconfig/imagegen.yaml), one `imagegen serve` (two where a
// daily budget must hold across servers), `imagegen worker` processes and an in-process S3 server, all on loopback
// with random ports, and drives them through real MCP clients while it kills
// and restarts parts of it.
//
// The suite skips, saying so, where the PostgreSQL server binaries (initdb,
// pg_ctl) are not installed; .ci/run installs them.
package cluster
