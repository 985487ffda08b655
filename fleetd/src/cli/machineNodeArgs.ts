/**
 * The node flags of a local cluster's machine processes (`fleetd local` on etcd): fleetd's own,
 * plus V8's baseline tier only (`--max-opt=1`: Ignition and Sparkplug, no TurboFan).
 *
 * The machine processes are N copies of one program on one host. With V8's defaults each of them
 * compiles the same hot functions with TurboFan in its first seconds, which is when a local
 * cluster is busiest: measured on 2 CPUs with 10 machines and 1,000 units submitted at once,
 * the optimizing compiler took a sixth of the machine processes' CPU (bench/README.md, "Fast
 * submits, the third evening"). Their work is I/O around etcd, the units' processes and their
 * files, and the baseline tier runs it as fast once warm: a second round of 1,000 units on the
 * same cluster, and the idle cluster, cost no more CPU without TurboFan than with it. The API
 * process (`fleetd local` itself) keeps V8's defaults: its list reads are the hot loops the
 * optimizing compiler is for.
 *
 * A `--max-opt` of the user's own (on fleetd's command line or in NODE_OPTIONS) wins.
 */
export const MACHINE_MAX_OPT = '--max-opt=1';

export function machineNodeArgs(execArgv: readonly string[], nodeOptions = ''): string[] {
  const given = (args: readonly string[]) => args.some(a => /^--max[-_]opt(=|$)/.test(a));
  if (given(execArgv) || given(nodeOptions.split(/\s+/))) return [...execArgv];
  return [...execArgv, MACHINE_MAX_OPT];
}
