// A small JIT workload for `node --perf-basic-prof` (which writes /tmp/perf-PID.map).
'use strict';
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
function hashStrings(n) {
  let h = 0;
  for (let i = 0; i < n; i++) { const s = 'k' + i; for (let j = 0; j < s.length; j++) h = (h * 31 + s.charCodeAt(j)) | 0; }
  return h;
}
const matchers = [/a+b*c?/, /[&<>"']/g];
function regexWork(n) { let c = 0; for (let i = 0; i < n; i++) c += matchers[i % 2].test('aaabc<"x">' + i) ? 1 : 0; return c; }
const end = Date.now() + 1000 * Number(process.argv[2] || 1);
let acc = 0;
while (Date.now() < end) acc += fib(22) + hashStrings(2000) + regexWork(2000);
console.log(acc);
