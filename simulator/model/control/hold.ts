/**
 * Control op `hold`: once the `after`-th call matching `match` (a regular expression tested on the wire
 * name without `Async.`; every call when absent) has been answered, every later call waits before it
 * runs, and every call still running waits before its answer, until `release` closes their connections
 * (a held call never runs). With `holdAnswer`, the `after`-th call runs but its answer is held too (the
 * client dies not knowing). A test sees `tripped` and `held`, then kills its client at that exact point.
 */
import { DropConnection } from "../../api";
import type { CallLogEntry, Dispatcher } from "../dispatch";
import { type ControlOp, fail, optBool } from "./body";

interface Hold {
  after: number;
  match: RegExp | undefined;
  holdAnswer: boolean;
  answered: number;
  trippedBy: Pick<CallLogEntry, "seq" | "method" | "vm"> | undefined;
  waiting: { method: string; drop: () => void }[];
}

/** `after` and `match` of a body that arms a hold. */
function armingOf(body: Record<string, unknown>): { after: number; match: RegExp | undefined } {
  const after = body.after;
  if (typeof after !== "number" || !Number.isInteger(after) || after < 1)
    fail('"after" must be a positive integer');
  let match: RegExp | undefined;
  if (body.match !== undefined) {
    if (typeof body.match !== "string") fail('"match" must be a regular expression (a string)');
    try {
      match = new RegExp(body.match);
    } catch (error) {
      fail(`"match" is not a regular expression: ${(error as Error).message}`);
    }
  }
  return { after, match };
}

class HoldControl {
  private held: Hold | undefined;

  constructor(private readonly d: Dispatcher) {}

  status(): unknown {
    const held = this.held;
    return held === undefined
      ? { armed: false }
      : {
          armed: true,
          after: held.after,
          match: held.match?.source ?? null,
          holdAnswer: held.holdAnswer,
          answered: held.answered,
          tripped: held.trippedBy !== undefined,
          ...(held.trippedBy === undefined ? {} : { trippedBy: held.trippedBy }),
          held: held.waiting.map((w) => w.method),
        };
  }

  /** Disarms the hold and drops the connections of the calls it holds; returns how many. */
  release(): number {
    const waiting = this.held?.waiting ?? [];
    this.held = undefined;
    this.d.gate = undefined;
    for (const w of waiting) w.drop();
    return waiting.length;
  }

  private wait(state: Hold, method: string): Promise<void> {
    return new Promise((_resolve, reject) => {
      const drop = () =>
        reject(new DropConnection(`xapi-sim: ${method} was held, then dropped (control op hold)`));
      if (this.held === state) state.waiting.push({ method, drop });
      else drop();
    });
  }

  private arm(body: Record<string, unknown>): void {
    const { after, match } = armingOf(body);
    const holdAnswer = optBool(body, "holdAnswer") ?? false;
    this.release();
    const state: Hold = { after, match, holdAnswer, answered: 0, trippedBy: undefined, waiting: [] };
    this.held = state;
    this.d.gate = {
      before: (method) => (state.trippedBy === undefined ? Promise.resolve() : this.wait(state, method)),
      answered: (entry) => {
        if (state.trippedBy !== undefined) return this.wait(state, entry.method);
        const name = entry.method.replace(/^(Async|InternalAsync)\./, "");
        if (state.match === undefined || state.match.test(name)) state.answered += 1;
        if (state.answered === state.after) {
          state.trippedBy = {
            seq: entry.seq,
            method: entry.method,
            ...(entry.vm === undefined ? {} : { vm: entry.vm }),
          };
          if (state.holdAnswer) return this.wait(state, entry.method);
        }
        return Promise.resolve();
      },
    };
  }

  op(body: Record<string, unknown>): unknown {
    if (body.release === true) {
      const released = this.release();
      return { armed: false, released };
    }
    if (body.after !== undefined) this.arm(body);
    else if (Object.keys(body).length > 0) {
      fail("expected {after, match?, holdAnswer?} to arm, {release: true}, or {} for the status");
    }
    return this.status();
  }
}

export function holdOps(d: Dispatcher): { hold: ControlOp; releaseHold: () => number } {
  const control = new HoldControl(d);
  return { hold: (body) => control.op(body), releaseHold: () => control.release() };
}
