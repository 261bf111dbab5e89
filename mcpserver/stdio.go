package mcpserver

import (
	"context"
	"io"

	"github.com/mark3labs/mcp-go/server"
)

// ServeStdio serves MCP over a pair of streams (stdin/stdout for desktop
// clients) until ctx is done or in closes. The MCP Tasks methods are
// answered by the stdio task dispatch (taskstdio.go) in front of mcp-go.
func (s *Server) ServeStdio(ctx context.Context, in io.Reader, out io.Writer) error {
	t := &stdioTasks{s: s, d: &taskDispatch{s: s}, out: &stdioOut{w: out, patches: map[string]func(map[string]any){}}}
	ctx, cancel := context.WithCancel(ctx)
	err := server.NewStdioServer(s.mcp).Listen(ctx, t.filter(ctx, in), t.out)
	// As mcp-go does with its own requests: input has ended, so requests
	// still waiting (tasks/result, subscriptions) end too.
	cancel()
	t.wg.Wait()
	return err
}
