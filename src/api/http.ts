// The HTTP API server (Bun.serve): /connections, /connections/:uuid,
// /connections/:uuid/snapshots, /metrics, /healthz. Handlers live in routes.ts.
import { DEFAULT_LISTEN, parseListen } from "./listen.ts";
import { createHandler, type ApiDependencies } from "./routes.ts";

export { DEFAULT_LISTEN, isLoopbackHost, parseListen, type ListenAddress } from "./listen.ts";

export interface ApiServerOptions extends ApiDependencies {
  /** HOST:PORT, default DEFAULT_LISTEN. */
  listen?: string;
}

export interface ApiServer {
  readonly hostname: string;
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  /** Base URL, e.g. http://127.0.0.1:9990 */
  readonly url: string;
  /** Stops accepting and closes open connections. */
  stop(): Promise<void>;
}

export function startApiServer(options: ApiServerOptions): ApiServer {
  const { hostname, port } = parseListen(options.listen ?? DEFAULT_LISTEN);
  const handle = createHandler(options);
  const logError = options.logError ?? ((m: string, e: unknown) => console.error(m, e));
  const server = Bun.serve({
    hostname,
    port,
    fetch: handle,
    // Reached only if the handler itself throws, which it is written never to do.
    error(e) {
      logError("HTTP server error", e);
      return new Response(JSON.stringify({ error: "internal error" }), { status: 500, headers: { "content-type": "application/json" } });
    },
  });
  const bound = server.port ?? port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    hostname,
    port: bound,
    url: `http://${host}:${bound}`,
    stop: async () => {
      await server.stop(true);
    },
  };
}
