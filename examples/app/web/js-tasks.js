// The JavaScript-only pool's tasks: plain functions, exposed to the pool by
// the worker entries (worker-url.js, worker-bare.js).
export function sum(values) {
  return values.reduce((a, b) => a + b, 0);
}

export function shout(text) {
  return `${text.toUpperCase()}!`;
}
