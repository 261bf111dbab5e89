package mcpserver

import (
	"context"
	"io"

	"github.com/mark3labs/mcp-go/server"
)

// ServeStdio serves MCP over a pair of streams (stdin/stdout for desktop
// clients) until ctx is done or in closes.
func (s *Server) ServeStdio(ctx context.Context, in io.Reader, out io.Writer) error {
	return server.NewStdioServer(s.mcp).Listen(ctx, in, out)
}
