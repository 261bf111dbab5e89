// Drives imagegen's MCP Tasks with the official TypeScript clients:
//   - @modelcontextprotocol/client 2.x + @modelcontextprotocol/ext-tasks
//     (protocol revision 2026-07-28, the Tasks extension), scenarios v2-*;
//   - @modelcontextprotocol/sdk 1.x's experimental task API
//     (revision 2025-11-25), scenarios v1-*.
// Run by interop/tasks_test.go: `node tasks.mjs <scenario>` with IMAGEGEN_URL,
// IMAGEGEN_TOKEN, and REF_FILE (where a task reference survives a kill -9).
// It prints one JSON line of what it observed; the Go test judges it.
import { readFileSync, writeFileSync } from "node:fs";

import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client";
import { createTaskSessionFromClient } from "@modelcontextprotocol/ext-tasks/client";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as TransportV1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";

const url = new URL(process.env.IMAGEGEN_URL);
const token = process.env.IMAGEGEN_TOKEN ?? "";
const refFile = process.env.REF_FILE ?? "";
const prompt = process.env.PROMPT ?? "a lighthouse in a storm";
const requestInit = token ? { headers: { Authorization: `Bearer ${token}` } } : {};
const clientInfo = { name: "imagegen-interop", version: "1.0.0" };
const PROTOCOL = "2026-07-28";

function report(facts) {
  process.stdout.write(JSON.stringify(facts) + "\n");
}

// canonical is JSON with sorted keys, to compare results field by field.
function canonical(value) {
  return JSON.stringify(value, (_, v) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v);
}

function text(result) {
  return (result?.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join("\n");
}

// rawDispatcher is the host request coordinator ext-tasks needs for 2026-07-28
// task wire shapes (the SDK Client refuses resultType "task"): a second
// official Streamable HTTP transport that owns its request ids. The transport
// itself sets Mcp-Protocol-Version, Mcp-Method and Mcp-Name from the body.
async function rawDispatcher() {
  const transport = new TransportV2(url, { requestInit });
  const pending = new Map();
  transport.onmessage = (msg) => {
    if (msg && "id" in msg && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  };
  await transport.start();
  let next = 0;
  const dispatch = async (request, options = {}) => {
    const id = `raw:${++next}`;
    const answer = new Promise((resolve) => pending.set(id, resolve));
    await transport.send({ jsonrpc: "2.0", id, ...request }, { headers: options.context?.headers });
    const msg = await answer;
    return msg.error ? { kind: "error", error: msg.error } : { kind: "result", result: msg.result };
  };
  return { dispatch, close: () => transport.close() };
}

// sessionV2 connects a 2026-07-28 client and wraps it in an ext-tasks session.
async function sessionV2({ onNotification } = {}) {
  // Declared on every request of the connection, so that subscriptions/listen
  // (sent by the Client itself) carries the extension too.
  const clientCapabilities = { extensions: { "io.modelcontextprotocol/tasks": {} } };
  const client = new ClientV2(clientInfo, {
    capabilities: clientCapabilities,
    versionNegotiation: { mode: { pin: PROTOCOL } },
  });
  if (onNotification) client.fallbackNotificationHandler = async (n) => onNotification(n);
  await client.connect(new TransportV2(url, { requestInit }));
  const raw = await rawDispatcher();
  const session = createTaskSessionFromClient(client, {
    endpointId: `imagegen:${url.host}`,
    rawDispatch: raw.dispatch,
    v2RequestFraming: { protocolVersion: PROTOCOL, clientInfo, clientCapabilities },
  });
  const close = async () => {
    await session.close();
    await raw.close();
    await client.close();
  };
  return { client, session, close, era: client.getProtocolEra() };
}

function outcomeFacts(outcome) {
  return {
    outcome: outcome.status,
    isError: outcome.status === "completed" ? outcome.result.isError === true : undefined,
    resultType: outcome.status === "completed" ? outcome.result.resultType : undefined,
    text: outcome.status === "completed" ? text(outcome.result) : undefined,
  };
}

const scenarios = {
  // Create a task and let ext-tasks poll tasks/get to the end.
  async "v2-poll"() {
    const { session, close, era } = await sessionV2();
    try {
      const execution = await session.callTool("generate_image_and_wait", { prompt });
      const statuses = [];
      const { outcome } = await execution.settle({
        onEvent: (e) => { if (e.type === "task") statuses.push(e.task.status); },
      });
      report({ era, kind: execution.kind, taskId: execution.handle?.taskId, statuses, ...outcomeFacts(outcome) });
    } finally {
      await close();
    }
  },

  // Create a task and subscribe to it with subscriptions/listen: the server
  // pushes notifications/tasks when the job finishes, and ext-tasks settles
  // the execution from the pushed task.
  async "v2-subscribe"() {
    const pushes = [];
    const { client, session, close, era } = await sessionV2({
      onNotification: (n) => { if (n.method === "notifications/tasks") pushes.push({ at: Date.now(), task: n.params }); },
    });
    try {
      const execution = await session.callTool("generate_image_and_wait", { prompt });
      const taskId = execution.handle.taskId;
      const subscription = await client.listen({ taskIds: [taskId] });
      const { outcome } = await execution.settle();
      const ended = await subscription.closed;
      const pushed = pushes.find((p) => p.task.taskId === taskId);
      report({
        era, kind: execution.kind, taskId,
        honored: subscription.honoredFilter,
        pushedStatus: pushed?.task.status,
        pushedResultEqualsOutcome: pushed !== undefined && outcome.status === "completed" &&
          canonical(pushed.task.result) === canonical(outcome.result),
        subscriptionEnded: ended,
        ...outcomeFacts(outcome),
      });
    } finally {
      await close();
    }
  },

  // Create a task and cancel it through ext-tasks (tasks/cancel).
  async "v2-cancel"() {
    const { session, close, era } = await sessionV2();
    try {
      const execution = await session.callTool("generate_image_and_wait", { prompt });
      const taskId = execution.handle.taskId;
      await execution.cancel();
      let snapshot;
      const controller = session.task(taskId);
      for (let i = 0; i < 100; i++) {
        snapshot = await controller.snapshot();
        if (snapshot.status !== "working") break;
        await new Promise((r) => setTimeout(r, 200));
      }
      report({ era, kind: execution.kind, taskId, statusAfterCancel: snapshot.status });
    } finally {
      await close();
    }
  },

  // Create a task, persist its reference, exit (the test then kill -9s the
  // service).
  async "v2-create"() {
    const { session, close, era } = await sessionV2();
    try {
      const execution = await session.callTool("generate_image_and_wait", { prompt });
      const taskId = execution.handle.taskId;
      await execution.handoff((ref) => writeFileSync(refFile, JSON.stringify(ref)));
      report({ era, kind: execution.kind, taskId });
    } finally {
      await close();
    }
  },

  // After the restart: resume the persisted task and settle it.
  async "v2-resume"() {
    const ref = JSON.parse(readFileSync(refFile, "utf8"));
    const { session, close, era } = await sessionV2();
    try {
      const first = await session.task(ref.taskId).snapshot();
      const execution = await session.resumeTask(ref);
      const { outcome } = await execution.settle();
      report({ era, taskId: ref.taskId, firstStatus: first.status, ...outcomeFacts(outcome) });
    } finally {
      await close();
    }
  },

  // 2025-11-25: the SDK v1 task API (tools/list tells it which tools take
  // tasks; callToolStream creates the task, polls tasks/get, reads tasks/result).
  async "v1-poll"() {
    const client = new ClientV1(clientInfo, { capabilities: {} });
    await client.connect(new TransportV1(url, { requestInit }));
    try {
      const tools = await client.listTools();
      const taskTools = tools.tools.filter((t) => t.execution?.taskSupport === "optional").map((t) => t.name);
      const kinds = [];
      let taskId, result, error;
      for await (const m of client.experimental.tasks.callToolStream({ name: "generate_image_and_wait", arguments: { prompt } })) {
        kinds.push(m.type === "taskStatus" ? `taskStatus:${m.task.status}` : m.type);
        if (m.type === "taskCreated") taskId = m.task.taskId;
        if (m.type === "result") result = m.result;
        if (m.type === "error") error = m.error.message;
      }
      const listed = await client.experimental.tasks.listTasks();
      report({
        protocol: client.getServerVersion() && client.transport?.protocolVersion,
        capabilities: client.getServerCapabilities()?.tasks,
        taskTools, kinds, taskId, error,
        isError: result?.isError === true, text: text(result),
        relatedTask: result?._meta?.["io.modelcontextprotocol/related-task"]?.taskId,
        listed: listed.tasks.some((t) => t.taskId === taskId),
      });
    } finally {
      await client.close();
    }
  },

  async "v1-cancel"() {
    const client = new ClientV1(clientInfo, { capabilities: {} });
    await client.connect(new TransportV1(url, { requestInit }));
    try {
      await client.listTools();
      let taskId, cancelled;
      for await (const m of client.experimental.tasks.callToolStream({ name: "generate_image_and_wait", arguments: { prompt } })) {
        if (m.type === "taskCreated") {
          taskId = m.task.taskId;
          cancelled = await client.experimental.tasks.cancelTask(taskId);
          break;
        }
      }
      const after = await client.experimental.tasks.getTask(taskId);
      report({ taskId, cancelStatus: cancelled?.status, statusAfterCancel: after.status });
    } finally {
      await client.close();
    }
  },

  async "v1-create"() {
    const client = new ClientV1(clientInfo, { capabilities: {} });
    await client.connect(new TransportV1(url, { requestInit }));
    try {
      await client.listTools();
      let taskId;
      for await (const m of client.experimental.tasks.callToolStream({ name: "generate_image_and_wait", arguments: { prompt } })) {
        if (m.type === "taskCreated") {
          taskId = m.task.taskId;
          writeFileSync(refFile, JSON.stringify({ taskId }));
          break;
        }
      }
      report({ taskId });
    } finally {
      await client.close();
    }
  },

  async "v1-resume"() {
    const { taskId } = JSON.parse(readFileSync(refFile, "utf8"));
    const client = new ClientV1(clientInfo, { capabilities: {} });
    await client.connect(new TransportV1(url, { requestInit }));
    try {
      const first = await client.experimental.tasks.getTask(taskId);
      // tasks/result blocks until the job is done: after a crash that is the
      // heartbeat timeout plus the retried provider call.
      const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, { timeout: 180000 });
      const after = await client.experimental.tasks.getTask(taskId);
      report({ taskId, firstStatus: first.status, finalStatus: after.status, isError: result.isError === true, text: text(result) });
    } finally {
      await client.close();
    }
  },
};

const name = process.argv[2];
if (!scenarios[name]) {
  console.error(`usage: node tasks.mjs <${Object.keys(scenarios).join("|")}>`);
  process.exit(2);
}
try {
  await scenarios[name]();
  process.exit(0);
} catch (err) {
  console.error(err?.stack ?? String(err));
  report({ failed: String(err?.message ?? err) });
  process.exit(1);
}
