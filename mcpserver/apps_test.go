package mcpserver_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"golang.org/x/net/html"

	"github.com/imagegen/imagegen/mcpserver"
)

func inProcessWith(t *testing.T, opts mcpserver.Options) *client.Client {
	t.Helper()
	if opts.Jobs == nil {
		opts.Jobs = &fakeJobs{}
	}
	c, err := client.NewInProcessClient(mcpserver.New(opts).MCP())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "test", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// asJSON round-trips v through JSON, to look at what goes on the wire.
func asJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func readViewer(t *testing.T, c *client.Client) map[string]any {
	t.Helper()
	req := mcp.ReadResourceRequest{}
	req.Params.URI = mcpserver.ViewerURI
	res, err := c.ReadResource(context.Background(), req)
	if err != nil {
		t.Fatalf("resources/read %s: %v", mcpserver.ViewerURI, err)
	}
	if len(res.Contents) != 1 {
		t.Fatalf("resources/read returned %d contents, want 1", len(res.Contents))
	}
	return asJSON(t, res.Contents[0])
}

func TestViewerResourceIsTheMCPAppsHTMLWithItsCSP(t *testing.T) {
	tests := []struct {
		name    string
		origins []string
		want    any // _meta.ui.csp
	}{
		{"local images: the server's own origin", []string{"http://127.0.0.1:8080"},
			map[string]any{"resourceDomains": []any{"http://127.0.0.1:8080"}}},
		{"R2 public base, normalized and deduplicated", []string{"https://Images.Example.com/", "https://images.example.com"},
			map[string]any{"resourceDomains": []any{"https://images.example.com"}}},
		{"presign host and local together, sorted", []string{"https://acct.r2.cloudflarestorage.com", "http://localhost:9000"},
			map[string]any{"resourceDomains": []any{"http://localhost:9000", "https://acct.r2.cloudflarestorage.com"}}},
		{"an entry that is not an origin is left out", []string{"https://cdn.example.com/images", "ftp://x", "http://127.0.0.1:1"},
			map[string]any{"resourceDomains": []any{"http://127.0.0.1:1"}}},
		{"no origins: no external resources at all", nil, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := inProcessWith(t, mcpserver.Options{ImageOrigins: tt.origins})
			got := readViewer(t, c)
			if got["uri"] != mcpserver.ViewerURI || got["mimeType"] != "text/html;profile=mcp-app" {
				t.Errorf("uri %v, mimeType %v; want %s, text/html;profile=mcp-app", got["uri"], got["mimeType"], mcpserver.ViewerURI)
			}
			if got["text"] != mcpserver.ViewerHTML() || !strings.HasPrefix(got["text"].(string), "<!doctype html>") {
				t.Errorf("text is not the viewer document")
			}
			wantMeta := map[string]any{"ui": map[string]any{"csp": tt.want, "prefersBorder": true}}
			if !reflect.DeepEqual(got["_meta"], wantMeta) {
				t.Errorf("_meta = %v, want %v", got["_meta"], wantMeta)
			}

			list, err := c.ListResources(context.Background(), mcp.ListResourcesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var listed map[string]any
			for _, r := range list.Resources {
				if r.URI == mcpserver.ViewerURI {
					listed = asJSON(t, r)
				}
			}
			if listed == nil || listed["mimeType"] != "text/html;profile=mcp-app" || !reflect.DeepEqual(listed["_meta"], wantMeta) {
				t.Errorf("resources/list entry for the viewer = %v, want mimeType text/html;profile=mcp-app and _meta %v", listed, wantMeta)
			}
		})
	}
}

func TestToolsThatShowImagesLinkTheViewer(t *testing.T) {
	c := inProcessWith(t, mcpserver.Options{})
	res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	linked := []string{"generate_image_and_wait", "get_job_status", "list_generations", "wait_for_completion"}
	want := map[string]any{"ui": map[string]any{"resourceUri": mcpserver.ViewerURI}, "ui/resourceUri": mcpserver.ViewerURI}
	var seen []string
	for _, tool := range res.Tools {
		meta := asJSON(t, tool)["_meta"]
		if slices.Contains(linked, tool.Name) {
			seen = append(seen, tool.Name)
			if !reflect.DeepEqual(meta, want) {
				t.Errorf("%s _meta = %v, want %v", tool.Name, meta, want)
			}
		} else if meta != nil {
			// Tools the viewer is no use for stay as they were.
			t.Errorf("%s has _meta %v, want none", tool.Name, meta)
		}
	}
	slices.Sort(seen)
	if !slices.Equal(seen, linked) {
		t.Errorf("linked tools = %v, want %v", seen, linked)
	}
}

func TestImageOrigin(t *testing.T) {
	tests := []struct {
		url, want string
		wantErr   bool
	}{
		{url: "http://127.0.0.1:8080/images/ab/cd.png", want: "http://127.0.0.1:8080"},
		{url: "HTTPS://Bucket.Acct.R2.CloudflareStorage.com/k.png?X-Amz-Signature=x", want: "https://bucket.acct.r2.cloudflarestorage.com"},
		{url: "https://[::1]:9000/b/k", want: "https://[::1]:9000"},
		{url: "data:image/png;base64,AAAA", wantErr: true},
		{url: "javascript:alert(1)", wantErr: true},
		{url: "/images/relative.png", wantErr: true},
		{url: "https://user:secret@example.com/x", wantErr: true},
		{url: "http://%zz", wantErr: true},
	}
	for _, tt := range tests {
		got, err := mcpserver.ImageOrigin(tt.url)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ImageOrigin(%q) = %q, %v; want %q, error %v", tt.url, got, err, tt.want, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("ImageOrigin error repeats the URL's password: %v", err)
		}
	}
}

// TestViewerIsSelfContained checks the document loads nothing of its own: no
// external scripts, styles, fonts or frames, and no network calls from its
// script (every tool call goes through the host), which is what its CSP
// declares.
func TestViewerIsSelfContained(t *testing.T) {
	doc := mcpserver.ViewerHTML()
	z := html.NewTokenizer(strings.NewReader(doc))
	var scripts, styles int
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		switch tok.Data {
		case "script":
			scripts++
		case "style":
			styles++
		case "link", "iframe", "object", "embed", "base":
			t.Errorf("viewer has a <%s> element", tok.Data)
		}
		for _, a := range tok.Attr {
			if a.Key == "src" || a.Key == "href" || a.Key == "srcset" || strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s %s=%q>: the viewer's markup must load nothing and carry no inline handlers", tok.Data, a.Key, a.Val)
			}
		}
	}
	if scripts != 1 || styles != 1 {
		t.Errorf("viewer has %d scripts and %d styles, want one inline each", scripts, styles)
	}
	for _, banned := range []string{"fetch(", "XMLHttpRequest", "WebSocket", "EventSource", "sendBeacon", "@import", "url(", "innerHTML", "eval("} {
		if strings.Contains(doc, banned) {
			t.Errorf("viewer contains %q", banned)
		}
	}
	for _, method := range []string{`"ui/initialize"`, `"ui/notifications/initialized"`, `"ui/notifications/tool-input"`,
		`"ui/notifications/tool-result"`, `"ui/notifications/host-context-changed"`, `"ui/notifications/size-changed"`,
		`"tools/call"`, `"ui/open-link"`, `"ui/resource-teardown"`, `"2026-01-26"`} {
		if !strings.Contains(doc, method) {
			t.Errorf("viewer does not speak %s", method)
		}
	}
}

// TestViewerShowsTheCostSentenceEveryJobToolDeclares checks the contract the
// viewer's Cost line rests on: every tool that shows the viewer a job
// declares cost.summary (the server's one sentence for the cost) in its
// output schema where the viewer looks for the job, and the viewer shows that
// field as text and words no cost of its own. The browser test in
// interop/apps checks the sentence on screen.
func TestViewerShowsTheCostSentenceEveryJobToolDeclares(t *testing.T) {
	c := inProcessWith(t, mcpserver.Options{})
	res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tool string
		path []string // from the output schema's root to the job
	}{
		{"get_job_status", nil},
		{"wait_for_completion", []string{"job"}},
		{"generate_image_and_wait", []string{"job"}},
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			var schema map[string]any
			for _, tool := range res.Tools {
				if tool.Name == tt.tool {
					schema, _ = asJSON(t, tool)["outputSchema"].(map[string]any)
				}
			}
			node := schema
			for _, p := range append(tt.path, "cost", "summary") {
				props, _ := node["properties"].(map[string]any)
				node, _ = props[p].(map[string]any)
			}
			if node == nil || node["type"] != "string" {
				t.Errorf("%s output schema has no string %s.cost.summary: %v", tt.tool, strings.Join(tt.path, "."), schema)
			}
		})
	}
	doc := mcpserver.ViewerHTML()
	for _, want := range []string{`const c = job.cost;`, `typeof c.summary === "string" ? c.summary : ""`, `add("Cost", costOf(job));`} {
		if !strings.Contains(doc, want) {
			t.Errorf("viewer does not show the job's cost.summary as it is: missing %q", want)
		}
	}
	// The wording is the server's: the script builds no cost sentence itself.
	for _, banned := range []string{"paid provider call", "no published price", "no cost", "estimated "} {
		if strings.Contains(doc, banned) {
			t.Errorf("viewer words the cost itself (%q): it must show the server's summary", banned)
		}
	}
}
