package app

import (
	"path/filepath"

	"github.com/imagegen/imagegen/devserver"
)

// DevUIURL is the Web UI of the `imagegen dev` keeping its files in dataDir,
// if that is the Temporal at temporalAddr and it runs a UI; "" otherwise.
func DevUIURL(dataDir, temporalAddr string) string {
	return devserver.RememberedUI(filepath.Join(dataDir, DevTemporalDir), temporalAddr)
}
