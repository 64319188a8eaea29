/**
 * Where the box's CPU goes during a pass: CPU seconds per process group of the bench's own process
 * tree (the Temporal server, Postgres, the worker, the API, and the bench itself: load generator,
 * sandboxes, notification receiver, Temporal client), read from /proc before and after the pass.
 * On a box the pass saturates, items per second ≈ cores ÷ CPU per item, so the split says which
 * part of a cancellation's cost a ratio to the platform's unit is made of.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpuSecondsOfStat } from './process';

export type CpuSample = { groups: Record<string, number>; boxBusy: number; boxTotal: number };

/** One /proc/<pid>/stat: parent, command name, own CPU and that of its exited, waited-for children. */
function readStat(pid: number): { ppid: number; comm: string; seconds: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone between the listing and the read
  }
  const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // proc(5): ppid is field 4, cutime and cstime fields 16 and 17 (here 1, 13, 14 after the name).
  const waited = (Number(fields[13]) + Number(fields[14])) / 100;
  return { ppid: Number(fields[1]), comm, seconds: cpuSecondsOfStat(stat) + waited };
}

/** The box's busy and total CPU seconds so far, all cores (/proc/stat's first line). */
function boxSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = ticks[3]! + ticks[4]!; // idle + iowait
  return { busy: (total - idle) / 100, total: total / 100 };
}

/**
 * CPU seconds so far of every live process under this one, summed by `groupOf` (a process's group
 * is its own, or else its nearest grouped ancestor's: Postgres's backends count as Postgres).
 */
export function sampleCpu(groupOf: (pid: number, comm: string) => string | undefined): CpuSample {
  const procs = new Map<number, { ppid: number; comm: string; seconds: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) procs.set(Number(name), s);
  }
  const groups: Record<string, number> = {};
  for (const [pid, s] of procs) {
    let group: string | undefined;
    let under = false;
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = procs.get(p)?.ppid) {
      const at = procs.get(p);
      if (!at) break;
      group ??= groupOf(p, at.comm);
      if (p === process.pid) {
        under = true;
        break;
      }
    }
    if (!under) continue;
    const key = group ?? 'other';
    groups[key] = (groups[key] ?? 0) + s.seconds;
  }
  const box = boxSeconds();
  return { groups, boxBusy: box.busy, boxTotal: box.total };
}

/** CPU milliseconds per item by group between two samples, and how busy the box was. */
export function cpuPerItem(before: CpuSample, after: CpuSample, items: number) {
  const perItemMs: Record<string, number> = {};
  let total = 0;
  for (const [group, seconds] of Object.entries(after.groups)) {
    const used = Math.max(0, seconds - (before.groups[group] ?? 0));
    perItemMs[group] = Number(((used * 1000) / items).toFixed(1));
    total += used;
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
