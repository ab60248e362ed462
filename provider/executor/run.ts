/**
 * One run of the executor: plan, run the steps, re-plan when the VM is not where the plan expects it.
 * The module doc of `index.ts` says what each step does and which calls it makes; what follows a failed
 * call is decided by `onFailure` (`on-failure.ts`) and carried out here.
 */
import { backoffDelay, sleep } from "../client/backoff";
import type { XapiConnection } from "../client/connection";
import type { ObservedDisk, XapiBootFields } from "../model/boot";
import { applyBootSetter } from "../model/boot-fields";
import { rebuildsDomain } from "../model/lifecycle";
import type { PlanStep, Policy } from "../model/plan";
import { isSizingCall } from "../model/sizing-rules";
import { bootFieldsOf, readVmDisks, type VmDisk, type VmRecord } from "../model/vm-record";
import { LifecycleCall, PowerState, type VmRef } from "../model/vocabulary";
import { mayDiscardSuspendedState, planTransition } from "../planner";
import { PLAIN_CALLS, positionalArgs } from "./call-args";
import {
  bootFailureHint,
  causeOf,
  codeOf,
  ExecutionError,
  ExecutionErrorCode,
  errorText,
  escalationHint,
  stateConflictHint,
  suspendedEscalationHint,
} from "./errors";
import { describeEvent, type RunEvent, RunEventKind } from "./events";
import type { ConvergeOptions, ConvergeResult, ConvergeTarget, ExecutedStep } from "./index";
import { FailureDecision, type FailurePolicy, hardTwinOf, onFailure } from "./on-failure";
import { type RunOptions, runOptions } from "./options";
import { carryOutRestore, liftedBy, restoreStep } from "./restore";
import { setterWrite } from "./setter";
import { SizingKnowledge, sizingBuildHint, sizingFailure, waitsForBuild } from "./sizing";

const UNKNOWN_POWER_HINT = "Reading the power state failed; the VM's state is unknown.";

/** Thrown inside a run when the VM is not where the plan expects it. */
class Replan {
  constructor(readonly why: string) {}
}

export class Run {
  readonly #conn: XapiConnection;
  readonly #vm: { ref?: string | undefined; uuid: string };
  readonly #target: ConvergeTarget;
  readonly #policy: Policy;
  readonly #opts: RunOptions;
  #ref: VmRef | undefined;
  /** Last observed (or verified) power state. */
  #power: PowerState = PowerState.Halted;
  /** Boot fields as read, plus what this run wrote. */
  #boot!: XapiBootFields;
  /** The VM's VBDs by userdevice (ref and bootable flag), read only when bootable disks are declared. */
  #disks: Map<string, VmDisk> | undefined;
  /** The live domain runs an older boot config than `#boot`. */
  #stale = false;
  /** A domain was built during this run (consumes `forceRestart`). */
  #restarted = false;
  /** This run wrote a boot field. */
  #wroteBoot = false;
  readonly #done: ExecutedStep[] = [];
  #replans = 0;
  /** The caller's just-read record (`ConvergeOptions.record`), used once instead of the first read. */
  #given: VmRecord | undefined;
  /**
   * The state this run's last lifecycle step lifted the VM out of to Running (Paused by `VM.unpause`,
   * Suspended by `VM.resume`); `undefined` once any other lifecycle step ran. What a stopped run restores.
   */
  #lifted: PowerState | undefined;
  /** The VM was Suspended when the run began: its saved state must survive the run (no hard escalation). */
  #startedSuspended = false;
  /** `beforeLiveBootWrite` has run. */
  #hookCalled = false;
  /** vCPUs and memory as read plus written, and whether the live domain lags the record. */
  readonly #sizing: SizingKnowledge;

  constructor(
    conn: XapiConnection,
    vm: { ref?: string | undefined; uuid: string },
    target: ConvergeTarget,
    policy: Policy,
    opts: ConvergeOptions,
  ) {
    this.#conn = conn;
    this.#vm = vm;
    this.#target = target;
    this.#policy = policy;
    this.#ref = vm.ref as VmRef | undefined;
    this.#given = vm.ref === undefined ? undefined : opts.record;
    this.#opts = runOptions(opts);
    this.#sizing = new SizingKnowledge(opts.guest);
  }

  async execute(): Promise<ConvergeResult> {
    await this.#readRecord(true);
    this.#startedSuspended = this.#power === PowerState.Suspended;
    this.#stale = this.#power !== PowerState.Halted && this.#target.liveDomainBootStale === true;
    this.#sizing.stale = this.#power !== PowerState.Halted && this.#target.liveDomainSizingStale === true;
    try {
      await this.#converge();
    } catch (error) {
      if (error instanceof ExecutionError) throw await this.#restore(error);
      throw error;
    }
    return {
      vmRef: this.#ref as string,
      uuid: this.#vm.uuid,
      finalPowerState: this.#power,
      steps: this.#done,
      bootChangePending: this.#power !== PowerState.Halted && this.#stale,
      observedBoot: bootFieldsOf(this.#boot),
      ...this.#sizing.outcome(this.#target.sizing !== undefined, this.#power),
      ...(this.#disks === undefined ? {} : { observedDisks: this.#observedDisks() ?? [] }),
      replans: this.#replans,
    };
  }

  /** Plan, run, re-plan until the VM is where the target says, or throw. */
  async #converge(): Promise<void> {
    for (;;) {
      const steps = this.#plan();
      try {
        await this.#beforeLiveBootWrite(steps);
        for (const step of steps) await this.#runStep(step);
        return;
      } catch (error) {
        if (!(error instanceof Replan)) throw error;
        this.#replans++;
        await this.#emit({ kind: RunEventKind.replan, number: this.#replans, why: error.why });
        if (this.#replans > this.#opts.maxReplans) {
          throw this.#error(
            ExecutionErrorCode.REPLAN_LIMIT,
            `The VM kept moving under the plan (${error.why}); gave up after ${this.#opts.maxReplans} re-plans.`,
          );
        }
        await this.#readRecord(false);
      }
    }
  }

  /** After a stopped run: put back a state the VM only passed through (`carryOutRestore`, restore.ts). */
  #restore(failure: ExecutionError): Promise<ExecutionError> {
    return carryOutRestore(failure, restoreStep(this.#lifted, this.#target.powerState, this.#policy), {
      readPower: async () => {
        this.#power = await this.#conn.call<PowerState>("VM.get_power_state", this.#ref);
        return this.#power;
      },
      runLifecycle: (step) => this.#runLifecycle(step),
      emit: (event) => this.#emit(event),
      done: this.#done,
      whyFailed: (error) => (error instanceof Replan ? `${error.why}.` : `${errorText(causeOf(error))}.`),
    });
  }

  /**
   * Once per run, before the first boot setter on a live VM: the caller's hook (`ConvergeOptions
   * .beforeLiveBootWrite`) notes the change as pending where the next run sees it, so that a run stopped
   * between the setter and the restart that applies it (a kill, a crash) never loses the change.
   */
  async #beforeLiveBootWrite(steps: readonly PlanStep[]): Promise<void> {
    const hook = this.#opts.beforeLiveBootWrite;
    if (hook === undefined || this.#hookCalled || this.#power === PowerState.Halted) return;
    // What a kill before the rebuild could lose: boot setters, and sizing writes only a build applies.
    const setters = steps.filter((s) => s.kind === "set" && (!isSizingCall(s.call) || waitsForBuild(s)));
    if (setters.length === 0) return;
    this.#hookCalled = true;
    try {
      await hook(setters, this.#power);
    } catch (error) {
      throw this.#errorFrom(error, setters[0], undefined, "Noting the pending boot change on the VM failed.");
    }
  }

  /** Plan from the current observation. */
  #plan(): readonly PlanStep[] {
    const result = planTransition({
      observedPowerState: this.#power,
      observedBoot: this.#boot,
      declaredPowerState: this.#target.powerState,
      declaredBoot: this.#target.boot,
      observedDisks: this.#observedDisks(),
      liveDomainBootStale: this.#stale,
      forceRestart: this.#target.forceRestart === true && !this.#restarted,
      policy: this.#policy,
      canSetDomainType: this.#opts.canSetDomainType,
      ...this.#sizing.planInput(this.#target.sizing, this.#opts.availableSizingCalls),
    });
    if (!result.ok) throw this.#error(result.failure.code, result.failure.reason);
    return result.plan.steps;
  }

  async #readRecord(first: boolean): Promise<void> {
    const before = this.#power;
    let record: VmRecord;
    try {
      const given = first ? this.#given : undefined;
      this.#given = undefined;
      this.#ref ??= await this.#conn.call<VmRef>("VM.get_by_uuid", this.#vm.uuid);
      record = given ?? (await this.#conn.call<VmRecord>("VM.get_record", this.#ref));
    } catch (error) {
      throw this.#errorFrom(error, undefined, undefined, "Reading the VM failed.");
    }
    this.#power = record.power_state;
    this.#boot = bootFieldsOf(record);
    this.#sizing.read(record);
    if (this.#target.boot?.bootableUserdevices !== undefined) {
      try {
        this.#disks = await readVmDisks(this.#conn, record);
      } catch (error) {
        throw this.#errorFrom(error, undefined, undefined, "Reading the VM's disks failed.");
      }
    }
    if (!first) this.#observedMove(before);
  }

  #observedDisks(): ObservedDisk[] | undefined {
    if (this.#disks === undefined) return undefined;
    return [...this.#disks].map(([userdevice, d]) => ({ userdevice, bootable: d.bootable }));
  }

  /** Keep `#stale` honest after the power state was observed to differ from what the run expected. */
  #observedMove(expected: PowerState): void {
    if (this.#power === PowerState.Halted) this.#stale = false;
    // Someone else moved a VM whose fields this run rewrote: assume its domain may run the old config.
    else if (this.#power !== expected && this.#wroteBoot) this.#stale = true;
  }

  async #runStep(step: PlanStep): Promise<void> {
    if (this.#done.length >= this.#opts.maxSteps) {
      throw this.#error(
        ExecutionErrorCode.STEP_LIMIT,
        `Step limit reached: ${this.#opts.maxSteps} steps executed without converging.`,
        step,
      );
    }
    // A boot setter is legal in every state; a sizing setter and a lifecycle call only in `step.from`.
    if (step.kind === "set" && !isSizingCall(step.call)) return this.#runSetter(step);
    if (this.#power !== step.from) {
      throw new Replan(`expected ${step.from} before ${step.call}, observed ${this.#power}`);
    }
    return step.kind === "set" ? this.#runSetter(step) : this.#runLifecycle(step);
  }

  /**
   * A setter step, sent plain: `VM.set_<field>(vm, value)`, `VBD.set_bootable(<VBD at args.userdevice>,
   * value)` or a sizing setter with its positional arguments; skipped when the value is already there.
   * A sizing setter XAPI refuses because the VM moved re-plans like a lifecycle call.
   */
  async #runSetter(step: PlanStep): Promise<void> {
    const startedAt = new Date();
    const write = this.#writeOf(step);
    if (write.already) {
      await this.#emit({ kind: RunEventKind.skip, step });
      return this.#record(step, startedAt, { skipped: "already-set" });
    }
    await this.#emit({ kind: RunEventKind.step, number: this.#done.length + 1, step });
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#conn.call(step.call, ...write.args);
        break;
      } catch (error) {
        // A setter writes a value: sending it again is harmless (onFailure: retry, never a read).
        const decision = onFailure(step.call, error, this.#failurePolicy(), attempt);
        if (decision === FailureDecision.replanIfMoved) {
          const now = await this.#replanIfMoved(step, (now) => `${step.call} failed; the VM is now ${now}`);
          throw this.#errorFrom(error, step, ExecutionErrorCode.STATE_CONFLICT, stateConflictHint(now));
        }
        const told = sizingFailure(error, step);
        if (told !== undefined) throw this.#error(codeOf(error), told, step, undefined, error);
        if (decision !== FailureDecision.retry) throw this.#errorFrom(error, step);
        await this.#backoff(step, step.call, error, attempt);
      }
    }
    write.commit();
    await this.#record(step, startedAt, {});
  }

  /** What a setter sends after the method name, whether it is already done, and what the run learns after it. */
  #writeOf(step: PlanStep): { args: unknown[]; already: boolean; commit: () => void } {
    if (isSizingCall(step.call)) return this.#sizing.write(step, this.#ref, () => this.#power);
    const write = setterWrite(step, this.#ref as string, this.#boot, this.#disks);
    if (write === undefined) {
      // The planner only names disks it was shown; a missing one means the disks were not read.
      const detail = `No VBD at userdevice ${String(step.args.userdevice)} was read for this VM.`;
      throw this.#error(ExecutionErrorCode.UNKNOWN_DISK, detail, step);
    }
    const commit = () => {
      if (write.disk !== undefined) write.disk.bootable = write.value === true;
      else this.#boot = applyBootSetter(this.#boot, write.field, write.value);
      this.#wroteBoot = true;
      if (this.#power !== PowerState.Halted) this.#stale = true;
    };
    return { args: [write.ref, write.value], already: write.already, commit };
  }

  async #runLifecycle(step: PlanStep): Promise<void> {
    const startedAt = new Date();
    await this.#emit({ kind: RunEventKind.step, number: this.#done.length + 1, step });
    const planned = step.call as LifecycleCall;
    const call = await this.#send(step, planned, false);
    // The task succeeded: the VM is in the call's post-state (module doc, "Post-state"), the next step's pre-check.
    this.#power = step.to;
    // Only a lift to Running made by this very step is one a stopped run may undo.
    this.#lifted = liftedBy(call, step.from, step.to);
    this.#sizing.moved(call, step.to);
    if (rebuildsDomain(call)) {
      this.#restarted = true;
      this.#stale = false;
    }
    if (step.to === PowerState.Halted) this.#stale = false;
    if (call === planned) await this.#record(step, startedAt, {});
    else await this.#record({ ...step, call }, startedAt, { escalatedFrom: planned });
  }

  /**
   * Sends `call` for `step` until it succeeds, doing what {@link onFailure} decides after each failure.
   * `checked`: the power state was read (and equals `step.from`) since the last send. Returns the call
   * that completed the step (the hard twin after an escalation).
   */
  async #send(step: PlanStep, call: LifecycleCall, checked: boolean): Promise<LifecycleCall> {
    for (let attempt = 0; ; attempt++) {
      // hard_shutdown is also legal on a Suspended VM (it discards the image): check right before EVERY
      // send, retries included (the operation that made XAPI refuse the first one may have been a suspend).
      if (!checked && call === LifecycleCall.hardShutdown && !mayDiscardSuspendedState(this.#policy)) {
        await this.#replanIfMoved(
          step,
          (now) => `before VM.hard_shutdown: expected ${step.from}, observed ${now}`,
        );
      }
      checked = false;
      try {
        const args = [this.#ref, ...positionalArgs(call, step.args)];
        if (PLAIN_CALLS.has(call)) await this.#conn.call(call, ...args);
        else await this.#conn.callAsync(call, args, { timeoutMs: this.#opts.operationTimeoutMs });
        return call;
      } catch (error) {
        const decision = onFailure(call, error, this.#failurePolicy(), attempt);
        const code = codeOf(error);
        switch (decision) {
          case FailureDecision.retry:
            await this.#backoff(step, call, error, attempt);
            break;
          case FailureDecision.retryIfUnmoved:
            // Read after the backoff, so that the observation is the one right before the re-send.
            await this.#backoff(step, call, error, attempt);
            await this.#replanIfMoved(step, (now) => `${call} hit a network failure; the VM is now ${now}`);
            checked = true;
            break;
          case FailureDecision.escalate:
            return this.#escalate(step, call, code);
          case FailureDecision.replanIfMoved: {
            const now = await this.#replanIfMoved(
              step,
              (now) => `${call} failed with ${code}; the VM is now ${now}`,
            );
            throw this.#errorFrom(error, step, ExecutionErrorCode.STATE_CONFLICT, stateConflictHint(now));
          }
          default:
            throw this.#errorFrom(error, step, undefined, this.#stopHint(decision, call, error));
        }
      }
    }
  }

  /** The clean call failed for good: done after all, moved (re-plan), or the hard twin is sent. */
  async #escalate(step: PlanStep, call: LifecycleCall, code: string): Promise<LifecycleCall> {
    const twin = hardTwinOf(call);
    if (twin === undefined) throw new TypeError(`${call} has no hard twin`);
    // Did the clean call complete after all (e.g. it finished as the timeout hit)?
    const now = await this.#readPower(step, step.from);
    if (now === step.to && call === LifecycleCall.cleanShutdown) return call;
    if (now !== step.from) throw new Replan(`${call} failed with ${code}; the VM is now ${now}`);
    await this.#emit({ kind: RunEventKind.escalate, step, from: call, to: twin, code });
    return this.#send(step, twin, true);
  }

  #stopHint(decision: FailureDecision, call: LifecycleCall, error: unknown): string | undefined {
    const twin = hardTwinOf(call) ?? "a hard call";
    if (decision === FailureDecision.stopNoEscalation) return escalationHint(twin, codeOf(error));
    if (decision === FailureDecision.stopKeepSuspendedImage) return suspendedEscalationHint(call, twin);
    const vm = { boot: this.#boot, disks: this.#observedDisks() };
    return sizingBuildHint(error) ?? bootFailureHint(error, call, vm);
  }

  #failurePolicy(): FailurePolicy {
    return { ...this.#policy, retries: this.#opts.retries, startedSuspended: this.#startedSuspended };
  }

  /** One power-state read; re-plan (with `why(now)`) unless the VM is still in `step.from`. */
  async #replanIfMoved(step: PlanStep, why: (now: PowerState) => string): Promise<PowerState> {
    const now = await this.#readPower(step, step.from);
    if (now !== step.from) throw new Replan(why(now));
    return now;
  }

  /**
   * One `VM.get_power_state`. `expected` is where the run believes the VM is at this read (`step.from`
   * before the call, `step.to` after it): only a different answer is a move made by someone else.
   */
  async #readPower(step: PlanStep, expected: PowerState): Promise<PowerState> {
    try {
      this.#power = await this.#conn.call<PowerState>("VM.get_power_state", this.#ref);
    } catch (error) {
      throw this.#errorFrom(error, step, undefined, UNKNOWN_POWER_HINT);
    }
    if (this.#power !== expected) this.#observedMove(expected);
    return this.#power;
  }

  async #backoff(step: PlanStep, call: string, error: unknown, attempt: number): Promise<void> {
    const delayMs = backoffDelay(this.#opts.retryBackoff, attempt);
    await this.#emit({ kind: RunEventKind.retry, step, call, attempt, code: codeOf(error), delayMs });
    await sleep(delayMs);
  }

  /** Tells the caller: one log line, then the typed event (awaited, so a test can act at that instant). */
  async #emit(event: RunEvent): Promise<void> {
    this.#opts.log(describeEvent(event));
    await this.#opts.onEvent?.(event);
  }

  async #record(
    step: PlanStep,
    startedAt: Date,
    extra: Pick<ExecutedStep, "escalatedFrom" | "skipped">,
  ): Promise<void> {
    const executed: ExecutedStep = {
      ...step,
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      ...extra,
    };
    this.#done.push(executed);
    await this.#emit({ kind: RunEventKind.done, step: executed });
  }

  #error(code: string, detail: string, step?: PlanStep, hint?: string, cause?: unknown): ExecutionError {
    const vm = { uuid: this.#vm.uuid, ref: this.#ref };
    return new ExecutionError({ vm, code, detail, done: [...this.#done], step, hint, cause });
  }

  #errorFrom(error: unknown, step?: PlanStep, code?: string, hint?: string): ExecutionError {
    if (error instanceof ExecutionError) return error;
    return this.#error(code ?? codeOf(error), `${errorText(error)}.`, step, hint, error);
  }
}
