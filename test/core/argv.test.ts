/**
 * No secret on a command line: /proc/PID/cmdline is readable by every local
 * user, so the token, a handoff secret or a sign-in ticket in the arguments
 * of a process Berth starts would be theirs too. This reads every call that
 * starts a process or hands an address to the system (spawn, execFile, exec,
 * fork, shell.openExternal, openPath) in the shipped code, follows the names
 * in its arguments back to where they are made (in the same file: variables,
 * local functions, and a function's parameters to its call sites), and
 * fails on any word that names a secret. The environment a child gets is not
 * read (/proc/PID/environ is its owner's alone).
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers';

/** Calls that start a process or open an address, and how many of their first arguments end up on a command line. */
const CALLS: Record<string, number> = {
  spawn: 2,
  spawnSync: 2,
  execFile: 2,
  execFileSync: 2,
  exec: 1,
  execSync: 1,
  fork: 2,
  openExternal: 1,
  openPath: 1,
  // app/lifecycle/successor-process.ts: spawns the successor on a worker thread, from code in a string this check cannot read.
  startSuccessor: 2,
};

/** What a secret is called in this code. */
const SECRET = /token|secret|passw|cookie|credential|ticket|proof/i;

/**
 * Functions that take a secret and give back something that may go on a
 * command line. Each one says why in its own module.
 */
const SAFE = new Set([
  // app/server/sign-in.ts: writes the sign-in page (0600, in the data folder) and returns its file:// URL.
  'writeSignInPage',
]);

const SHIPPED = ['app', 'main', 'bin', 'scripts', 'build'];

function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules') walk(p);
      } else if (/\.(ts|js|mjs|cjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const d of SHIPPED) if (fs.existsSync(path.join(ROOT, d))) walk(path.join(ROOT, d));
  return out;
}

/** The shipped sources as one program, so that a name can be followed to its declaration, across files. */
function program(files: string[]): ts.Program {
  const config = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile).config as { compilerOptions: object };
  const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions, ROOT);
  // Node's own types are not needed to follow Berth's names, and loading them would take most of the time.
  return ts.createProgram(files, { ...options, allowJs: true, checkJs: false, noEmit: true, types: [] });
}

function calleeName(e: ts.Expression): string | null {
  if (ts.isIdentifier(e)) return e.text;
  // exec and execSync as methods are RegExp.prototype.exec far more often than child_process: only the plain call counts.
  if (ts.isPropertyAccessExpression(e) && !['exec', 'execSync'].includes(e.name.text)) return e.name.text;
  return null;
}

class Tracer {
  private readonly checker: ts.TypeChecker;
  /** Every call in the program, by the function it calls. */
  private readonly calls = new Map<ts.Symbol, ts.CallExpression[]>();
  constructor(private readonly prog: ts.Program) {
    this.checker = prog.getTypeChecker();
    for (const file of this.ownFiles()) {
      const visit = (n: ts.Node) => {
        if (ts.isCallExpression(n)) {
          const target = this.symbolOf(n.expression);
          if (target) this.calls.set(target, [...(this.calls.get(target) ?? []), n]);
        }
        ts.forEachChild(n, visit);
      };
      visit(file);
    }
  }

  ownFiles(): ts.SourceFile[] {
    return this.prog.getSourceFiles().filter((f) => !f.isDeclarationFile && !f.fileName.includes('/node_modules/'));
  }

  private symbolOf(n: ts.Node): ts.Symbol | undefined {
    const at = ts.isPropertyAccessExpression(n) ? n.name : n;
    let s = ts.isShorthandPropertyAssignment(at.parent) && at.parent.name === at ? this.checker.getShorthandAssignmentValueSymbol(at.parent) : this.checker.getSymbolAtLocation(at);
    if (s && s.flags & ts.SymbolFlags.Alias) s = this.checker.getAliasedSymbol(s);
    return s;
  }

  /** The text an expression is made of, with each name followed to where its value is made. */
  expand(start: ts.Node, depth = 0, seen = new Set<ts.Node>()): string {
    if (depth > 8 || seen.has(start)) return '';
    seen.add(start);
    let text = '';
    const visit = (n: ts.Node) => {
      if (ts.isCallExpression(n) && SAFE.has(calleeName(n.expression) ?? '')) {
        text += ' <safe call> ';
        return;
      }
      if (ts.isIdentifier(n)) {
        text += ` ${n.text} `;
        for (const origin of this.originsOf(n)) text += this.expand(origin, depth + 1, seen);
        return;
      }
      // a.b: the value of b where it is given (an object's property, a method), not everything a was made from.
      if (ts.isPropertyAccessExpression(n)) {
        let root: ts.Expression = n.expression;
        while (ts.isPropertyAccessExpression(root) || ts.isNonNullExpression(root)) root = ts.isPropertyAccessExpression(root) ? (text += ` ${root.name.text} `, root.expression) : root.expression;
        if (ts.isIdentifier(root) || root.kind === ts.SyntaxKind.ThisKeyword) text += ` ${root.getText()} `;
        else visit(root);
        text += ` ${n.name.text} `;
        for (const origin of this.originsOf(n.name)) text += this.expand(origin, depth + 1, seen);
        return;
      }
      if (ts.isStringLiteralLike(n) || ts.isTemplateHead(n) || ts.isTemplateMiddle(n) || ts.isTemplateTail(n)) text += ` ${n.text} `;
      ts.forEachChild(n, visit);
    };
    visit(start);
    return text;
  }

  /** Where a name gets its value: an initializer, a function's body, or for a parameter the matching argument at every call. */
  private originsOf(id: ts.Identifier): ts.Node[] {
    const symbol = this.symbolOf(id);
    const out: ts.Node[] = [];
    for (const d of symbol?.declarations ?? []) {
      if (d.getSourceFile().isDeclarationFile || d.getSourceFile().fileName.includes('/node_modules/')) continue;
      if (ts.isVariableDeclaration(d) && d.initializer) out.push(d.initializer);
      else if (ts.isBindingElement(d)) {
        let v: ts.Node = d;
        while (v && !ts.isVariableDeclaration(v) && !ts.isParameter(v)) v = v.parent;
        if (v && ts.isVariableDeclaration(v) && v.initializer) out.push(v.initializer);
      } else if (ts.isParameter(d)) {
        if (d.initializer) out.push(d.initializer);
        const fn = d.parent as ts.SignatureDeclaration;
        const index = fn.parameters.indexOf(d);
        const fnSymbol = this.functionSymbol(fn);
        for (const call of (fnSymbol && this.calls.get(fnSymbol)) ?? []) if (call.arguments[index]) out.push(call.arguments[index]!);
      } else if ((ts.isFunctionDeclaration(d) || ts.isMethodDeclaration(d)) && d.body) out.push(d.body);
      else if (ts.isPropertyAssignment(d)) out.push(d.initializer);
    }
    return out;
  }

  private functionSymbol(fn: ts.SignatureDeclaration): ts.Symbol | undefined {
    if ((ts.isFunctionDeclaration(fn) || ts.isMethodDeclaration(fn)) && fn.name) return this.symbolOf(fn.name);
    const parent = fn.parent;
    if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) && ts.isIdentifier(parent.name)) return this.symbolOf(parent.name);
    return undefined;
  }

  launches(file: ts.SourceFile): Launch[] {
    const out: Launch[] = [];
    const visit = (n: ts.Node) => {
      if (ts.isCallExpression(n)) {
        const name = calleeName(n.expression);
        const count = name ? CALLS[name] : undefined;
        if (count) {
          const made = n.arguments.slice(0, count).map((a) => this.expand(a)).join(' ');
          const words = [...new Set(made.split(/[^\w$]+/).filter((w) => SECRET.test(w)))];
          const { line } = file.getLineAndCharacterOfPosition(n.getStart());
          out.push({ where: `${path.relative(ROOT, file.fileName)}:${line + 1}`, call: n.getText().split('\n')[0]!.slice(0, 100), secretWords: words });
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(file);
    return out;
  }
}

interface Launch {
  where: string;
  call: string;
  secretWords: string[];
}

function launchesIn(files: string[]): Launch[] {
  const tracer = new Tracer(program(files));
  return tracer.ownFiles().flatMap((f) => tracer.launches(f));
}

describe('no secret on a command line', () => {
  const launches = launchesIn(sources());

  it('finds the calls that start processes and open addresses (the browser launcher, the successor, the installer, the desktop)', () => {
    const where = launches.map((l) => l.where.split(':')[0]);
    for (const f of ['app/cli/open.ts', 'app/lifecycle/plans.ts', 'app/update/installer.ts', 'main/desktop.ts', 'main/tray-controller.ts']) expect(where, f).toContain(f);
    // startSuccessor's worker spawns what it is given and nothing else, so its callers are the launches to check.
    const worker = fs.readFileSync(path.join(ROOT, 'app/lifecycle/successor-process.ts'), 'utf8');
    expect(worker.match(/\bspawn\(/g)?.length).toBe(1);
    expect(worker).toContain('spawn(workerData.command, workerData.args, workerData.options)');
  });

  it('no spawn, execFile, exec, fork or openExternal carries the token, a handoff secret or a sign-in ticket in its arguments', () => {
    const carrying = launches.filter((l) => l.secretWords.length).map((l) => `${l.where} ${l.call} -> ${l.secretWords.join(', ')}`);
    expect(carrying).toEqual([]);
  });

  it('the check sees a secret that reaches a launch through variables and parameters', () => {
    const dir = fs.mkdtempSync(path.join(ROOT, 'out', 'argv-probe-'));
    try {
      const probe = path.join(dir, 'probe.ts');
      fs.writeFileSync(
        probe,
        [
          "import { spawn } from 'node:child_process';",
          'function launch(address: string) { const [cmd, args] = ["xdg-open", [address]]; spawn(cmd, args); }',
          'export function go(t: string) { const url = `http://x/?k=${readToken(t)}`; launch(url); }',
          'declare function readToken(d: string): string;',
          'export function safe(d: string, token: string) { spawn("xdg-open", [writeSignInPage(d, token)]); }',
          'declare function writeSignInPage(d: string, token: string): string;',
        ].join('\n'),
      );
      const found = launchesIn([probe]);
      expect(found.map((l) => l.secretWords)).toEqual([['readToken'], []]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
