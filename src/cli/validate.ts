// Strict checks on top of citty: unknown flags and bad values are errors with a clear
// message, never silently ignored.
import type { ArgsDef } from "citty";

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Throws a UsageError naming the first flag in `rawArgs` that `def` does not declare. */
export function rejectUnknownFlags(rawArgs: readonly string[], def: ArgsDef): void {
  const known = new Set<string>(["help", "h"]);
  for (const [name, d] of Object.entries(def)) {
    known.add(name);
    known.add(kebab(name));
    if (d.type === "boolean") known.add(`no-${kebab(name)}`);
    const alias = "alias" in d ? d.alias : undefined;
    for (const a of typeof alias === "string" ? [alias] : alias ?? []) known.add(a);
  }
  for (const raw of rawArgs) {
    if (raw === "--") break;
    if (!raw.startsWith("-") || raw === "-" || /^-\d/.test(raw)) continue;
    const name = raw.replace(/^--?/, "").split("=")[0];
    if (!known.has(name)) throw new UsageError(`unknown option '${raw.split("=")[0]}'`);
  }
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** All values given for a repeatable `--name V` / `--name=V` flag, in order. */
export function repeatedFlag(rawArgs: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i];
    if (a === "--") break;
    if (a === `--${name}`) {
      const v = rawArgs[i + 1];
      if (v === undefined || v.startsWith("--")) throw new UsageError(`--${name} needs a value`);
      out.push(v);
      i++;
    } else if (a.startsWith(`--${name}=`)) {
      out.push(a.slice(name.length + 3));
    }
  }
  return out;
}

/** Parses a whole number in [min, max]; `what` names the flag in the error. */
export function parseIntArg(what: string, value: string | number | boolean | undefined, min: number, max: number): number {
  if (typeof value === "boolean" || value === undefined || String(value).trim() === "") {
    throw new UsageError(`${what} needs a whole number from ${min} to ${max}`);
  }
  const text = String(value).trim();
  if (!/^-?\d+$/.test(text)) throw new UsageError(`${what} must be a whole number, got '${text}'`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${what} must be from ${min} to ${max}, got ${text}`);
  return n;
}

/** Parses a value that must be one of `choices`. */
export function parseChoice<T extends string>(what: string, value: string | undefined, choices: readonly T[]): T {
  if (value === undefined || !(choices as readonly string[]).includes(value)) {
    throw new UsageError(`${what} must be one of ${choices.join(", ")}, got '${value ?? ""}'`);
  }
  return value as T;
}

/** A CLI value, else the environment variable `env`, else undefined. */
export function fromEnv(value: string | undefined, env: string): string | undefined {
  if (value !== undefined) return value;
  const v = process.env[env];
  return v === undefined || v === "" ? undefined : v;
}
