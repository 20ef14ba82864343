package tools

import (
	"fmt"
	"time"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

// snapshotNote says which list an answer shows when the client reused one:
// a token changed in InfluxDB since then shows up only after the TTL.
func snapshotNote(src influx.ListSource) string {
	return fmt.Sprintf("This answer shows InfluxDB's token list as of %s; lists are reused for %s (INFLUX_CACHE_TTL; 0 makes every call ask InfluxDB).",
		src.ListedAt.UTC().Format(time.RFC3339), src.TTL)
}
