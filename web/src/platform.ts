// Where this code runs, and Node's built-in modules for the Node paths.
//
// Node is told apart by process.versions.node, never by the absence of
// document: a Web Worker has no document either.
export const isNode = typeof process !== 'undefined' && typeof process.versions === 'object' && typeof process.versions.node === 'string';

/**
 * A Node built-in module ('node:os'), for code that runs only under Node.
 * The name is a parameter, so that a browser bundler (esbuild, Vite,
 * webpack) never tries to resolve or bundle it, and the comments keep
 * webpack and Vite from warning about an import they cannot follow.
 */
export function nodeModule<T>(name: string): Promise<T> {
  return import(/* webpackIgnore: true */ /* @vite-ignore */ name) as Promise<T>;
}
