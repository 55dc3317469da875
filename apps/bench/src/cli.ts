/** Runs `synod-bench` from the sources: `node --conditions=@synod/source --import tsx cli.ts`. */
import {main} from './main.js';

process.exitCode = await main(process.argv.slice(2));
