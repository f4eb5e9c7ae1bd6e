#!/usr/bin/env bun
// Command line: wiring only. Each subcommand's flags are parsed by citty and validated in
// src/cli; help, --version and exit statuses (0 ok, 1 runtime failure, 2 usage error) here.
import { parseArgs, type ArgsDef } from "citty";
import { join } from "node:path";
import { parseChoice, parseIntArg, rejectUnknownFlags, repeatedFlag, UsageError } from "./cli/validate.ts";
import { commandHelp, helpStyle, PROGRAM, programHelp, type HelpCommand } from "./cli/help.ts";
import { snapshotLines, snapshotStates, STATE_NAMES, takeSnapshots } from "./cli/snapshot.ts";
import { uuidPrefixFor } from "./cli/uuid-prefix.ts";
import { COLLECTOR_ARGS, parseCollectorOptions, parseNetnsFlag } from "./cli/collector-options.ts";
import { runCollector } from "./daemon/daemon.ts";
import { runCsv } from "./cli/csv.ts";
import { QUERY_ARGS, queryOptionsFromArgs, runQuery } from "./cli/query.ts";
import { REPORT_ARGS, reportOptionsFromArgs, runReport } from "./cli/report.ts";
import { OutputError, runSidecar } from "./cli/sidecar.ts";
import { EXPORT_ARGS, exportOptionsFromArgs, runExportCommand } from "./cli/export.ts";
import { VERSION } from "./model/version.ts";

type Args = Record<string, unknown> & { _: string[] };

interface Command extends HelpCommand {
  /** Exit status text for the help, when it differs from the usual three. */
  exitStatus?: string;
  /** Returns the exit status, or nothing for 0 (or one already set in process.exitCode). */
  run(args: Args, raw: string[]): Promise<number | void> | number | void;
}

const DESCRIPTION = "per-connection TCP statistics collector (M-Lab tcp-info compatible)";

const collector: Command = {
  name: "collector",
  description: "Poll every TCP socket and archive each significant change, per connection, as zstd JSONL (M-Lab format).",
  args: COLLECTOR_ARGS,
  exitStatus: "Exit status: 0 stopped with nothing lost, 1 start-up or runtime failure, 2 usage error, 3 stopped but archive lines or index reports were lost.",
  async run(args, raw) {
    const run = await runCollector(parseCollectorOptions(args, raw));
    process.exit(run.exitCode);
  },
};

const snapshot: Command = {
  name: "snapshot",
  description: "Dump every TCP socket once and print one decoded snapshot per socket as NDJSON (ss -tin as JSON).",
  args: {
    port: { type: "string", description: "Only sockets with this port at either end; repeatable, any one matches", valueHint: "P" },
    state: {
      type: "string",
      description: `Only sockets in these states, named as ss names them; comma-separated, repeatable: ${Object.keys(STATE_NAMES).join(", ")}. Listeners have an unspecified peer, so they need --include-local`,
      valueHint: "STATE[,STATE]",
    },
    all: { type: "boolean", description: "Sockets in every state: TIME_WAIT ones are left out otherwise, as ss does" },
    "include-local": { type: "boolean", description: "Include loopback, link-local, multicast and unspecified addresses" },
    family: { type: "string", description: "Only IPv4 (4) or IPv6 (6) sockets", valueHint: "4|6" },
    "uuid-prefix-file": { type: "string", description: "File holding the UUID prefix (default <hostname>_<boot time>_unsafe)", valueHint: "PATH" },
    netns: { type: "string", description: "Network namespaces to dump: host (this process's), all, or paths (/var/run/netns/NAME, /proc/PID/ns/net); repeatable (default host)", valueHint: "host|all|PATH" },
  },
  run(args, raw) {
    const netns = parseNetnsFlag(repeatedFlag(raw, "netns"));
    const ports = repeatedFlag(raw, "port").map((p) => parseIntArg("--port", p, 0, 65535));
    const states = snapshotStates(repeatedFlag(raw, "state"), args.all === true);
    const family = args.family === undefined ? undefined : (Number(parseChoice("--family", String(args.family), ["4", "6"])) as 4 | 6);
    const uuidPrefix = uuidPrefixFor(args["uuid-prefix-file"] as string | undefined);
    const onSkip = (what: string) => process.stderr.write(`snapshot: skipped ${what}\n`);
    process.stdout.write(snapshotLines(takeSnapshots({ ports, states, family, includeLocal: args["include-local"] === true, uuidPrefix, netns, onSkip })));
  },
};

const csv: Command = {
  name: "csv",
  description: "Convert archives to CSV, one row per snapshot, with M-Lab csvtool's column names.",
  exitStatus: "Exit status: 0 every input read, 1 an input could not be read or is not an archive (said once, on stderr; the other inputs are still converted), 2 usage error.",
  args: {
    files: { type: "positional", description: "Archive files (.jsonl.zst or .jsonl); standard input when none", required: false, valueHint: "FILE..." },
    "unique-columns": {
      type: "boolean",
      description: "Name the second TCP.LastDataRecv column (csvtool repeats that name; the column holds tcpi_last_ack_recv) TCP.LastAckRecv, so pandas and DuckDB read the header",
    },
  },
  async run(args) {
    return (await runCsv(args._, process.stdout, { distinctNames: args["unique-columns"] === true })).exitCode;
  },
};

const query: Command = {
  name: "query",
  description: "Find connections in the index, as GET /connections does, and print a table or JSON.",
  args: {
    ...QUERY_ARGS,
    db: { type: "string", description: "Index file (default $TCPINFO_DB, else <$TCPINFO_OUTPUT or ./data>/index.sqlite)", valueHint: "PATH" },
  },
  run(args) {
    const db = (args.db as string | undefined) ?? process.env.TCPINFO_DB ?? join(process.env.TCPINFO_OUTPUT || "./data", "index.sqlite");
    return runQuery({ ...queryOptionsFromArgs(args), db });
  },
};

const report: Command = {
  name: "report",
  description: "A connection's summary and what limited it (receiver window, send buffer, network, application), from the index and archives.",
  args: REPORT_ARGS,
  run(args) {
    return runReport(reportOptionsFromArgs(args));
  },
};

const sidecar: Command = {
  name: "sidecar",
  description: "Reference eventsocket client: print every open/close event as a JSON line, reconnecting until SIGINT.",
  args: { eventsocket: { type: "string", description: "The collector's eventsocket path", valueHint: "PATH", required: true } },
  async run(args) {
    if (typeof args.eventsocket !== "string" || args.eventsocket === "") throw new UsageError("--eventsocket needs the PATH of the collector's eventsocket");
    // A native writer made before connecting: process.stdout's stream is built on its first
    // write, which on a busy host stalled the first burst of events long enough for the
    // collector to drop the sidecar as stuck.
    const out = Bun.stdout.writer();
    try {
      await runSidecar(args.eventsocket, out);
      await out.end();
    } catch (e) {
      // The reader of a pipe went away (`sidecar | head`): done, quietly. Anything else
      // (a full disk) is a failure the operator must hear of.
      if (e instanceof OutputError && e.readerGone) return;
      if (e instanceof OutputError) {
        process.stderr.write(`sidecar: ${e.message}; stopping\n`);
        process.exitCode = 1;
        return;
      }
      throw e;
    }
  },
};

const exportCommand: Command = {
  name: "export",
  description: "Write closed connections and their snapshots as hive-partitioned, zstd Parquet (incremental: each run takes what closed since the last).",
  exitStatus: "Exit status: 0 exported (archives that were missing or corrupt are named on stderr), 1 the export failed (earlier batches stay complete; nothing partial is left), 2 usage error.",
  args: EXPORT_ARGS,
  run(args) {
    return runExportCommand(exportOptionsFromArgs(args));
  },
};

const COMMANDS: readonly Command[] = [collector, snapshot, csv, query, report, exportCommand, sidecar];

function fail(status: 1 | 2, message: string, command?: string): never {
  const hint = status === 2 ? `Run '${PROGRAM}${command ? ` ${command}` : ""} --help' for usage.\n` : "";
  process.stderr.write(`error: ${message}\n${hint}`);
  process.exit(status);
}

/** citty's parse, plus what it lets through: unknown flags, stray arguments, its own errors. */
function parseCommandArgs(cmd: Command, raw: string[]): Args {
  rejectUnknownFlags(raw, cmd.args);
  for (const [name, def] of Object.entries(cmd.args)) {
    const given = raw.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (def.required === true && def.type !== "positional" && !given) throw new UsageError(`--${name} ${def.valueHint ?? "VALUE"} is required`);
  }
  let args: Args;
  try {
    args = parseArgs(raw, cmd.args as ArgsDef) as unknown as Args;
  } catch (e) {
    // citty throws only for what was given wrongly (a missing required flag).
    throw new UsageError((e as Error).message);
  }
  const takesPositional = Object.values(cmd.args).some((d) => d.type === "positional");
  if (!takesPositional && args._.length > 0) throw new UsageError(`unexpected argument '${args._[0]}' (${cmd.name} takes flags only)`);
  return args;
}

async function runCommand(cmd: Command, raw: string[]): Promise<void> {
  const helpAt = raw.findIndex((a) => a === "--" || a === "--help" || a === "-h");
  if (helpAt >= 0 && raw[helpAt] !== "--") {
    process.stdout.write(commandHelp(cmd, helpStyle(process.stdout), cmd.exitStatus));
    return;
  }
  try {
    const status = await cmd.run(parseCommandArgs(cmd, raw), raw);
    if (typeof status === "number") process.exitCode = status;
  } catch (e) {
    if (e instanceof UsageError) fail(2, e.message, cmd.name);
    // Anything else (a folder that cannot be created, a port in use...): say what, not
    // where in the code; TCPINFO_DEBUG=1 shows the stack.
    const err = e as Error;
    fail(1, `${err.message}${process.env.TCPINFO_DEBUG ? `\n${err.stack ?? ""}` : ""}`);
  }
}

async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    // No command: the help, on stderr since this is a failure, and exit status 1.
    process.stderr.write(programHelp(VERSION, DESCRIPTION, COMMANDS, helpStyle(process.stderr)));
    process.exit(1);
  }
  if (first === "--help" || first === "-h") {
    process.stdout.write(programHelp(VERSION, DESCRIPTION, COMMANDS, helpStyle(process.stdout)));
    return;
  }
  if (first === "--version" || first === "-V") {
    if (rest.length > 0) fail(2, `${first} takes no arguments`);
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  const cmd = COMMANDS.find((c) => c.name === first);
  if (cmd === undefined) {
    fail(2, first.startsWith("-") ? `unknown option '${first.split("=")[0]}' (give a command first)` : `unknown command '${first}'; commands: ${COMMANDS.map((c) => c.name).join(", ")}`);
  }
  await runCommand(cmd, rest);
}

await main(process.argv.slice(2));
