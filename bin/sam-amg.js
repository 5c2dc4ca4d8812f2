#!/usr/bin/env node
// Thin launcher: the CLI lives in src/cli (compiled to dist/ by `npm ci`'s prepare step or `npm run build`).
import { main } from '../dist/src/cli/main.js';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`sam-amg: ${err instanceof Error ? err.message : String(err)}\n`); process.exitCode = 2; },
);
