import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpuPerItem, sampleCpu } from '../../scripts/bench/cpu';
import { openLoop } from '../../scripts/bench/open-loop';
import { cpuSecondsOfStat } from '../../scripts/bench/process';

describe('cpuSecondsOfStat: a process CPU from /proc/<pid>/stat', () => {
  test('utime + stime in ticks of 1/100 s, counted after the command name, spaces and parentheses in it included', () => {
    // proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime ...
    const line =
      '4242 (node (bench) x) S 1 4242 4242 0 -1 4194560 9000 0 12 0 1234 567 0 0 20 0 11 0 100 0 0';
    expect(cpuSecondsOfStat(line)).toBeCloseTo(18.01, 10);
  });

  test("this process's own line reads as a number that grows with work", () => {
    const read = () => cpuSecondsOfStat(readFileSync('/proc/self/stat', 'utf8'));
    const before = read();
    expect(before).toBeGreaterThan(0);
    // Work until the kernel has counted at least two ticks more (bounded, should the box stall).
    let after = before;
    let x = 0;
    for (const until = Date.now() + 10_000; after < before + 0.02 && Date.now() < until; after = read())
      for (let i = 0; i < 100_000; i++) x += Math.sqrt(i);
    expect(x).toBeGreaterThan(0);
    expect(after).toBeGreaterThanOrEqual(before + 0.02);
  });

  test('a line that is not a stat line is refused, not read as 0', () => {
    expect(() => cpuSecondsOfStat('garbage')).toThrow(/not a \/proc stat line/);
  });
});

describe('sampleCpu: CPU by process group, under this process', () => {
  test("a child's group holds its own CPU, a live grandchild's and that of an exited, waited-for one (Postgres's backends)", async () => {
    // Burns `ms` of this process's CPU (not wall time: a loaded box must not shorten it).
    const burn = (ms: number) =>
      `const u=process.cpuUsage();let x=0;for(;;){for(let i=0;i<1e5;i++)x+=Math.sqrt(i);const c=process.cpuUsage(u);if((c.user+c.system)/1000>=${ms})break;}`;
    // The child runs grandchild A (400 ms of CPU, then exits and is reaped), then starts grandchild
    // B (200 ms of CPU, then it waits), and says B's pid once B has burnt.
    const script = [
      "const cp=require('node:child_process');",
      `cp.execFileSync(process.execPath,['-e',${JSON.stringify(burn(400))}]);`,
      `const b=cp.spawn(process.execPath,['-e',${JSON.stringify(`${burn(200)}console.log('burnt');setTimeout(()=>{},60000);`)}],{stdio:['ignore','pipe','inherit']});`,
      "b.stdout.on('data',()=>console.log('ready '+b.pid));",
      'setTimeout(()=>{},60000);',
    ].join('');
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let grandchild = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          const m = /ready (\d+)/.exec(c.toString());
          if (m) {
            grandchild = Number(m[1]);
            resolve();
          }
        });
        child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
      });
      const own = (pid: number) => cpuSecondsOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      // Read before the sample: CPU only grows, so the sample holds at least these.
      const [childOwn, bOwn] = [own(child.pid!), own(grandchild)];
      const sample = sampleCpu((pid) => (pid === child.pid ? 'child' : undefined));
      // B is under the child and in no group of its own: it counts as the child's.
      expect(bOwn).toBeGreaterThanOrEqual(0.18);
      expect(sample.groups.child).toBeGreaterThanOrEqual(childOwn + bOwn);
      // A is gone: only the child's cutime/cstime can hold its 0.4 s.
      expect(sample.groups.child! - childOwn - bOwn).toBeGreaterThanOrEqual(0.35);
      expect(sample.boxTotal).toBeGreaterThan(sample.boxBusy);
    } finally {
      if (grandchild) process.kill(grandchild, 'SIGKILL');
      child.kill('SIGKILL');
    }
  });

  test('cpuPerItem: milliseconds per item by group, the box share, and what ran outside the tree', () => {
    const before = { groups: { worker: 10, API: 5 }, boxBusy: 100, boxTotal: 400 };
    const after = {
      groups: { worker: 16, 'worker: main thread': 4, API: 6, Postgres: 2 },
      boxBusy: 112,
      boxTotal: 420,
    };
    // 200 items: worker 6 s (4 of them its main thread's, a breakdown, not added again), API 1 s,
    // Postgres 2 s (new since the first sample); box busy 12 of 20 s.
    expect(cpuPerItem(before, after, 200)).toEqual({
      perItemMs: { worker: 30, 'worker: main thread': 20, API: 5, Postgres: 10 },
      totalMs: 45,
      boxBusyShare: 0.6,
      outsideMs: 15,
    });
    // A group that lost CPU between the samples shows it, negative, rather than vanishing.
    expect(cpuPerItem(after, { ...after, groups: { worker: 16, API: 6 } }, 100).perItemMs.Postgres).toBe(-20);
  });
});

describe('openLoop: requests at a fixed rate, timed from when each was due', () => {
  test('each task starts at or after its due time, due times are evenly spaced, and a slow task does not hold back the next', async () => {
    const starts: Array<{ i: number; due: number; at: number }> = [];
    const out = await openLoop(5, 50, async (i, due) => {
      starts.push({ i, due, at: performance.now() });
      // The first task is slow: a closed loop would start the second only after it.
      if (i === 0) await new Promise((r) => setTimeout(r, 150));
      return i;
    });
    expect(out).toEqual([0, 1, 2, 3, 4]);
    expect(starts.map((s) => s.i)).toEqual([0, 1, 2, 3, 4]);
    for (const s of starts) expect(s.at).toBeGreaterThanOrEqual(s.due);
    for (let k = 1; k < starts.length; k++) expect(starts[k]!.due - starts[k - 1]!.due).toBeCloseTo(20, 6);
    // Task 1 was due 20 ms after task 0 and started long before task 0's 150 ms were over.
    expect(starts[1]!.at - starts[0]!.at).toBeLessThan(140);
  });
});
