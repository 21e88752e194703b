/**
 * Settings fields as data: one list says what each setting is, and that list
 * drives the server's validation, the console's form (GET /api/app carries
 * it) and the docs. A hosted app declares its own list (AppDefinition.settings).
 */

interface FieldBase {
  /** The key in the settings object: letters, digits and `_`, starting with a letter. */
  key: string;
  /** What the form shows. */
  label: string;
  /** One sentence under the field. */
  help?: string;
}

export type SettingsField =
  | (FieldBase & { type: 'boolean'; default: boolean })
  | (FieldBase & { type: 'text'; default: string; maxLength?: number; /** A regular expression the whole value must match. */ pattern?: string; placeholder?: string })
  | (FieldBase & { type: 'number'; default: number; min?: number; max?: number; integer?: boolean })
  | (FieldBase & { type: 'choice'; default: string; choices: { value: string; label: string }[] });

export interface FieldError {
  field: string;
  message: string;
}

const KEY = /^[a-z][a-zA-Z0-9_]*$/;

/** Problems with a list of fields itself (an app author's mistake), one sentence each. */
export function checkFields(fields: readonly SettingsField[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const f of fields) {
    const name = JSON.stringify(f.key);
    if (typeof f.key !== 'string' || !KEY.test(f.key)) problems.push(`settings field ${name}: key must be letters, digits and _, starting with a lower-case letter`);
    if (seen.has(f.key)) problems.push(`settings field ${name} is listed twice`);
    seen.add(f.key);
    if (typeof f.label !== 'string' || !f.label.trim()) problems.push(`settings field ${name} needs a label`);
    const wrong = checkValue(f, f.default);
    if (wrong) problems.push(`settings field ${name}: its default ${wrong}`);
    if (f.type === 'choice' && (!Array.isArray(f.choices) || f.choices.length === 0)) problems.push(`settings field ${name} needs choices`);
    if (f.type === 'text' && f.pattern !== undefined) {
      try {
        new RegExp(f.pattern);
      } catch {
        problems.push(`settings field ${name}: pattern is not a regular expression`);
      }
    }
  }
  return problems;
}

/** Why `value` cannot be this field's value ("must be ..."), or null. */
export function checkValue(f: SettingsField, value: unknown): string | null {
  switch (f.type) {
    case 'boolean':
      return typeof value === 'boolean' ? null : 'must be true or false';
    case 'text':
      if (typeof value !== 'string') return 'must be text';
      if (f.maxLength !== undefined && value.length > f.maxLength) return `must be at most ${f.maxLength} characters`;
      if (f.pattern !== undefined && !new RegExp(`^(?:${f.pattern})$`).test(value)) return 'is not in the expected form';
      return null;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a number';
      if (f.integer && !Number.isInteger(value)) return 'must be a whole number';
      if (f.min !== undefined && value < f.min) return `must be at least ${f.min}`;
      if (f.max !== undefined && value > f.max) return `must be at most ${f.max}`;
      return null;
    case 'choice':
      return f.choices?.some((c) => c.value === value) ? null : `must be one of ${f.choices?.map((c) => JSON.stringify(c.value)).join(', ')}`;
  }
}

export function defaultValues(fields: readonly SettingsField[]): Record<string, unknown> {
  return Object.fromEntries(fields.map((f) => [f.key, f.default]));
}

/**
 * Check a whole or partial object of values against the fields: the merged
 * values and every problem, each at its field (`prefix` + key), so a form
 * can show them all at once. Keys no field has are problems too.
 */
export function validateValues(fields: readonly SettingsField[], input: unknown, base: Record<string, unknown>, prefix = ''): { value: Record<string, unknown>; errors: FieldError[] } {
  const value = { ...defaultValues(fields), ...base };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { value, errors: [{ field: prefix.replace(/\.$/, ''), message: 'must be an object' }] };
  const errors: FieldError[] = [];
  for (const [key, v] of Object.entries(input)) {
    const f = fields.find((x) => x.key === key);
    if (!f) {
      errors.push({ field: prefix + key, message: `There is no setting ${prefix + key}` });
      continue;
    }
    // A form sends numbers as text.
    const given = f.type === 'number' && typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v;
    const wrong = checkValue(f, given);
    if (wrong) errors.push({ field: prefix + key, message: `${f.label} ${wrong}` });
    else value[key] = given;
  }
  return { value, errors };
}

/** The saved values, with a default for each field that is missing or no longer valid (a field's rules changed). */
export function readValues(fields: readonly SettingsField[], saved: unknown): Record<string, unknown> {
  const out = defaultValues(fields);
  if (typeof saved !== 'object' || saved === null) return out;
  for (const f of fields) {
    const v = (saved as Record<string, unknown>)[f.key];
    if (v !== undefined && checkValue(f, v) === null) out[f.key] = v;
  }
  return out;
}
