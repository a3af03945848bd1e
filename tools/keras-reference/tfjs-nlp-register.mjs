// `node --import ./tfjs-nlp-register.mjs script.mjs`: registers tfjs-nlp-resolve.mjs (see there).
import { register } from 'node:module';

register('./tfjs-nlp-resolve.mjs', import.meta.url);
