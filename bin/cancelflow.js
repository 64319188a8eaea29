#!/usr/bin/env node
'use strict';
// The `cancelflow` command: runs the compiled CLI when built (dist/), else the TypeScript source via tsx.
const path = require('node:path');
const { existsSync } = require('node:fs');
const { spawnSync } = require('node:child_process');

const compiled = path.join(__dirname, '..', 'dist', 'client', 'cli.js');
const args = existsSync(compiled)
  ? [compiled, ...process.argv.slice(2)]
  : ['--import', 'tsx', path.join(__dirname, '..', 'client', 'cli.ts'), ...process.argv.slice(2)];
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(result.status ?? 1);
