import { readFileSync } from 'node:fs';
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
