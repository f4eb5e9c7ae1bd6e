// Help text, rendered from the commands' citty argument definitions: wrapped to fit 100
// columns (fewer on a narrower terminal), coloured only on a terminal and never under
// NO_COLOR or TERM=dumb, so piped help is plain text.
import type { ArgDef, ArgsDef } from "citty";

/** The program's one name: package.json's `bin`, used in help and messages. */
export const PROGRAM = "tcp-info-bun";

export const MAX_WIDTH = 100;
/** The widest flag column; a longer flag puts its description on the next line. */
const LABEL_MAX = 30;

export interface HelpStyle {
  color: boolean;
  width: number;
}

export interface HelpCommand {
  name: string;
  description: string;
  args: ArgsDef;
}

/** How to print to `stream`: colour and width follow the terminal, if it is one. */
export function helpStyle(stream: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv = process.env): HelpStyle {
  const tty = stream.isTTY === true;
  const color = tty && (env.NO_COLOR ?? "") === "" && env.TERM !== "dumb";
  const columns = tty && typeof stream.columns === "number" && stream.columns > 0 ? stream.columns : MAX_WIDTH;
  return { color, width: Math.max(40, Math.min(MAX_WIDTH, columns)) };
}

const NBSP = "\u00a0";

/** Greedy word wrap; a word longer than `width` is cut. A no-break space joins words. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (let word of text.split(/[ \t\n]+/).filter((w) => w !== "")) {
    while (word.length > width) {
      if (line !== "") lines.push(line);
      lines.push(word.slice(0, width));
      word = word.slice(width);
      line = "";
    }
    if (line === "") line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line !== "" || lines.length === 0) lines.push(line);
  return lines.map((l) => l.replaceAll(NBSP, " "));
}

const paint = (style: HelpStyle, code: string, text: string): string => (style.color ? `\x1b[${code}m${text}\x1b[0m` : text);
const heading = (style: HelpStyle, text: string): string => paint(style, "1", text);

/** Wrapped as plain text first, so colour codes never count towards the width. */
function titled(style: HelpStyle, title: string, text: string): string[] {
  const lines = wrap(`${title} ${text}`, style.width);
  lines[0] = heading(style, title) + lines[0].slice(title.length);
  return lines;
}

/** Rows of label and description as two columns, the descriptions wrapped. */
function table(rows: readonly (readonly [string, string])[], style: HelpStyle): string[] {
  const indent = 2;
  const labelWidth = Math.min(LABEL_MAX, Math.max(...rows.map(([l]) => l.length)));
  const descCol = indent + labelWidth + 2;
  const pad = " ".repeat(descCol);
  const out: string[] = [];
  for (const [label, description] of rows) {
    const desc = wrap(description, style.width - descCol);
    const shown = " ".repeat(indent) + paint(style, "36", label);
    if (label.length > labelWidth) out.push(shown, ...desc.map((d) => pad + d));
    else out.push(shown + " ".repeat(descCol - indent - label.length) + desc[0], ...desc.slice(1).map((d) => pad + d));
  }
  return out.map((l) => l.trimEnd());
}

function flagLabel(name: string, def: ArgDef): string {
  if (def.type === "positional") return def.valueHint ?? name.toUpperCase();
  const alias = "alias" in def ? def.alias : undefined;
  const aliases: string[] = typeof alias === "string" ? [alias] : alias ?? [];
  const long = def.type === "boolean" && def.default === true ? `--[no-]${name}` : `--${name}`;
  const value = def.type === "boolean" ? "" : ` ${def.valueHint ?? "VALUE"}`;
  return [...aliases.map((a) => `-${a}`), long].join(", ") + value;
}

function flagRows(args: ArgsDef): [string, string][] {
  const rows = Object.entries(args).map(([name, def]): [string, string] => {
    const required = def.required === true && def.type !== "positional" ? " (required)" : "";
    // "[env NAME]" stays on one line.
    return [flagLabel(name, def), (def.description ?? "").replaceAll("[env ", `[env${NBSP}`) + required];
  });
  rows.push(["-h, --help", "Show this help"]);
  return rows;
}

function usageLine(cmd: HelpCommand): string {
  const parts = [PROGRAM, cmd.name];
  for (const [name, def] of Object.entries(cmd.args)) {
    if (def.type === "positional") parts.push(def.required === false ? `[${def.valueHint ?? name.toUpperCase()}]` : `<${def.valueHint ?? name.toUpperCase()}>`);
    else if (def.required === true) parts.push(`--${name} ${def.valueHint ?? "VALUE"}`);
  }
  parts.push("[OPTIONS]");
  return parts.join(" ");
}

const EXIT_STATUS = "Exit status: 0 success, 1 runtime failure, 2 usage error (a bad flag, value or argument).";
const PROGRAM_EXIT_STATUS = "Exit status: 0 success, 1 runtime failure or no command given, 2 usage error.";

/** One command's help. */
export function commandHelp(cmd: HelpCommand, style: HelpStyle, exitStatus = EXIT_STATUS): string {
  const positional = Object.entries(cmd.args).filter(([, d]) => d.type === "positional");
  const flags = Object.fromEntries(Object.entries(cmd.args).filter(([, d]) => d.type !== "positional"));
  const lines = [
    ...titled(style, "Usage:", usageLine(cmd)),
    "",
    ...wrap(cmd.description, style.width),
    "",
  ];
  if (positional.length > 0) lines.push(heading(style, "Arguments:"), ...table(positional.map(([n, d]) => [flagLabel(n, d), d.description ?? ""]), style), "");
  lines.push(heading(style, "Options:"), ...table(flagRows(flags), style), "", ...wrap(exitStatus, style.width));
  return lines.join("\n") + "\n";
}

/** The program's help: its commands. */
export function programHelp(version: string, description: string, commands: readonly HelpCommand[], style: HelpStyle): string {
  return [
    ...wrap(`${PROGRAM} ${version}: ${description}`, style.width),
    "",
    `${heading(style, "Usage:")} ${PROGRAM} <command> [OPTIONS]`,
    `       ${PROGRAM} --version`,
    "",
    heading(style, "Commands:"),
    ...table(commands.map((c) => [c.name, c.description]), style),
    "",
    heading(style, "Options:"),
    ...table([["-h, --help", "Show this help; after a command, that command's"], ["-V, --version", "Print the version"]], style),
    "",
    ...wrap(`Run '${PROGRAM} <command> --help' for a command's options. ${PROGRAM_EXIT_STATUS}`, style.width),
  ].join("\n") + "\n";
}
