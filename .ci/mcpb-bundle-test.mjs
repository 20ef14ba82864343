// Starts the server from the Claude Desktop bundle the way a client does and
// asks it for tokens from the real InfluxDB v2.8.0 handlers:
//
//   node .ci/mcpb-bundle-test.mjs <bundle.mcpb> <influx-testserver binary>
//
// MCPB_DIR is an npm prefix holding @anthropic-ai/mcpb 2.1.2. The bundle is
// unpacked, its manifest validated and turned into a command line by that
// package's own unpackExtension, validateManifest and getMcpConfigForManifest
// (user_config substituted, ${__dirname} resolved), and the server is started
// with that command, those arguments and only that environment. Expected
// answers come from InfluxDB itself (GET /api/v2/authorizations with the same
// token). Exits non-zero on any mismatch.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const [bundlePath, testserverBin] = process.argv.slice(2);
if (!bundlePath || !testserverBin || !process.env.MCPB_DIR) {
  console.error("usage: MCPB_DIR=<npm prefix with @anthropic-ai/mcpb> node .ci/mcpb-bundle-test.mjs <bundle.mcpb> <influx-testserver>");
  process.exit(2);
}
const mcpb = await import(join(process.env.MCPB_DIR, "node_modules/@anthropic-ai/mcpb/dist/index.js"));

let failures = 0;
function fail(msg) {
  failures++;
  console.error("FAIL: " + msg);
}
function ok(msg) {
  console.error("ok: " + msg);
}
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// 1. Unpack and validate, as the client would.
const dir = mkdtempSync(join(tmpdir(), "mcpb-bundle-"));
const children = [];
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});
if (!(await mcpb.unpackExtension({ mcpbPath: bundlePath, outputDir: dir, silent: true }))) {
  fail(`cannot unpack ${bundlePath}`);
  process.exit(1);
}
const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
if (!mcpb.validateManifest(join(dir, "manifest.json"))) fail("the bundle's manifest does not validate");

// 2. The real InfluxDB handlers, seeded; the banner has the operator token,
// which sees tokens of both orgs, so that the org setting makes a difference.
const influx = spawn(testserverBin, ["-addr", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "inherit"] });
children.push(influx);
const banner = await withTimeout(
  new Promise((resolve, reject) => {
    const lines = [];
    const rl = createInterface({ input: influx.stdout });
    rl.on("line", (line) => {
      lines.push(line);
      if (line.startsWith("Serving until")) resolve(lines);
    });
    influx.on("exit", (code) => reject(new Error(`influx-testserver exited with ${code}`)));
  }),
  60000,
  "influx-testserver start",
);
influx.stdout.resume();
const exportLine = banner.find((l) => l.startsWith("export "));
const env = Object.fromEntries(exportLine.slice("export ".length).split(" ").map((kv) => kv.split(/=(.*)/s).slice(0, 2)));
const host = env.INFLUX_HOST;
const token = env.INFLUX_TOKEN;
// Every token value the demo holds (last column of its fixture table): none
// may show up in anything the MCP server writes. The table ends at the
// first empty line.
const tableStart = banner.findIndex((l) => l.startsWith("NAME "));
const tableEnd = banner.indexOf("", tableStart);
const secrets = banner.slice(tableStart + 1, tableEnd < 0 ? undefined : tableEnd).map((l) => l.trim().split(/\s+/).pop());
if (!host || !token || secrets.length < 10 || !secrets.includes(token)) {
  fail(`cannot read the test server's banner: host ${host}, ${secrets.length} secrets`);
  process.exit(1);
}

async function influxIDs(query) {
  const res = await fetch(`${host}/api/v2/authorizations${query}`, { headers: { Authorization: `Token ${token}` } });
  if (res.status !== 200) throw new Error(`GET /api/v2/authorizations${query}: ${res.status}`);
  return (await res.json()).authorizations.map((a) => a.id).sort();
}

// 3. A minimal MCP client over the server's stdio.
function startServer(config) {
  const child = spawn(config.command, config.args ?? [], { env: config.env ?? {}, stdio: ["pipe", "pipe", "pipe"] });
  children.push(child);
  let stdout = "";
  let stderr = "";
  const waiting = new Map();
  createInterface({ input: child.stdout }).on("line", (line) => {
    stdout += line + "\n";
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      fail(`stdout line is not JSON-RPC: ${line.slice(0, 200)}`);
      return;
    }
    waiting.get(msg.id)?.(msg);
  });
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  let nextID = 1;
  return {
    child,
    exited,
    output: () => stdout + stderr,
    stderr: () => stderr,
    notify(method, params) {
      child.stdin.write(JSON.stringify({ jsonrpc: "2.0", method, params }) + "\n");
    },
    request(method, params) {
      const id = nextID++;
      const answer = new Promise((resolve) => waiting.set(id, resolve));
      child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
      return withTimeout(answer, 30000, method);
    },
  };
}

async function check(name, userConfig, wantQuery) {
  const config = await mcpb.getMcpConfigForManifest({
    manifest,
    extensionPath: dir,
    systemDirs: {},
    userConfig,
    pathSeparator: "/",
    logger: console,
  });
  if (!config) {
    fail(`${name}: no command from the manifest`);
    return;
  }
  const resolved = JSON.stringify(config);
  if (resolved.includes("${")) fail(`${name}: unresolved variable in ${resolved.replaceAll(token, "<token>")}`);
  if (config.env.INFLUX_TOKEN !== token || config.env.INFLUX_HOST !== host) fail(`${name}: the manifest does not map the token and URL to INFLUX_TOKEN and INFLUX_HOST`);

  const srv = startServer(config);
  try {
    const init = await srv.request("initialize", {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "mcpb-bundle-test", version: "1" },
    });
    if (!init.result?.serverInfo) throw new Error(`initialize: ${JSON.stringify(init)}`);
    srv.notify("notifications/initialized", {});

    if (process.platform === "linux") {
      // The launcher exec'd the binary for this CPU.
      const exe = readlinkSync(`/proc/${srv.child.pid}/exe`);
      const want = { x64: "influx-token-mcp-amd64", arm64: "influx-token-mcp-arm64" }[process.arch];
      if (!exe.endsWith("/server/linux/" + want)) fail(`${name}: the launcher runs ${exe}, want ${want}`);
    }

    const tools = await srv.request("tools/list", {});
    const served = tools.result.tools.map((t) => t.name).sort();
    const listed = (manifest.tools ?? []).map((t) => t.name).sort();
    if (JSON.stringify(served) !== JSON.stringify(listed)) fail(`${name}: the manifest lists tools ${listed}, the server has ${served}`);

    const call = await srv.request("tools/call", { name: "list_tokens", arguments: { limit: 500 } });
    const result = call.result;
    if (!result || result.isError) throw new Error(`list_tokens failed: ${JSON.stringify(call).slice(0, 500)}`);
    const got = result.structuredContent.tokens.map((t) => t.id).sort();
    const want = await influxIDs(wantQuery);
    if (want.length === 0) fail(`${name}: InfluxDB lists no tokens for the auditor; the check would prove nothing`);
    if (JSON.stringify(got) !== JSON.stringify(want)) fail(`${name}: list_tokens gives ${got}, InfluxDB ${want}`);
    else ok(`${name}: list_tokens lists the ${got.length} tokens InfluxDB lists (${wantQuery || "no filter"})`);
  } catch (err) {
    fail(`${name}: ${err.message}; server stderr:\n${srv.stderr()}`);
  }
  srv.child.stdin.end(); // EOF: the server exits 0
  const { code, signal } = await withTimeout(srv.exited, 10000, "server exit after EOF").catch((e) => ({ code: e.message }));
  if (code !== 0) fail(`${name}: server exit ${code} ${signal ?? ""} after stdin EOF`);
  const leaked = secrets.filter((s) => srv.output().includes(s));
  if (leaked.length > 0) fail(`${name}: ${leaked.length} token value(s) appear in the server's stdout or stderr`);
}

// Optional org left empty (its default), then set: INFLUX_ORG narrows the list.
await check("url and token", { influx_host: host, influx_token: token }, "");
await check("url, token and org", { influx_host: host, influx_token: token, influx_org: "acme" }, "?org=acme");

influx.kill("SIGTERM");
if (failures > 0) {
  console.error(`${failures} failure(s)`);
  process.exit(1);
}
console.error("mcpb bundle test passed");
