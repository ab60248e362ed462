/**
 * The client's keep-alive agent closes a socket it has left idle before a server would (so no request is
 * ever written to a socket the server is closing), and never cuts a request that is still waiting for its
 * answer.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createAgent, IDLE_SOCKET_MS } from "../provider/client/tls";

let server: http.Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** A server that keeps idle sockets for a minute, counts the sockets it saw closed, answers after `delayMs`. */
async function listen(delayMs: number): Promise<{ url: URL; closed: () => number }> {
  let closed = 0;
  server = http.createServer((_request, response) => {
    setTimeout(() => response.end("ok"), delayMs);
  });
  server.keepAliveTimeout = 60_000;
  server.on("connection", (socket) => socket.on("close", () => closed++));
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: new URL(`http://127.0.0.1:${port}/`), closed: () => closed };
}

function post(url: URL, agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: "POST", agent }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve(body));
    });
    request.setTimeout(10 * IDLE_SOCKET_MS);
    request.on("error", reject);
    request.end("{}");
  });
}

describe("the client's keep-alive agent", () => {
  it("closes a socket left idle, long before the server's own keep-alive timeout", async () => {
    const { url, closed } = await listen(0);
    const agent = createAgent(url, {});
    expect(await post(url, agent)).toBe("ok");
    await vi.waitFor(() => expect(closed()).toBe(1), { timeout: 30_000, interval: 100 });
    expect(Object.values(agent.freeSockets).flat()).toHaveLength(0);
    agent.destroy();
  });

  it("lets a request wait longer than the idle limit for its answer", async () => {
    const { url, closed } = await listen(IDLE_SOCKET_MS + 1_000);
    const agent = createAgent(url, {});
    expect([await post(url, agent), closed()]).toEqual(["ok", 0]);
    agent.destroy();
  });
});
