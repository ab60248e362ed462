/**
 * xapi-sim's wire layer seen through raw HTTP (fetch and a bare socket): content types, JSON-RPC v1/v2
 * shapes, id echo, XML-RPC compact encoding, tolerant request parsing, HTTP 500/413, resilience.
 *
 * Most of the file drives the server with a stub dispatch so that every wire type (int64, XFloat,
 * XDateTime, XInt32) and every failure mode appears on demand; the last block checks the same wire in
 * front of the real model (arity, unknown methods, HOST_IS_SLAVE, injected drops).
 */

import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "../simulator";
import {
  type Dispatch,
  DropConnection,
  XapiFault,
  XDateTime,
  XFloat,
  XInt32,
  type XValue,
} from "../simulator/api";
import { createSimServer, type SimServer } from "../simulator/server";
import { formatDouble } from "../simulator/wire/xmlrpc";

const TYPED_RESULT: XValue = {
  int64: 4294967296,
  float: new XFloat(1),
  fraction: new XFloat(0.1),
  created: new XDateTime("20240101T00:00:00Z"),
  count: new XInt32(3),
  flag: true,
  none: null,
  text: 'a&b<c>"d"',
  list: ["x", 2],
  empty: {},
};

let lastParams: readonly unknown[] = [];
let lastMeta: unknown;

const dispatch: Dispatch = async (method, params, meta) => {
  lastParams = params;
  lastMeta = meta;
  switch (method) {
    case "void":
      return "";
    case "typed":
      return TYPED_RESULT;
    case "fail":
      throw new XapiFault("VM_BAD_POWER_STATE", ["OpaqueRef:v", "halted", "running"]);
    case "drop":
      throw new DropConnection();
    case "bug":
      throw new Error("kaboom");
    case "unencodable":
      return new Date(0) as unknown as XValue;
    case "system.listMethods":
      return ["VM.start", "task.get_all_records"];
    default:
      throw new XapiFault("MESSAGE_METHOD_UNKNOWN", [method]);
  }
};

const control = {
  echo: (body: Record<string, unknown>) => body,
  broken: () => {
    throw new Error("no such VM");
  },
};

let sim: SimServer;
let base: string;

beforeAll(async () => {
  sim = createSimServer({ dispatch, control, host: "master", maxBodyBytes: 4096 });
  const port = await sim.listen(0, "127.0.0.1");
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await sim.close();
});

function post(path: string, body: string, contentType = "application/json"): Promise<Response> {
  return fetch(`${base}${path}`, { method: "POST", body, headers: { "content-type": contentType } });
}

function jsonCall(request: Record<string, unknown>): Promise<Response> {
  return post("/jsonrpc", JSON.stringify(request));
}

function xmlCall(method: string, paramsXml = "", path = "/"): Promise<Response> {
  const body = `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${paramsXml}</params></methodCall>`;
  return post(path, body, "text/xml");
}

describe("JSON-RPC", () => {
  it("answers with content-type exactly application/json", async () => {
    const res = await jsonCall({ jsonrpc: "2.0", method: "void", params: [], id: 0 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
  });

  it("sends the XAPI CORS headers", async () => {
    const res = await jsonCall({ jsonrpc: "2.0", method: "void", params: [], id: 0 });
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-headers")).toBe("X-Requested-With");
  });

  it("v2 success has no error key", async () => {
    const res = await jsonCall({ jsonrpc: "2.0", method: "void", params: [], id: 0 });
    expect(await res.text()).toBe('{"jsonrpc":"2.0","result":"","id":0}');
  });

  it("v2 failure is {code:1, message, data}", async () => {
    const res = await jsonCall({ jsonrpc: "2.0", method: "fail", params: [], id: 7 });
    expect(await res.text()).toBe(
      '{"jsonrpc":"2.0","error":{"code":1,"message":"VM_BAD_POWER_STATE","data":["OpaqueRef:v","halted","running"]},"id":7}',
    );
  });

  it("v1 success carries error:null", async () => {
    const res = await jsonCall({ method: "void", params: [], id: 3 });
    expect(await res.text()).toBe('{"result":"","error":null,"id":3}');
  });

  it("v1 failure is result:null with the error array", async () => {
    const res = await jsonCall({ method: "fail", params: [], id: 3 });
    expect(await res.text()).toBe(
      '{"result":null,"error":["VM_BAD_POWER_STATE","OpaqueRef:v","halted","running"],"id":3}',
    );
  });

  it("echoes a string id as a string", async () => {
    const res = await jsonCall({ jsonrpc: "2.0", method: "void", params: [], id: "5c3e-uuid" });
    expect(await res.json()).toEqual({ jsonrpc: "2.0", result: "", id: "5c3e-uuid" });
  });

  it("echoes a numeric id as a number", async () => {
    const res = await jsonCall({ jsonrpc: "2.0", method: "void", params: [], id: 42 });
    expect(((await res.json()) as { id: unknown }).id).toBe(42);
  });

  it("rejects a request without id (a notification) with HTTP 500 text/html", async () => {
    const res = await jsonCall({ jsonrpc: "2.0", method: "void", params: [] });
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).toBe("text/html");
  });

  it("rejects a null id with HTTP 500", async () => {
    const res = await jsonCall({ jsonrpc: "2.0", method: "void", params: [], id: null });
    expect(res.status).toBe(500);
  });

  it("rejects a jsonrpc version other than 2.0 with HTTP 500", async () => {
    const res = await jsonCall({ jsonrpc: "1.0", method: "void", params: [], id: 1 });
    expect(res.status).toBe(500);
  });

  it("answers malformed JSON with XAPI's HTML 500 page", async () => {
    const res = await post("/jsonrpc", '{"jsonrpc":"2.0","method":');
    expect(res.status).toBe(500);
    expect(await res.text()).toMatch(/^<html><body><h1>HTTP 500 internal server error<\/h1>/);
  });

  it("v2 accepts omitted params as []", async () => {
    await jsonCall({ jsonrpc: "2.0", method: "void", id: 1 });
    expect(lastParams).toEqual([]);
  });

  it("v2 wraps an object params as [object]", async () => {
    await jsonCall({ jsonrpc: "2.0", method: "void", params: { a: 1 }, id: 1 });
    expect(lastParams).toEqual([{ a: 1 }]);
  });

  it("v1 requires params as an array", async () => {
    const res = await jsonCall({ method: "void", id: 1 });
    expect(res.status).toBe(500);
  });

  it("tells dispatch the transport and the host", async () => {
    await jsonCall({ jsonrpc: "2.0", method: "void", params: [], id: 1 });
    expect(lastMeta).toEqual({ host: "master", transport: "jsonrpc" });
  });

  it("encodes int64 as a number, XFloat with a fraction, datetimes as strings", async () => {
    const res = await jsonCall({ jsonrpc: "2.0", method: "typed", params: [], id: 0 });
    expect(await res.text()).toBe(
      '{"jsonrpc":"2.0","result":{"int64":4294967296,"float":1.0,"fraction":0.1,' +
        '"created":"20240101T00:00:00Z","count":3,"flag":true,"none":null,"text":"a&b<c>\\"d\\"",' +
        '"list":["x",2],"empty":{}},"id":0}',
    );
  });

  it("routes any path under /jsonrpc to JSON-RPC", async () => {
    const res = await post("/jsonrpc/extra", JSON.stringify({ jsonrpc: "2.0", method: "void", id: 1 }));
    expect(res.headers.get("content-type")).toBe("application/json");
  });
});

describe("XML-RPC", () => {
  it.each(["/", "/RPC2", "/xmlrpc", "/json"])(
    "serves XML-RPC on %s with content-type text/xml",
    async (path) => {
      const res = await xmlCall("void", "", path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/xml");
    },
  );

  it("wraps a void result as Status/Value with an empty value, compact", async () => {
    const res = await xmlCall("void");
    expect(await res.text()).toBe(
      '<?xml version="1.0"?><methodResponse><params><param><value><struct>' +
        "<member><name>Status</name><value>Success</value></member>" +
        "<member><name>Value</name><value></value></member>" +
        "</struct></value></param></params></methodResponse>",
    );
  });

  it("reports a failure as Status/ErrorDescription, not as a <fault>", async () => {
    const res = await xmlCall("fail");
    expect(await res.text()).toBe(
      '<?xml version="1.0"?><methodResponse><params><param><value><struct>' +
        "<member><name>Status</name><value>Failure</value></member>" +
        "<member><name>ErrorDescription</name><value><array><data><value>VM_BAD_POWER_STATE</value>" +
        "<value>OpaqueRef:v</value><value>halted</value><value>running</value></data></array></value></member>" +
        "</struct></value></param></params></methodResponse>",
    );
  });

  it("returns system.listMethods bare, without Status/Value", async () => {
    const res = await xmlCall("system.listMethods");
    expect(await res.text()).toBe(
      '<?xml version="1.0"?><methodResponse><params><param><value><array><data>' +
        "<value>VM.start</value><value>task.get_all_records</value>" +
        "</data></array></value></param></params></methodResponse>",
    );
  });

  it("encodes int64 untagged, i4 only for XInt32, %.16g doubles and ISO 8601 datetimes", async () => {
    const text = await (await xmlCall("typed")).text();
    const value = text.slice(text.indexOf("<name>Value</name>") + "<name>Value</name>".length);
    expect(value).toBe(
      "<value><struct>" +
        "<member><name>int64</name><value>4294967296</value></member>" +
        "<member><name>float</name><value><double>1</double></value></member>" +
        "<member><name>fraction</name><value><double>0.1</double></value></member>" +
        "<member><name>created</name><value><dateTime.iso8601>20240101T00:00:00Z</dateTime.iso8601></value></member>" +
        "<member><name>count</name><value><i4>3</i4></value></member>" +
        "<member><name>flag</name><value><boolean>1</boolean></value></member>" +
        "<member><name>none</name><value><nil/></value></member>" +
        "<member><name>text</name><value>a&amp;b&lt;c&gt;&quot;d&quot;</value></member>" +
        "<member><name>list</name><value><array><data><value>x</value><value>2</value></data></array></value></member>" +
        "<member><name>empty</name><value><struct></struct></value></member>" +
        "</struct></value></member></struct></value></param></params></methodResponse>",
    );
  });

  it("parses Python's pretty-printed, <string>-tagged requests", async () => {
    // Arrange: the exact layout of Python's xmlrpc.client (xapi-clients.md §3.2).
    const body = [
      "<?xml version='1.0'?>",
      "<methodCall>",
      "<methodName>void</methodName>",
      "<params>",
      "<param>",
      "<value><string>OpaqueRef:S</string></value>",
      "</param>",
      "<param>",
      "<value><boolean>0</boolean></value>",
      "</param>",
      "<param>",
      "<value><struct>",
      "<member>",
      "<name>order</name>",
      "<value><string>dc</string></value>",
      "</member>",
      "</struct></value>",
      "</param>",
      "</params>",
      "</methodCall>",
      "",
    ].join("\n");
    // Act
    const res = await post("/RPC2", body, "text/xml");
    // Assert
    expect(res.status).toBe(200);
    expect(lastParams).toEqual(["OpaqueRef:S", false, { order: "dc" }]);
  });

  it("decodes every XML-RPC scalar and container type", async () => {
    const params = [
      "<value>untagged</value>",
      "<value><string>tagged</string></value>",
      "<value><int>1</int></value>",
      "<value><i4>-2</i4></value>",
      "<value><i8>4294967296</i8></value>",
      "<value><boolean>1</boolean></value>",
      "<value><double>60.1</double></value>",
      "<value><dateTime.iso8601>20240101T00:00:00Z</dateTime.iso8601></value>",
      "<value><base64>aGVsbG8=</base64></value>",
      "<value><nil/></value>",
      "<value><array><data><value>a</value><value><int>3</int></value></data></array></value>",
      "<value><struct><member><name>k</name><value>v</value></member></struct></value>",
      "<value></value>",
      "<value/>",
      "<value><array><data/></array></value>",
    ].map((value) => `<param>\n  ${value}\n</param>`);
    await xmlCall("void", params.join("\n"));
    expect(lastParams).toEqual([
      "untagged",
      "tagged",
      1,
      -2,
      4294967296,
      true,
      60.1,
      "20240101T00:00:00Z",
      "hello",
      null,
      ["a", 3],
      { k: "v" },
      "",
      "",
      [],
    ]);
  });

  it("keeps whitespace inside an untagged string value", async () => {
    await xmlCall("void", "<param><value>  spaced  </value></param>");
    expect(lastParams).toEqual(["  spaced  "]);
  });

  it("decodes XML entities and numeric character references", async () => {
    await xmlCall("void", "<param><value>a&amp;b &#x41;&#66;</value></param>");
    expect(lastParams).toEqual(["a&b AB"]);
  });

  it("accepts <params /> and a missing <params>", async () => {
    const empty = await post(
      "/",
      "<methodCall><methodName>void</methodName><params /></methodCall>",
      "text/xml",
    );
    const missing = await post("/", "<methodCall><methodName>void</methodName></methodCall>", "text/xml");
    expect([empty.status, missing.status]).toEqual([200, 200]);
  });

  it("tells dispatch the transport", async () => {
    await xmlCall("void");
    expect(lastMeta).toEqual({ host: "master", transport: "xmlrpc" });
  });

  it("answers XML that is not well-formed with HTTP 500 text/html", async () => {
    const res = await post("/", "<methodCall><methodName>void</methodName><params>", "text/xml");
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).toBe("text/html");
  });

  it("answers a well-formed document that is not a methodCall with HTTP 500", async () => {
    const res = await post("/", "<methodResponse><params/></methodResponse>", "text/xml");
    expect(res.status).toBe(500);
  });

  it("answers an unknown value type with HTTP 500", async () => {
    const res = await xmlCall("void", "<param><value><float>1</float></value></param>");
    expect(res.status).toBe(500);
  });
});

describe("HTTP behaviour", () => {
  it("rejects an oversized JSON body with 413", async () => {
    const res = await post(
      "/jsonrpc",
      JSON.stringify({ jsonrpc: "2.0", method: "void", params: ["x".repeat(5000)], id: 1 }),
    );
    expect(res.status).toBe(413);
  });

  it("rejects an oversized XML body with 413", async () => {
    const res = await xmlCall("void", `<param><value>${"x".repeat(5000)}</value></param>`);
    expect(res.status).toBe(413);
  });

  it("answers OPTIONS like Http_svr.respond_to_options", async () => {
    const res = await fetch(`${base}/jsonrpc`, {
      method: "OPTIONS",
      headers: { "access-control-request-headers": "content-type" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-headers")).toBe("content-type, X-Requested-With");
    expect(res.headers.get("access-control-allow-methods")).toBe("PUT");
  });

  it("forbids GET on an RPC path", async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(403);
  });

  it("keeps connections alive", async () => {
    const res = await jsonCall({ jsonrpc: "2.0", method: "void", params: [], id: 0 });
    expect(res.headers.get("connection")).toBe("keep-alive");
  });

  it("drops the connection when dispatch throws DropConnection", async () => {
    await expect(jsonCall({ jsonrpc: "2.0", method: "drop", params: [], id: 0 })).rejects.toThrow();
  });

  it("turns an unexpected model exception into INTERNAL_ERROR", async () => {
    const res = await jsonCall({ jsonrpc: "2.0", method: "bug", params: [], id: 0 });
    expect(await res.json()).toEqual({
      jsonrpc: "2.0",
      error: { code: 1, message: "INTERNAL_ERROR", data: ["kaboom"] },
      id: 0,
    });
  });

  it("turns a result that cannot be encoded into INTERNAL_ERROR", async () => {
    const text = await (await xmlCall("unencodable")).text();
    expect(text).toContain("<value>INTERNAL_ERROR</value>");
  });

  it("keeps serving after garbage that is not HTTP", async () => {
    // Arrange: a raw socket that sends bytes no HTTP parser accepts.
    const { port } = new URL(base);
    const reply = await new Promise<string>((resolve) => {
      const socket = net.connect(Number(port), "127.0.0.1", () =>
        socket.write("\u0000\u0001garbage\r\n\r\n"),
      );
      let data = "";
      socket.on("data", (chunk) => {
        data += chunk.toString();
      });
      socket.on("close", () => resolve(data));
      socket.on("error", () => resolve(data));
    });
    // Act
    const res = await jsonCall({ jsonrpc: "2.0", method: "void", params: [], id: 0 });
    // Assert
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect(res.status).toBe(200);
  });

  it("keeps serving after a dropped connection and a malformed body", async () => {
    await jsonCall({ jsonrpc: "2.0", method: "drop", params: [], id: 0 }).catch(() => undefined);
    await post("/", "<<<", "text/xml");
    const res = await xmlCall("void");
    expect(res.status).toBe(200);
  });
});

describe("control routes", () => {
  it("passes a JSON body to the operation and wraps the answer in result", async () => {
    const res = await post("/_sim/echo", JSON.stringify({ uuid: "u-1", count: 2 }));
    expect(await res.json()).toEqual({ result: { uuid: "u-1", count: 2 } });
  });

  it("turns a GET query string into the body", async () => {
    const res = await fetch(`${base}/_sim/echo?uuid=abc-1&count=2&flag=true`);
    expect(await res.json()).toEqual({ result: { uuid: "abc-1", count: 2, flag: true } });
  });

  it("answers an unknown operation with 404 and the known names", async () => {
    const res = await fetch(`${base}/_sim/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchInlineSnapshot(`
      {
        "error": "unknown control operation "nope"; known: broken, echo",
      }
    `);
  });

  it("answers a failing operation with 400 and its message", async () => {
    const res = await fetch(`${base}/_sim/broken`, { method: "POST" });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "no such VM" });
  });

  it("rejects a body that is not a JSON object with 400", async () => {
    const res = await post("/_sim/echo", "[1,2]");
    expect(res.status).toBe(400);
  });
});

describe("formatDouble (C's %.16g)", () => {
  it.each([
    [1, "1"],
    [0.1, "0.1"],
    [60.1, "60.1"],
    [1 / 3, "0.3333333333333333"],
    [1e16, "1e+16"],
    [123456789012345680, "1.234567890123457e+17"],
    [1.5e-5, "1.5e-05"],
    [0.0001, "0.0001"],
    [-2.5, "-2.5"],
    [0, "0"],
  ])("formats %d as %s", (input, expected) => {
    expect(formatDouble(input)).toBe(expected);
  });
});

describe("the wire in front of the real model", () => {
  let real: RunningSimulator;

  beforeAll(async () => {
    real = await startSimulator({ port: 0, defaultOperationMs: 2 });
  });

  afterAll(async () => {
    await real.close();
  });

  async function rpc(url: string, request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const res = await fetch(`${url}/jsonrpc`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request),
    });
    return (await res.json()) as Record<string, unknown>;
  }

  async function login(): Promise<string> {
    const { result } = await rpc(real.url, {
      jsonrpc: "2.0",
      method: "session.login_with_password",
      params: ["root", "xapi-sim"],
      id: 0,
    });
    return result as string;
  }

  it.each([
    ["2", ["root", "xapi-sim"]],
    ["3", ["root", "xapi-sim", "1.1"]],
    ["4", ["root", "xapi-sim", "1.1", "wire-test"]],
  ])("logs in over JSON-RPC v1 with %s parameters", async (_count, params) => {
    const reply = await rpc(real.url, { method: "session.login_with_password", params, id: "v1" });
    expect(reply).toMatchObject({ error: null, id: "v1" });
    expect(reply.result).toMatch(/^OpaqueRef:/);
  });

  it("answers an unknown method with MESSAGE_METHOD_UNKNOWN [name]", async () => {
    const reply = await rpc(real.url, { jsonrpc: "2.0", method: "VM.frobnicate", params: [], id: 1 });
    expect(reply.error).toEqual({ code: 1, message: "MESSAGE_METHOD_UNKNOWN", data: ["VM.frobnicate"] });
  });

  it("answers a wrong arity with MESSAGE_PARAMETER_COUNT_MISMATCH", async () => {
    const session = await login();
    const reply = await rpc(real.url, { jsonrpc: "2.0", method: "VM.get_record", params: [session], id: 1 });
    expect((reply.error as { message: string }).message).toBe("MESSAGE_PARAMETER_COUNT_MISMATCH");
  });

  it("accepts a session from JSON-RPC on XML-RPC", async () => {
    const session = await login();
    const xml = `<?xml version="1.0"?><methodCall><methodName>VM.get_all</methodName><params><param><value>${session}</value></param></params></methodCall>`;
    const reply = await fetch(`${real.url}/RPC2`, {
      method: "POST",
      body: xml,
      headers: { "content-type": "text/xml" },
    });
    expect(await reply.text()).toContain("<member><name>Status</name><value>Success</value></member>");
  });

  it("returns the model's system.listMethods bare over XML-RPC", async () => {
    const xml =
      '<?xml version="1.0"?><methodCall><methodName>system.listMethods</methodName><params/></methodCall>';
    const text = await (await fetch(`${real.url}/`, { method: "POST", body: xml })).text();
    expect(text.startsWith('<?xml version="1.0"?><methodResponse><params><param><value><array><data>')).toBe(
      true,
    );
    expect(text).toContain("<value>VM.get_all_records</value>");
  });

  it("encodes event.from's valid_ref_counts as <i4> over XML-RPC", async () => {
    const session = await login();
    const xml =
      '<?xml version="1.0"?><methodCall><methodName>event.from</methodName><params>' +
      `<param><value>${session}</value></param>` +
      "<param><value><array><data><value>vm</value></data></array></value></param>" +
      "<param><value></value></param><param><value><double>0.1</double></value></param></params></methodCall>";
    const text = await (await fetch(`${real.url}/`, { method: "POST", body: xml })).text();
    const counts = text.slice(text.indexOf("<name>valid_ref_counts</name>"));
    expect(counts).toMatch(/^<name>valid_ref_counts<\/name><value><struct><member>/);
    expect(counts).toMatch(/<member><name>vm<\/name><value><i4>\d+<\/i4><\/value><\/member>/);
  });

  it("answers a login on the member with HOST_IS_SLAVE [master address]", async () => {
    if (real.memberUrl === undefined) throw new Error("the simulator has no member listener");
    const reply = await rpc(real.memberUrl, {
      jsonrpc: "2.0",
      method: "session.login_with_password",
      params: ["root", "xapi-sim"],
      id: 0,
    });
    expect(reply.error).toEqual({ code: 1, message: "HOST_IS_SLAVE", data: ["127.0.0.1"] });
  });

  it("serves control operations over HTTP", async () => {
    const res = await fetch(`${real.url}/_sim/vms`);
    const { result } = (await res.json()) as { result: { uuid: string }[] };
    expect(result.length).toBeGreaterThan(0);
  });

  it("drops the connection on an injected drop fault, then keeps serving", async () => {
    // Arrange
    await fetch(`${real.url}/_sim/faults`, {
      method: "POST",
      body: JSON.stringify({ method: "VM.get_all", drop: true }),
    });
    const session = await login();
    // Act
    const dropped = await rpc(real.url, {
      jsonrpc: "2.0",
      method: "VM.get_all",
      params: [session],
      id: 1,
    }).then(
      () => "answered",
      () => "dropped",
    );
    const next = await rpc(real.url, { jsonrpc: "2.0", method: "VM.get_all", params: [session], id: 2 });
    // Assert
    expect(dropped).toBe("dropped");
    expect(Array.isArray(next.result)).toBe(true);
  });
});
