/**
 * XAPI class `session` (docs/simulator-behaviour.md#sessions): login, logout and the lookups. There is no
 * get_all or
 * get_all_records: XAPI's datamodel has none for sessions.
 */
import { XapiFault } from "../../api";
import type { Engine } from "../engine";
import { str } from "../params";
import { NEVER, newRef, newUuid, xapiDate } from "../records";
import { ErrorCode, NULL_REF } from "../vocabulary";
import { type Def, lookups } from "./registry";

export function registerSession(def: Def, e: Engine): void {
  def(
    "session.login_with_password",
    ["uname", "pwd", "version", "originator"],
    async ({ args, meta }) => {
      const uname = str(args, 0, "uname");
      const pwd = str(args, 1, "pwd");
      str(args, 2, "version", "1.1");
      const originator = str(args, 3, "originator", "");
      if (meta.host === "member") throw new XapiFault(ErrorCode.hostIsSlave, [e.config.masterAddress]);
      if (!Object.hasOwn(e.config.users, uname) || e.config.users[uname] !== pwd) {
        // XAPI delays a failed login by ~5 s (xapi_session.ml); the simulator's delay is configurable.
        if (e.config.authFailureDelayMs > 0) await e.clock.sleep(e.config.authFailureDelayMs);
        throw new XapiFault(ErrorCode.sessionAuthenticationFailed, [uname, "Authentication failure"]);
      }
      const ref = newRef();
      const now = xapiDate(e.clock.now());
      e.sessions.insert(ref, {
        uuid: newUuid(),
        this_host: e.masterRef,
        this_user: NULL_REF,
        last_active: now,
        pool: false,
        other_config: {},
        is_local_superuser: uname === "root",
        subject: NULL_REF,
        validation_time: now,
        auth_user_sid: "",
        auth_user_name: uname,
        rbac_permissions: [],
        tasks: [],
        parent: NULL_REF,
        originator,
        client_certificate: false,
      });
      return ref;
    },
    { session: false, defaults: 2 },
  );
  def("session.logout", [], ({ session }) => {
    if (session) e.sessions.remove(session);
    return "";
  });
  def("session.get_all_subject_identifiers", [], () => []);
  // No get_all / get_all_records for sessions in XAPI's datamodel.
  lookups(
    def,
    e,
    "session",
    e.sessions,
    {
      uuid: "",
      this_host: "",
      this_user: "",
      last_active: NEVER,
      pool: false,
      other_config: {},
      is_local_superuser: false,
      subject: "",
      validation_time: NEVER,
      auth_user_sid: "",
      auth_user_name: "",
      rbac_permissions: [],
      tasks: [],
      parent: "",
      originator: "",
      client_certificate: false,
    },
    { all: false },
  );
}
