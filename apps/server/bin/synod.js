#!/usr/bin/env node
// The `synod` executable. It runs the compiled app: `npm start` (or `npm run build`) first.
import {main} from '../dist/main.js';

process.exitCode = main(process.argv.slice(2));
