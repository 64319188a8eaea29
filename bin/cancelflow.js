#!/usr/bin/env node
'use strict';
// The `cancelflow` command: runs the compiled CLI when built (dist/), else the TypeScript source via tsx.
const path = require('node:path');
const { existsSync } = require('node:fs');
const { spawnSync } = require('node:child_process');
const { pathToFileURL } = require('node:url');

const compiled = path.join(__dirname, '..', 'dist', 'client', 'cli.js');
const args = existsSync(compiled)
  ? [compiled, ...process.argv.slice(2)]
  : [
      // tsx resolved from this checkout, not from the caller's directory (the CLI runs from anywhere).
      '--import',
      pathToFileURL(require.resolve('tsx', { paths: [path.join(__dirname, '..')] })).href,
      path.join(__dirname, '..', 'client', 'cli.ts'),
      ...process.argv.slice(2),
    ];
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(result.status ?? 1);
