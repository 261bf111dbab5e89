package mcpserver

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// MCP Apps (extension io.modelcontextprotocol/ui, specification 2026-01-26):
// the tools that show a job or the gallery point at one HTML resource, which
// hosts with Apps render in a sandboxed iframe next to the tool result. It is
// metadata only: hosts without Apps see the same results as before.
const (
	// ViewerURI names the image viewer resource.
	ViewerURI = "ui://imagegen/viewer"
	// AppMIMEType is the MIME type of an MCP Apps HTML resource.
	AppMIMEType = "text/html;profile=mcp-app"
	// legacyResourceURIKey is the flat tool _meta key the specification
	// deprecates; the official server helper (registerAppTool) still writes
	// it beside _meta.ui.resourceUri for hosts that read only that one.
	legacyResourceURIKey = "ui/resourceUri"
)

// viewerHTML is the whole viewer: markup, style and script in one file, so
// that it needs no build step and loads nothing from anywhere.
//
//go:embed viewer.html
var viewerHTML string

// ViewerHTML returns the viewer document as the resource serves it.
func ViewerHTML() string { return viewerHTML }

// ImageOrigin returns the origin (scheme://host[:port]) of an image URL, as
// a Content-Security-Policy source. It refuses anything but http and https.
// Its errors never repeat the URL, which may carry a signature or password.
func ImageOrigin(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", errors.New("image URL does not parse")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("image URL has scheme %q: want http or https", u.Scheme)
	}
	if u.Host == "" || u.User != nil {
		return "", errors.New("image URL must have a host and no credentials")
	}
	return scheme + "://" + strings.ToLower(u.Host), nil
}

// viewerOrigins normalizes the configured image origins: duplicates dropped,
// sorted so the metadata is stable. An entry that is not an origin is an error.
func viewerOrigins(in []string) ([]string, error) {
	var out []string
	for _, o := range in {
		origin, err := ImageOrigin(o)
		if err != nil {
			return nil, err
		}
		if u, _ := url.Parse(o); strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("image origin %s has a path or query: want scheme://host[:port] only", origin)
		}
		out = append(out, origin)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// viewerMeta is the resource's _meta: the viewer loads images from exactly
// the configured origins and makes no network requests of its own (every
// tool call goes through the host), so only resourceDomains is declared.
func (s *Server) viewerMeta() map[string]any {
	csp := map[string]any{}
	if len(s.imageOrigins) > 0 {
		csp["resourceDomains"] = slices.Clone(s.imageOrigins)
	}
	return map[string]any{"ui": map[string]any{"csp": csp, "prefersBorder": true}}
}

// viewerToolMeta links a tool's results to the viewer.
func viewerToolMeta() *mcp.Meta {
	return mcp.NewMetaFromMap(map[string]any{
		"ui":                 map[string]any{"resourceUri": ViewerURI},
		legacyResourceURIKey: ViewerURI,
	})
}

// withViewer links a tool's results to the viewer.
func withViewer(t server.ServerTool) server.ServerTool {
	t.Tool.Meta = viewerToolMeta()
	return t
}

// registerViewer adds the viewer resource.
func (s *Server) registerViewer() {
	res := mcp.NewResource(ViewerURI, "Image viewer",
		mcp.WithResourceDescription("Shows generated images large, with prompt, model, size, cost and time, the progress of running jobs, "+
			"and buttons for variations, regenerate, retry and the Temporal Web UI (MCP Apps)."),
		mcp.WithMIMEType(AppMIMEType))
	res.Meta = mcp.NewMetaFromMap(s.viewerMeta())
	s.mcp.AddResource(res, func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		return []mcp.ResourceContents{mcp.TextResourceContents{
			URI: ViewerURI, MIMEType: AppMIMEType, Text: viewerHTML, Meta: s.viewerMeta(),
		}}, nil
	})
}
