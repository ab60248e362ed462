/**
 * `xapi.Pool`: one XAPI pool's connection, for programs that manage several pools. Give it to a `Vm`
 * with `{ provider }`; a `Vm` without one uses the stack configuration (`xapi:url`, …).
 *
 * Under the hood it is the Node.js dynamic-provider plugin (`pulumi-nodejs`) configured with this pool's
 * settings: the engine runs one provider process per `Pool`, so each pool has its own session, snapshot
 * and settings. Its inputs are stored in the stack state like any provider's (the password as a secret);
 * to keep the password out of the state entirely, name an environment variable with `passwordEnv`.
 */
import * as pulumi from "@pulumi/pulumi";
import { CONNECTION_SETTINGS, PASSWORD_ENV_KEY } from "./config";

/** Arguments of {@link Pool}. */
export interface PoolArgs {
  /** The pool coordinator (or any member: followed to the coordinator), e.g. `https://xcp-prod.example.org`. */
  url: pulumi.Input<string>;
  /** @default "root" */
  username?: pulumi.Input<string>;
  /** May be a secret Output; stored in the state as a secret. To keep it out of the state, use `passwordEnv`. */
  password?: pulumi.Input<string>;
  /** Name of the environment variable that holds the password (read by the provider process, never stored). */
  passwordEnv?: pulumi.Input<string>;
  /** PEM bundle of CA certificates to trust. */
  caCert?: pulumi.Input<string>;
  /** SHA-256 fingerprint of the pool's certificate (the safe way to trust a self-signed XCP-ng certificate). */
  fingerprint?: pulumi.Input<string>;
  /** Accept any certificate (warns). @default false */
  insecure?: pulumi.Input<boolean>;
  /** Most lifecycle tasks this stack runs at once on the pool (`xapi:maxConcurrentOperations`). @default 4 */
  maxConcurrentOperations?: pulumi.Input<number>;
}

/**
 * A XAPI pool as a Pulumi provider resource: give it to any `Vm` as `{ provider: pool }`.
 *
 * @example
 * ```ts
 * const prod = new xapi.Pool("prod", { url: "https://xcp-prod.example.org", passwordEnv: "XAPI_PROD_PASSWORD" });
 * const dev = new xapi.Pool("dev", { url: "https://xcp-dev.example.org", passwordEnv: "XAPI_DEV_PASSWORD" });
 * new xapi.Vm("web", { template: "Debian Bookworm 12" }, { provider: prod });
 * new xapi.Vm("web-dev", { template: "Debian Bookworm 12" }, { provider: dev });
 * ```
 */
export class Pool extends pulumi.ProviderResource {
  constructor(name: string, args: PoolArgs, opts?: pulumi.ResourceOptions) {
    const text = (v: pulumi.Input<boolean | number> | undefined) =>
      v === undefined ? undefined : pulumi.output(v).apply((b) => String(b));
    super(
      "pulumi-nodejs",
      name,
      {
        [CONNECTION_SETTINGS.url.config]: args.url,
        [CONNECTION_SETTINGS.username.config]: args.username,
        [CONNECTION_SETTINGS.password.config]:
          args.password === undefined ? undefined : pulumi.secret(args.password),
        [PASSWORD_ENV_KEY]: args.passwordEnv,
        [CONNECTION_SETTINGS.caCert.config]: args.caCert,
        [CONNECTION_SETTINGS.fingerprint.config]: args.fingerprint,
        [CONNECTION_SETTINGS.insecure.config]: text(args.insecure),
        [CONNECTION_SETTINGS.maxConcurrentOperations.config]: text(args.maxConcurrentOperations),
      },
      opts,
    );
  }
}
