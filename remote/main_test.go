package remote

import (
	"testing"

	"github.com/goflyte/goflyte/internal/testtmp"
)

// TestMain removes the plugins built once for the package's tests
// (PluginsForTests) when they are done.
func TestMain(m *testing.M) { testtmp.Main(m) }
