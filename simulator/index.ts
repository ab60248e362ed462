/**
 * xapi-sim: a XAPI server that real XenAPI clients cannot tell from a small XCP-ng pool.
 *
 * `startSimulator()` builds the object model (`simulator/model`) and serves it over HTTP or HTTPS:
 * JSON-RPC at `POST /jsonrpc`, XML-RPC at `POST /`, `/RPC2` and any other path, control operations at
 * `GET|POST /_sim/<op>` (loopback only). A second listener on the member address (default 127.0.0.2,
 * same port) plays a pool member that answers logins with `HOST_IS_SLAVE [master]`.
 *
 * @example
 * ```ts
 * const sim = await startSimulator({ port: 0 });
 * // … point a client at sim.url (user "root", password "xapi-sim") …
 * await sim.close();
 * ```
 */

import { X509Certificate } from "node:crypto";
import { generate } from "selfsigned";
import { createModel, InvalidStateError, type SimModel, type SimModelOptions } from "./model";
import { createSimServer, type SimServer } from "./server";
import {
  persistModel,
  readStateFile,
  StateFileError,
  StateFileErrorCode,
  writeStateFile,
} from "./state-file";

export {
  InvalidStateError,
  PROFILE_NAMES,
  type ProfileName,
  type SimModel,
  type SimModelOptions,
} from "./model";
export { StateFileError, StateFileErrorCode } from "./state-file";

/** Options of {@link startSimulator}; the model options are passed through to `createModel`. */
export interface StartOptions extends SimModelOptions {
  /**
   * Bind address of the master. Keep it on loopback: the simulator has no real authentication.
   * @default "127.0.0.1"
   */
  host?: string;
  /**
   * TCP port of the master (and of the member). `0` picks a free port, reported in `url` and `port`.
   * @default 0
   */
  port?: number;
  /**
   * Also listen as the pool member on `memberAddress` (default 127.0.0.2), on the same port.
   * @default true
   */
  member?: boolean;
  /** `true` = serve HTTPS with a generated self-signed certificate; or give a PEM certificate and key. */
  tls?: boolean | { cert: string; key: string };
  /**
   * Persist the model to this JSON file with atomic writes and load it at start (a missing file is created
   * from the fixture). A corrupt or unreadable file makes `startSimulator` reject with a
   * {@link StateFileError}; the file is then left untouched.
   */
  stateFile?: string;
  /**
   * Largest accepted request body in bytes; larger requests get HTTP 413.
   * @default 16 MiB
   */
  maxBodyBytes?: number;
}

/** A running simulator. */
export interface RunningSimulator {
  /** The master's base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** The pool member's base URL, e.g. `http://127.0.0.2:41234` (absent with `member: false`). */
  memberUrl?: string;
  /** The bound port (the same for master and member). */
  port: number;
  /** The object model: `control` operations, `exportState()`, … */
  model: SimModel;
  /** With TLS: SHA-256 fingerprint of the served certificate, `"AA:BB:…"`. */
  certFingerprint256?: string;
  /** With TLS: the served certificate (PEM), e.g. to pin it in a client. */
  certPem?: string;
  /** Stop listening, end long-polls, close every connection, write the state file one last time. */
  close(): Promise<void>;
}

const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_MEMBER_ADDRESS = "127.0.0.2";
const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
// With port 0 the member must bind the port the OS gave the master; on the rare clash, start over.
const PORT_ATTEMPTS = 5;

/** Start xapi-sim. See {@link StartOptions}. */
export async function startSimulator(options: StartOptions = {}): Promise<RunningSimulator> {
  const {
    host = DEFAULT_HOST,
    port = 0,
    member = true,
    tls,
    stateFile,
    maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
    ...modelOptions
  } = options;
  const memberAddress = modelOptions.memberAddress ?? DEFAULT_MEMBER_ADDRESS;
  const masterAddress = modelOptions.masterAddress ?? host;

  const model = openModel({ ...modelOptions, masterAddress, memberAddress }, stateFile);
  const persistence = stateFile === undefined ? undefined : persistModel(model, stateFile);
  const credentials = tls === true ? await selfSignedCertificate([host, memberAddress]) : tls || undefined;

  let servers: SimServer[];
  let boundPort: number;
  try {
    ({ servers, port: boundPort } = await listenAll({
      model,
      port,
      host,
      memberAddress: member ? memberAddress : undefined,
      maxBodyBytes,
      tls: credentials,
    }));
  } catch (error) {
    persistence?.stop();
    model.close();
    throw error;
  }

  const scheme = credentials === undefined ? "http" : "https";
  let closing: Promise<void> | undefined;
  const running: RunningSimulator = {
    url: `${scheme}://${formatHost(host)}:${boundPort}`,
    port: boundPort,
    model,
    close() {
      closing ??= (async () => {
        persistence?.flush();
        // Ending the model first answers pending event.from long-polls before the sockets go.
        model.close();
        await Promise.all(servers.map((server) => server.close()));
        persistence?.stop();
      })();
      return closing;
    },
  };
  if (member) running.memberUrl = `${scheme}://${formatHost(memberAddress)}:${boundPort}`;
  if (credentials !== undefined) {
    running.certPem = credentials.cert;
    running.certFingerprint256 = new X509Certificate(credentials.cert).fingerprint256;
  }
  return running;
}

// Load the state file (if any) into a new model; a new file is written straight away from the fixture.
function openModel(options: SimModelOptions, stateFile: string | undefined): SimModel {
  if (stateFile === undefined) return createModel(options);
  const state = readStateFile(stateFile);
  if (state === undefined) {
    const model = createModel(options);
    writeStateFile(stateFile, model.exportState());
    return model;
  }
  try {
    return createModel({ ...options, state });
  } catch (error) {
    if (error instanceof InvalidStateError) {
      throw new StateFileError(StateFileErrorCode.Corrupt, stateFile, error.message, { cause: error });
    }
    throw error;
  }
}

interface ListenPlan {
  model: SimModel;
  port: number;
  host: string;
  memberAddress: string | undefined;
  maxBodyBytes: number;
  tls: { cert: string; key: string } | undefined;
}

async function listenAll(plan: ListenPlan): Promise<{ servers: SimServer[]; port: number }> {
  const make = (role: "master" | "member") =>
    createSimServer({
      dispatch: plan.model.dispatch,
      control: plan.model.control,
      host: role,
      maxBodyBytes: plan.maxBodyBytes,
      tls: plan.tls,
    });
  for (let attempt = 1; ; attempt++) {
    const master = make("master");
    const port = await master.listen(plan.port, plan.host);
    if (plan.memberAddress === undefined) return { servers: [master], port };
    const memberServer = make("member");
    try {
      await memberServer.listen(port, plan.memberAddress);
      return { servers: [master, memberServer], port };
    } catch (error) {
      await master.close(0);
      const clash = (error as NodeJS.ErrnoException).code === "EADDRINUSE";
      if (!clash || plan.port !== 0 || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

// A certificate valid for the loopback names clients use: 127.0.0.1, 127.0.0.2 and localhost (+ the bind
// address).
async function selfSignedCertificate(addresses: readonly string[]): Promise<{ cert: string; key: string }> {
  const ips = new Set(["127.0.0.1", "127.0.0.2"]);
  const names = new Set(["localhost"]);
  for (const address of addresses) (/^[\d.]+$|:/.test(address) ? ips : names).add(address);
  const pems = await generate([{ name: "commonName", value: "xapi-sim" }], {
    keySize: 2048,
    algorithm: "sha256",
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          ...[...ips].map((ip) => ({ type: 7 as const, ip })),
          ...[...names].map((value) => ({ type: 2 as const, value })),
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

// IPv6 literals need brackets in URLs.
function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
