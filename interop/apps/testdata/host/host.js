// A tiny MCP Apps host for the browser test: an MCP client (the official
// TypeScript client over Streamable HTTP) and the official host-side
// AppBridge from @modelcontextprotocol/ext-apps, rendering a tool's UI
// resource through a sandbox proxy on another origin, as web hosts do.
//
// Query parameters: tool, args (JSON), sandbox (URL of sandbox.html on the
// other origin), theme (light|dark), prompt (the user turn shown above),
// cancel (a reason: send ui/notifications/tool-cancelled instead of calling).
// window.hostLog records what the view asked of the host, for the test.
import { AppBridge, PostMessageTransport, getToolUiResourceUri } from "@modelcontextprotocol/ext-apps/app-bridge";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const q = new URLSearchParams(location.search);
const toolName = q.get("tool");
const args = JSON.parse(q.get("args") || "{}");
let theme = q.get("theme") === "dark" ? "dark" : "light";
const log = (window.hostLog = []);
window.hostError = null;
document.body.classList.toggle("dark", theme === "dark");
document.getElementById("user").textContent = q.get("prompt") || "";

const hostInfo = { name: "imagegen-test-host", version: "1.0.0" };

async function main() {
  const client = new Client(hostInfo, {
    capabilities: { extensions: { "io.modelcontextprotocol/ui": { mimeTypes: ["text/html;profile=mcp-app"] } } },
  });
  await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", location.href)));

  const { tools } = await client.listTools();
  const tool = tools.find((t) => t.name === toolName);
  if (!tool) throw new Error("no tool " + toolName);
  const uri = getToolUiResourceUri(tool);
  if (!uri) throw new Error(toolName + " links no UI resource");
  const read = await client.readResource({ uri });
  const content = read.contents[0];
  if (content.mimeType !== "text/html;profile=mcp-app") throw new Error("UI resource has MIME type " + content.mimeType);
  const ui = (content._meta && content._meta.ui) || {};
  log.push({ method: "resources/read", uri, csp: ui.csp || null, prefersBorder: ui.prefersBorder });

  const iframe = document.createElement("iframe");
  iframe.title = "imagegen viewer";
  iframe.setAttribute("sandbox", "allow-scripts allow-same-origin allow-forms");
  if (ui.prefersBorder) iframe.className = "bordered";
  iframe.src = q.get("sandbox");
  document.getElementById("chat").appendChild(iframe);

  let hostContext = {
    theme, platform: "web", displayMode: "inline", availableDisplayModes: ["inline"],
    locale: "en-US", timeZone: "UTC", containerDimensions: { maxHeight: 4000 },
    toolInfo: { tool },
  };
  const bridge = new AppBridge(null, hostInfo, { openLinks: {}, serverTools: {}, logging: {} }, { hostContext });
  bridge.oncalltool = async (params) => {
    const entry = { method: "tools/call", name: params.name, arguments: params.arguments };
    log.push(entry);
    const result = await client.callTool(params);
    entry.result = result;
    return result;
  };
  bridge.onopenlink = async ({ url }) => {
    log.push({ method: "ui/open-link", url });
    return {};
  };
  bridge.onsizechange = ({ height }) => {
    if (height != null) iframe.style.height = height + "px";
    log.push({ method: "size-changed", height });
  };
  bridge.onloggingmessage = (p) => log.push({ method: "notifications/message", params: p });
  bridge.onsandboxready = () => {
    bridge.sendSandboxResourceReady({ html: content.text, csp: ui.csp, permissions: ui.permissions });
  };
  bridge.oninitialized = async () => {
    try {
      log.push({ method: "initialized", appInfo: bridge.getAppVersion() });
      await bridge.sendToolInput({ arguments: args });
      if (q.get("cancel")) {
        // The user stopped the call before the tool ran.
        await bridge.sendToolCancelled({ reason: q.get("cancel") });
        log.push({ method: "tool-cancelled" });
        return;
      }
      const result = await client.callTool({ name: toolName, arguments: args });
      log.push({ method: "tool-result", name: toolName, result });
      await bridge.sendToolResult(result);
    } catch (e) {
      window.hostError = String(e && e.stack || e);
    }
  };
  window.setTheme = (t) => {
    theme = t;
    document.body.classList.toggle("dark", t === "dark");
    hostContext = { ...hostContext, theme: t };
    bridge.setHostContext(hostContext);
  };
  window.teardown = async () => {
    await bridge.teardownResource({ reason: "test host closes the view" });
    log.push({ method: "teardown-answered" });
  };
  await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
}

main().catch((e) => { window.hostError = String(e && e.stack || e); });
