#!/usr/bin/env node
// The `synod-bench` executable. It runs the compiled app: `npm run build` first.
import {main} from '../dist/main.js';

process.exitCode = await main(process.argv.slice(2));
