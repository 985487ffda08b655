/**
 * The process unit manager's job queue: systemd's jobs for the units of one machine. A start or a
 * stop becomes a transaction (dependencies.ts decides which jobs), jobs run when the jobs they are
 * ordered after are done (After=/Before=), a failed start fails the starts that require it, and
 * a unit going inactive stops the units bound to it (BindsTo=). A transaction that cannot be built
 * (a required unit missing, an ordering cycle) leaves the unit as it is, with the reason in its
 * state detail; it never blocks the other units.
 */
import {
  boundToInactive,
  failedDependents,
  planStart,
  planStop,
  runnableJobs,
  startCheck,
  type Activity,
  type Job,
  type Machine,
  type PlanUnit,
} from './dependencies';
import type { Service } from './service';
import type { Log } from '../../../protocol/src/log';

interface QueuedJob extends Job {
  /** Resolved when the job finished or was replaced. */
  waiters: (() => void)[];
  /** A start job that saw its unit activating (so inactive afterwards means it finished). */
  sawActivating?: boolean;
  done?: boolean;
}

export interface JobHost {
  service(name: string): Service | undefined;
  services(): Iterable<Service>;
  log: Log;
}

export class JobQueue {
  private queued: QueuedJob[] = [];
  private running: QueuedJob[] = [];
  private settleScheduled = false;
  private afterSettle: (() => void)[] = [];
  /**
   * Units whose start was refused (a required unit not loaded, an ordering cycle). fleet's agent
   * retries a failed StartUnit on every pass; here the start is retried whenever a unit is loaded
   * or replaced (retryRefused), which is when the answer can change, without failing the pass.
   */
  private readonly refused = new Set<string>();

  constructor(private readonly host: JobHost) {}

  /** The machine's units with their states and jobs, as the planner sees them. */
  machine(): Machine {
    const m = new Map<string, PlanUnit>();
    const jobs = new Map<string, Job>();
    // A running job wins over a queued one for the same unit (it is what the unit is doing now).
    for (const j of [...this.queued, ...this.running]) jobs.set(j.unit, j);
    for (const s of this.host.services()) {
      const job = jobs.get(s.name);
      m.set(s.name, { name: s.name, deps: s.config.deps, state: s.activeState as Activity, ...(job ? { job: job.type } : {}) });
    }
    return m;
  }

  /** systemctl start: queues the transaction's jobs; resolves once they were dispatched (the start is under way), not when the unit is up. */
  start(name: string): Promise<void> {
    const t = planStart(this.machine(), name);
    if (!t.ok) {
      this.refused.add(name);
      this.host.service(name)?.note(`Failed to start ${name}: ${t.error}`);
      this.host.log('warn', `start of ${name} refused: ${t.error}`);
      return Promise.resolve();
    }
    this.refused.delete(name);
    for (const n of t.notes) this.host.service(n.unit)?.note(n.text);
    for (const j of t.jobs) this.install(j);
    const dispatched = new Promise<void>(resolve => this.afterSettle.push(resolve));
    this.changed(name);
    return dispatched;
  }

  /** systemctl stop: stops the unit and what depends on it; resolves when the unit's stop job is done (or replaced by a start). */
  stop(name: string): Promise<void> {
    this.refused.delete(name);
    const jobs = planStop(this.machine(), name).map(j => this.install(j));
    const anchor = jobs[0]!;
    const done = new Promise<void>(resolve => anchor.waiters.push(resolve));
    this.changed(name);
    return done;
  }

  /**
   * A unit's state changed (called synchronously from the service), or jobs were queued. Jobs run
   * on the next turn, as systemd's run queue: jobs queued together are ordered together.
   */
  changed(name: string): void {
    for (const j of this.running) if (j.unit === name && j.type === 'start') this.checkStart(j);
    if (this.settleScheduled) return;
    this.settleScheduled = true;
    // Later, as systemd's stop-when-bound queue: a service on its way to an automatic restart
    // passes through failed and is activating again by then, so its bound units keep running.
    setImmediate(() => {
      this.settleScheduled = false;
      this.settle();
    });
  }

  /** A unit was loaded or replaced: the starts refused so far are tried again. */
  retryRefused(): void {
    for (const name of [...this.refused]) {
      if (!this.host.service(name)) this.refused.delete(name);
      else void this.start(name);
    }
  }

  /** The jobs queued or running, for tests and diagnostics. */
  jobs(): Job[] {
    return [...this.running, ...this.queued].map(j => ({ unit: j.unit, type: j.type }));
  }

  private settle(): void {
    const machine = this.machine();
    // Only units something is bound to can stop others (most machines have none: no O(n²) scan).
    const boundTo = new Set([...machine.values()].flatMap(u => u.deps.BindsTo));
    for (const name of boundTo) {
      const u = machine.get(name);
      if (!u) continue;
      for (const bound of boundToInactive(machine, u.name)) {
        this.host.log('info', `${bound} is bound to inactive unit ${u.name}: stopping it too (BindsTo=)`);
        void this.stop(bound).then(() =>
          this.host.service(bound)?.note(`stopped because it is bound to ${u.name}, which is ${machine.get(u.name)?.state} (BindsTo=)`),
        );
      }
    }
    this.dispatch();
    for (const resolve of this.afterSettle.splice(0)) resolve();
  }

  /** A job joins the queue: the same job merges, a different one replaces the unit's queued job. */
  private install(job: Job): QueuedJob {
    const replaced = this.queued.find(j => j.unit === job.unit && j.type !== job.type);
    if (replaced) {
      this.queued = this.queued.filter(j => j !== replaced);
      replaced.done = true;
      this.resolve(replaced);
    }
    const same = [...this.running, ...this.queued].find(j => j.unit === job.unit && j.type === job.type);
    if (same) return same;
    const q: QueuedJob = { ...job, waiters: [] };
    this.queued.push(q);
    return q;
  }

  private dispatch(): void {
    // Bounded: every round moves at least one job from queued to running or finished.
    for (let round = 0; round <= this.queued.length + 1 && this.queued.length > 0; round++) {
      const machine = this.machine();
      const { jobs, cycle } = runnableJobs(machine, this.queued, this.running);
      if (cycle) {
        const first = jobs[0]!;
        this.host
          .service(first.unit)
          ?.note(`ordering cycle between jobs: ${cycle} (After=/Before=); systemd would leave them waiting, ${first.unit}/${first.type} ran first`);
      }
      let moved = false;
      for (const job of jobs as QueuedJob[]) {
        if (job.type === 'start') {
          const check = startCheck(machine, job.unit);
          if (check === 'wait') continue;
          this.queued = this.queued.filter(j => j !== job);
          moved = true;
          if (check !== undefined) {
            this.host.service(job.unit)?.note(check);
            this.finish(job, false);
            continue;
          }
          this.running.push(job);
          const svc = this.host.service(job.unit);
          if (!svc) {
            this.finish(job, false);
            continue;
          }
          svc.start();
          this.checkStart(job);
        } else {
          this.queued = this.queued.filter(j => j !== job);
          moved = true;
          this.running.push(job);
          const svc = this.host.service(job.unit);
          const stopped = svc ? svc.stop() : Promise.resolve();
          void stopped.then(
            () => this.finish(job, true),
            () => this.finish(job, false),
          );
        }
      }
      if (!moved) return;
    }
  }

  /** A running start job is done when its unit leaves activating: active (or a oneshot that finished) is success. */
  private checkStart(job: QueuedJob): void {
    const svc = this.host.service(job.unit);
    if (!svc) return this.finish(job, false);
    const s = svc.activeState;
    if (s === 'activating' || s === 'deactivating') {
      if (s === 'activating') job.sawActivating = true;
      return;
    }
    if (s === 'active') return this.finish(job, true);
    if (s === 'failed') return this.finish(job, false);
    if (job.sawActivating) this.finish(job, svc.result === 'success');
  }

  private finish(job: QueuedJob, ok: boolean): void {
    if (job.done) return;
    job.done = true;
    this.running = this.running.filter(j => j !== job);
    this.queued = this.queued.filter(j => j !== job);
    if (!ok && job.type === 'start') {
      // systemd: "Dependency failed for …": the starts waiting on this one fail without running.
      for (const d of failedDependents(this.machine(), job.unit)) {
        const pending = this.queued.find(j => j.unit === d && j.type === 'start');
        if (!pending) continue;
        this.queued = this.queued.filter(j => j !== pending);
        pending.done = true;
        this.host.service(d)?.note(`Dependency failed for ${d}: ${job.unit} did not start`);
        this.resolve(pending);
      }
    }
    this.resolve(job);
    this.changed(job.unit);
  }

  private resolve(job: QueuedJob): void {
    for (const w of job.waiters.splice(0)) w();
  }
}
