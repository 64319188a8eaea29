/**
 * Where the box's CPU goes during a pass: CPU seconds per process group of the bench's own process
 * tree (the Temporal server, Postgres, the worker, the API, and the bench itself: load generator,
 * sandboxes, notification receiver, Temporal client), read from /proc before and after the pass.
 * On a box the pass saturates, items per second ≈ cores ÷ CPU per item, so the split says which
 * part of a cancellation's cost a ratio to the platform's unit is made of.
 *
 * proc(5) counts in USER_HZ ticks, 100 per second on Linux x86 and arm64 (as process.ts assumes).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpuSecondsOfStat } from './process';

export type CpuSample = { groups: Record<string, number>; boxBusy: number; boxTotal: number };

/** One /proc/<pid>/stat: parent, command name, own CPU and that of its exited, waited-for children. */
function readStat(file: string): { ppid: number; comm: string; own: number; waited: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(file, 'utf8');
  } catch {
    return undefined; // gone between the listing and the read
  }
  const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // proc(5): ppid is field 4, cutime and cstime fields 16 and 17 (here 1, 13, 14 after the name).
  const waited = (Number(fields[13]) + Number(fields[14])) / 100;
  return { ppid: Number(fields[1]), comm, own: cpuSecondsOfStat(stat), waited };
}

/** The box's busy and total CPU seconds so far, all cores (/proc/stat's first line), steal left out. */
function boxSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  // user nice system idle iowait irq softirq (steal: time the hypervisor gave another guest)
  const ticks = line.trim().split(/\s+/).slice(1, 8).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = ticks[3]! + ticks[4]!; // idle + iowait
  return { busy: (total - idle) / 100, total: total / 100 };
}

/**
 * A process's CPU by thread: its main thread, its tokio runtime threads (the Temporal SDK's core),
 * and the rest (the workflow thread, V8's and libuv's helpers, and threads that have exited).
 */
function threadsOf(pid: number, total: number): Record<string, number> {
  const out: Record<string, number> = { 'main thread': 0, tokio: 0 };
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    // gone: all of it is "other threads"
  }
  for (const tid of tids) {
    const t = readStat(`/proc/${pid}/task/${tid}/stat`);
    if (!t) continue;
    if (tid === String(pid)) out['main thread']! += t.own;
    else if (t.comm.startsWith('tokio')) out.tokio! += t.own;
  }
  out['other threads'] = total - out['main thread']! - out.tokio!;
  return out;
}

/**
 * CPU seconds so far of every live process under this one (its exited, waited-for children's
 * included), summed by `groupOf`: a process's group is its own, or else its nearest grouped
 * ancestor's (Postgres's backends count as Postgres); this process is "bench" and what is under it
 * in no group "other". A process in `splitThreads` is also given by thread ("worker: main thread").
 */
export function sampleCpu(
  groupOf: (pid: number, comm: string) => string | undefined,
  splitThreads: ReadonlySet<number> = new Set(),
): CpuSample {
  const procs = new Map<number, { ppid: number; comm: string; own: number; waited: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(`/proc/${name}/stat`);
    if (s) procs.set(Number(name), s);
  }
  const groups: Record<string, number> = {};
  for (const [pid, s] of procs) {
    let group: string | undefined;
    let under = false;
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = procs.get(p)?.ppid) {
      const at = procs.get(p);
      if (!at) break;
      if (p === process.pid) {
        under = true;
        break;
      }
      group ??= groupOf(p, at.comm);
    }
    if (!under && pid !== process.pid) continue;
    const key = pid === process.pid ? 'bench' : (group ?? 'other');
    const seconds = s.own + s.waited;
    groups[key] = (groups[key] ?? 0) + seconds;
    if (splitThreads.has(pid))
      for (const [thread, t] of Object.entries(threadsOf(pid, s.own)))
        groups[`${key}: ${thread}`] = (groups[`${key}: ${thread}`] ?? 0) + t;
  }
  const box = boxSeconds();
  return { groups, boxBusy: box.busy, boxTotal: box.total };
}

/**
 * CPU milliseconds per item by group between two samples, and how busy the box was. A group in
 * either sample counts; one that lost CPU (a process gone whose CPU no parent in the tree collected)
 * shows as a negative number rather than vanishing. Thread rows ("group: thread") are a breakdown
 * of their group and are not added to the total.
 */
export function cpuPerItem(before: CpuSample, after: CpuSample, items: number) {
  const perItemMs: Record<string, number> = {};
  let total = 0;
  for (const group of new Set([...Object.keys(before.groups), ...Object.keys(after.groups)])) {
    const used = (after.groups[group] ?? 0) - (before.groups[group] ?? 0);
    perItemMs[group] = Number(((used * 1000) / items).toFixed(1));
    if (!group.includes(': ')) total += used;
  }
  const boxBusy = after.boxBusy - before.boxBusy;
  return {
    perItemMs,
    totalMs: Number(((total * 1000) / items).toFixed(1)),
    /** The box's busy share over the pass, all cores (1 = saturated). */
    boxBusyShare: Number((boxBusy / (after.boxTotal - before.boxTotal)).toFixed(2)),
    /** Busy CPU outside this process tree, per item (other processes, the kernel's own threads). */
    outsideMs: Number((((boxBusy - total) * 1000) / items).toFixed(1)),
  };
}

export type CpuSplit = ReturnType<typeof cpuPerItem> & { label: string; concurrency: number };
