#!/usr/bin/env bun
// Command line: wiring only. Each subcommand validates its flags and calls into src/cli.
import { defineCommand, runMain, type ArgsDef, type CommandDef } from "citty";
import { parseChoice, parseIntArg, rejectUnknownFlags, UsageError } from "./cli/validate.ts";
import { snapshotLines, takeSnapshots } from "./cli/snapshot.ts";
import { uuidPrefixFor } from "./cli/uuid-prefix.ts";
import { COLLECTOR_ARGS, parseCollectorOptions } from "./cli/collector-options.ts";
import { runCollector } from "./daemon/daemon.ts";
import { runCsv } from "./cli/csv.ts";
import { QUERY_ARGS, queryOptionsFromArgs, runQuery } from "./cli/query.ts";
import { runSidecar } from "./cli/sidecar.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";

/** Runs a subcommand body, turning usage errors into a message and exit status 2. */
function guarded<T extends ArgsDef>(def: T, body: (args: Record<string, unknown>, raw: string[]) => Promise<void> | void) {
  return async ({ args, rawArgs }: { args: Record<string, unknown>; rawArgs: string[] }) => {
    try {
      rejectUnknownFlags(rawArgs, def);
      await body(args, rawArgs);
    } catch (e) {
      if (e instanceof UsageError) {
        process.stderr.write(`error: ${e.message}\nRun with --help for usage.\n`);
        process.exit(2);
      }
      // Anything else (a folder that cannot be created, a port in use...): say what, not
      // where in the code; TCPINFO_DEBUG=1 shows the stack.
      const err = e as Error;
      process.stderr.write(`error: ${err.message}\n${process.env.TCPINFO_DEBUG ? `${err.stack ?? ""}\n` : ""}`);
      process.exit(1);
    }
  };
}

const snapshotArgs = {
  port: { type: "string", description: "Only sockets with this port at either end", valueHint: "P" },
  "include-local": { type: "boolean", description: "Include loopback, link-local, multicast and unspecified addresses", default: false },
  family: { type: "string", description: "Only IPv4 (4) or IPv6 (6) sockets", valueHint: "4|6" },
  "uuid-prefix-file": { type: "string", description: "File holding the UUID prefix (default <hostname>_<boot time>_unsafe)", valueHint: "PATH" },
} as const satisfies ArgsDef;

const snapshot = defineCommand({
  meta: { name: "snapshot", description: "Dump every TCP socket once and print one decoded snapshot per socket as NDJSON" },
  args: snapshotArgs,
  run: guarded(snapshotArgs, async (args) => {
    const port = args.port === undefined ? undefined : parseIntArg("--port", args.port as string, 0, 65535);
    const family = args.family === undefined ? undefined : (Number(parseChoice("--family", String(args.family), ["4", "6"])) as 4 | 6);
    const uuidPrefix = uuidPrefixFor(args["uuid-prefix-file"] as string | undefined);
    const snaps = takeSnapshots({ port, family, includeLocal: args["include-local"] === true, uuidPrefix });
    process.stdout.write(snapshotLines(snaps));
  }),
});

const collector = defineCommand({
  meta: { name: "collector", description: "Poll every TCP socket and archive each significant change, per connection, as zstd JSONL (M-Lab format)" },
  args: COLLECTOR_ARGS,
  run: guarded(COLLECTOR_ARGS, async (args, raw) => {
    const opts = parseCollectorOptions(args, raw);
    const run = await runCollector(opts);
    process.exit(run.exitCode);
  }),
});

const csvArgs = {
  files: { type: "positional", description: "Archive files (.jsonl.zst or .jsonl); standard input when none", required: false, valueHint: "FILE..." },
} as const satisfies ArgsDef;

const csv = defineCommand({
  meta: { name: "csv", description: "Convert archives to CSV, one row per snapshot, with M-Lab csvtool's column names" },
  args: csvArgs,
  run: guarded(csvArgs, async (args) => {
    const files = (args._ as string[] | undefined) ?? [];
    const result = await runCsv(files, process.stdout);
    process.exitCode = result.exitCode;
  }),
});

const queryArgs = {
  ...QUERY_ARGS,
  db: { type: "string", description: "Index file (default $TCPINFO_DB, else <$TCPINFO_OUTPUT or ./data>/index.sqlite)", valueHint: "PATH" },
} as const satisfies ArgsDef;

const query = defineCommand({
  meta: { name: "query", description: "Find connections in the index, as GET /connections does, and print a table or JSON" },
  args: queryArgs,
  run: guarded(queryArgs, async (args) => {
    const db = (args.db as string | undefined) ?? process.env.TCPINFO_DB ?? join(process.env.TCPINFO_OUTPUT || "./data", "index.sqlite");
    if (!existsSync(db)) throw new UsageError(`no index at ${db} (run the collector first, or give --db)`);
    process.exitCode = runQuery({ ...queryOptionsFromArgs(args), db });
  }),
});

const sidecarArgs = {
  eventsocket: { type: "string", description: "The collector's eventsocket path", valueHint: "PATH", required: true },
} as const satisfies ArgsDef;

const sidecar = defineCommand({
  meta: { name: "sidecar", description: "Reference eventsocket client: print every open/close event as a JSON line, reconnecting until SIGINT" },
  args: sidecarArgs,
  run: guarded(sidecarArgs, async (args) => {
    if (typeof args.eventsocket !== "string" || args.eventsocket === "") throw new UsageError("--eventsocket PATH is required");
    await runSidecar(args.eventsocket, process.stdout);
  }),
});

const main = defineCommand({
  meta: { name: "tcp-info", description: "Per-connection TCP statistics collector (M-Lab tcp-info compatible)" },
  subCommands: { collector, snapshot, csv, query, sidecar } as Record<string, CommandDef<ArgsDef>>,
});

runMain(main);
