package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
)

// tools is the one table of every tool this server offers.
func (s *Server) tools() []server.ServerTool {
	return []server.ServerTool{
		s.generateImageTool(),
		withViewer(s.getJobStatusTool()),
		withViewer(s.listGenerationsTool()),
		s.listJobsTool(),
		withViewer(s.waitForCompletionTool()),
		withViewer(s.generateImageAndWaitTool()),
		s.cancelJobTool(),
		s.retryJobTool(),
		s.listModelsTool(),
		s.getBudgetTool(),
	}
}

// decodeArgs decodes tool arguments strictly: unknown fields and wrong types
// are errors the model can read, not silently ignored.
func decodeArgs(req mcp.CallToolRequest, dst any) error {
	raw := req.GetRawArguments()
	if raw == nil {
		raw = map[string]any{}
	}
	// encoding/json would silently turn invalid bytes into U+FFFD, and a
	// prompt of replacement characters is not what the client meant.
	if b, ok := raw.(json.RawMessage); ok && !utf8.Valid(b) {
		return fmt.Errorf("arguments are not valid UTF-8 text: send JSON encoded as UTF-8")
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return fmt.Errorf("arguments are not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return argError(err)
	}
	return nil
}

func argError(err error) error {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te) && te.Field == "":
		// The arguments themselves are an array, a string, a number.
		return fmt.Errorf("arguments must be a JSON object, not %s", te.Value)
	case errors.As(err, &te):
		// Field is a Go path ("pageArgs.limit" through an embedded struct);
		// the argument is its last element.
		field := te.Field[strings.LastIndex(te.Field, ".")+1:]
		return fmt.Errorf("argument %q must be of type %s, not %s", field, jsonType(te.Type.Kind().String()), te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("unknown argument %s: remove it", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case strings.Contains(err.Error(), "cannot unmarshal"):
		return fmt.Errorf("arguments must be a JSON object")
	}
	return fmt.Errorf("invalid arguments: %v", err)
}

func jsonType(kind string) string {
	switch kind {
	case "int", "int64", "int32":
		return "integer"
	case "float64":
		return "number"
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice":
		return "array"
	}
	return kind
}

// toolError turns an error into a result the model can act on. Infrastructure
// errors are logged here and shown to the model without internals.
func (s *Server) toolError(ctx context.Context, tool string, err error) *mcp.CallToolResult {
	var ie *imagegen.Error
	switch {
	case errors.As(err, &ie):
		return mcp.NewToolResultError(ie.Message)
	case errors.Is(err, errPastRetention):
		return mcp.NewToolResultError(err.Error())
	case errors.Is(err, jobs.ErrNotFound):
		return mcp.NewToolResultError("no job with that job_id: check the id (list_jobs shows recent jobs); jobs are kept for the namespace's retention period")
	case errors.Is(err, jobs.ErrUnavailable):
		s.log.ErrorContext(ctx, "tool failed: job service unavailable", "tool", tool, "error", err)
		return mcp.NewToolResultError("the image service is temporarily unavailable (its job store cannot be reached); try again in a minute")
	case errors.Is(err, context.Canceled):
		return mcp.NewToolResultError("the call was canceled")
	default:
		s.log.ErrorContext(ctx, "tool failed", "tool", tool, "error", err)
		return mcp.NewToolResultError("internal error; try again, and tell the operator if it persists")
	}
}

// structured returns v as structured content plus the same JSON as text, for
// clients that read only text.
func structured(v any) *mcp.CallToolResult {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return mcp.NewToolResultError("internal error: cannot encode result")
	}
	return mcp.NewToolResultStructured(v, string(b))
}
