import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpuPerItem, sampleCpu } from '../../scripts/bench/cpu';
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
  test("a child's group holds its CPU and that of its exited, waited-for child (Postgres's backends)", async () => {
    // The child runs a grandchild that burns ~0.4 s of CPU and exits, then waits to be sampled.
    const burn = 'const u=Date.now()+400;let x=0;while(Date.now()<u)x+=Math.sqrt(x+1);';
    const script = `require('node:child_process').execFileSync(process.execPath,['-e',${JSON.stringify(burn)}]);console.log('burnt');setTimeout(()=>{},60000);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => c.toString().includes('burnt') && resolve());
        child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
      });
      const sample = sampleCpu((pid) => (pid === child.pid ? 'child' : undefined));
      // The grandchild is gone: only its parent's cutime/cstime can hold its 0.4 s.
      expect(sample.groups.child).toBeGreaterThanOrEqual(0.3);
      expect(sample.boxTotal).toBeGreaterThan(sample.boxBusy);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('cpuPerItem: milliseconds per item by group, the box share, and what ran outside the tree', () => {
    const before = { groups: { worker: 10, API: 5 }, boxBusy: 100, boxTotal: 400 };
    const after = { groups: { worker: 16, API: 6, Postgres: 2 }, boxBusy: 112, boxTotal: 420 };
    // 200 items: worker 6 s, API 1 s, Postgres 2 s (new since the first sample); box busy 12 of 20 s.
    expect(cpuPerItem(before, after, 200)).toEqual({
      perItemMs: { worker: 30, API: 5, Postgres: 10 },
      totalMs: 45,
      boxBusyShare: 0.6,
      outsideMs: 15,
    });
  });
});
