// The collector's version, from package.json: one place for --version, logs and
// tcpinfo_build_info.
import pkg from "../../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
