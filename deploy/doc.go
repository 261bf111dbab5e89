// Package deploy has no code of its own. Its tests hold the container files
// at the repository root, Dockerfile and docker-compose.yml, to what the Go
// code expects: the environment variables app.Config reads, the listen port,
// the Temporal server version, the bucket and namespace the stack creates.
// No docker engine is needed: the compose file is loaded with compose-go, the
// library docker compose itself uses, and the Dockerfile is read line by line.
package deploy
