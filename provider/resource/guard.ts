/**
 * What a Pulumi method's failure looks like to the engine: connection failures explained, the password
 * scrubbed out, no stack trace, and a {@link VmOperationError}'s properties in the stored form.
 */
import { explainLoginFailure, explainTlsFailure, scrubSecrets } from "./config";
import { configuredSettings } from "./connection";
import { VmOperationError } from "./errors";
import { pack } from "./stored";

/**
 * Runs a provider method; on failure, explains connection failures (a refused login, an untrusted
 * certificate), scrubs the password out of the error's message and reasons, and drops the stack trace
 * before the host prints or returns them.
 */
export async function guard<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (thrown) {
    const s = configuredSettings();
    const error = s === undefined ? thrown : await explainTlsFailure(explainLoginFailure(thrown, s), s.url);
    const secrets = [s?.password, process.env.XAPI_PASSWORD];
    if (error instanceof Error) {
      error.message = scrubSecrets(error.message, secrets);
      // One clean line per failure: the engine's host prints a read failure as `${error}: ${error.stack}`,
      // and a stack trace would point into sources the package does not ship.
      error.stack = "pulumi-xapi";
      if (error instanceof VmOperationError) {
        // The host records these as the resource's outputs: in the stored form.
        const packed = pack(error.properties);
        for (const key of Object.keys(error.properties)) delete error.properties[key];
        Object.assign(error.properties, packed);
        error.reasons.splice(0, error.reasons.length, ...error.reasons.map((r) => scrubSecrets(r, secrets)));
      }
    }
    throw error;
  }
}
