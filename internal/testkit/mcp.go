package testkit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// Connect starts c and runs the MCP handshake as clientName. Start's context
// is the connection's (an SSE stream lives as long as it), so it is not ctx.
func Connect(ctx context.Context, c *client.Client, clientName string) error {
	if err := c.Start(context.Background()); err != nil {
		return fmt.Errorf("start MCP client: %w", err)
	}
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	req.Params.ClientInfo = mcp.Implementation{Name: clientName, Version: "1"}
	if _, err := c.Initialize(ctx, req); err != nil {
		c.Close()
		return fmt.Errorf("initialize MCP client: %w", err)
	}
	return nil
}

// StreamableClient is an initialized mcp-go Streamable HTTP client of url,
// sending token as its bearer token when set. The caller closes it.
func StreamableClient(ctx context.Context, url, token, clientName string) (*client.Client, error) {
	var opts []transport.StreamableHTTPCOption
	if token != "" {
		opts = append(opts, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	}
	c, err := client.NewStreamableHttpClient(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("MCP client of %s: %w", url, err)
	}
	if err := Connect(ctx, c, clientName); err != nil {
		return nil, err
	}
	return c, nil
}

// CallTool invokes a tool and decodes the JSON text of its result (a text
// that is not a JSON object comes back as {"text": …}). A non-nil error is
// a protocol or transport failure, not a tool error.
func CallTool(ctx context.Context, c *client.Client, name string, args map[string]any) (*mcp.CallToolResult, map[string]any, error) {
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	var out map[string]any
	for _, content := range res.Content {
		if tc, ok := content.(mcp.TextContent); ok {
			if json.Unmarshal([]byte(tc.Text), &out) != nil || out == nil {
				out = map[string]any{"text": tc.Text}
			}
		}
	}
	return res, out, nil
}

// LogBuffer collects a stack's logs; safe for concurrent writers.
type LogBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
