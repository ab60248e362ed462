/** Pure helpers of the client: error shape, task-result decoding, fingerprint and redirect URLs. */
import { describe, expect, it } from "vitest";
import { isTransientTransportError, XapiError, XapiTransportError } from "../provider/client/errors";
import { coordinatorUrl, isIdempotentCall } from "../provider/client/session";
import { parseTaskResult } from "../provider/client/task";
import { normalizeFingerprint } from "../provider/client/tls";

describe("XapiError", () => {
  it("formats CODE(params) in call", () => {
    const error = new XapiError("VM_BAD_POWER_STATE", ["OpaqueRef:v", "halted", "running"], "VM.start");
    expect(error.message).toMatchInlineSnapshot(
      `"VM_BAD_POWER_STATE(OpaqueRef:v, halted, running) in VM.start"`,
    );
    expect(error.name).toBe("XapiError");
  });

  it("splits an ErrorDescription array into code and params", () => {
    const error = XapiError.fromDescription(
      ["VM_LACKS_FEATURE", "OpaqueRef:v"],
      "VM.clean_shutdown",
      "OpaqueRef:t",
    );
    expect([error.code, error.params, error.call, error.task]).toEqual([
      "VM_LACKS_FEATURE",
      ["OpaqueRef:v"],
      "VM.clean_shutdown",
      "OpaqueRef:t",
    ]);
  });
});

describe("isTransientTransportError", () => {
  it("accepts a reset connection and rejects an HTTP status error", () => {
    const reset = new XapiTransportError("ECONNRESET", "x", "VM.get_record", "http://h/jsonrpc");
    const status = new XapiTransportError("HTTP_STATUS", "x", "VM.get_record", "http://h/jsonrpc", {
      status: 500,
    });
    expect([isTransientTransportError(reset), isTransientTransportError(status)]).toEqual([true, false]);
  });
});

describe("parseTaskResult", () => {
  it.each([
    ["<value></value>", ""],
    ["<value>OpaqueRef:1234</value>", "OpaqueRef:1234"],
    ["<value><string>a&amp;b</string></value>", "a&b"],
    ["<value><boolean>1</boolean></value>", true],
    ["", ""],
  ])("decodes %j", (raw, expected) => {
    expect(parseTaskResult(raw)).toEqual(expected);
  });
});

describe("normalizeFingerprint", () => {
  const colon = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, "0").toUpperCase()).join(":");

  it("accepts lower-case hex without separators", () => {
    expect(normalizeFingerprint(colon.replaceAll(":", "").toLowerCase())).toBe(colon);
  });

  it("accepts openssl's 'sha256 Fingerprint=' output", () => {
    expect(normalizeFingerprint(`sha256 Fingerprint=${colon}`)).toBe(colon);
  });

  it("rejects a SHA-1 length fingerprint", () => {
    expect(() =>
      normalizeFingerprint("AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD"),
    ).toThrowErrorMatchingInlineSnapshot(
      `[TypeError: Invalid fingerprint: expected a SHA-256 fingerprint (64 hex digits, e.g. "AA:BB:…"), received "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD". Try: openssl x509 -noout -fingerprint -sha256 -in cert.pem]`,
    );
  });
});

describe("coordinatorUrl", () => {
  it("keeps scheme and port, replaces the host", () => {
    expect(coordinatorUrl("https://10.0.0.2:8443", "10.0.0.1")).toBe("https://10.0.0.1:8443");
  });

  it("brackets an IPv6 coordinator address", () => {
    expect(coordinatorUrl("https://host", "fd00::1")).toBe("https://[fd00::1]");
  });
});

describe("isIdempotentCall", () => {
  it.each([
    ["VM.get_record", true],
    ["task.destroy", true],
    ["VM.start", false],
    ["VM.set_PV_args", false],
  ])("%s → %s", (method, expected) => {
    expect(isIdempotentCall(method)).toBe(expected);
  });
});
