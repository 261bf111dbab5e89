// Package deploy holds what a Temporal cluster for imagegen needs, in one
// place for docker-compose.yml and the cluster test suite (cluster/): the
// dynamic config file (deploy/dynamicconfig/imagegen.yaml), the schema step
// (deploy/temporal/schema.sh) and the namespace step (RegisterNamespace, with
// the retention the compose stack's temporal-namespace service passes to the
// CLI).
//
// Its tests hold the container files at the repository root, Dockerfile and
// docker-compose.yml, to what the Go code expects: the environment variables
// of the configuration table (cmd/imagegen/config), the listen port, the Temporal server version, the bucket
// and namespace the stack creates, and that compose uses the files above. No
// docker engine is needed: the compose file is loaded with compose-go, the
// library docker compose itself uses, and the Dockerfile is read line by line.
package deploy
