// The web pages: the search page at `/`, a connection's page at `/connection/:uuid`, and
// their assets (ours from src/web, uPlot from its npm package: hosts often have no
// internet, so nothing comes from a CDN). They hold no data: the pages fetch it from
// the API, with the bearer token when one is set, so they are served without one.
import { dirname, join } from "node:path";

const WEB = join(import.meta.dir, "..", "web");
const UPLOT = join(dirname(require.resolve("uplot/package.json")), "dist");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

const ASSETS: Record<string, string> = {
  "/assets/app.css": join(WEB, "app.css"),
  "/assets/api.js": join(WEB, "api.js"),
  "/assets/search.js": join(WEB, "search.js"),
  "/assets/connection.js": join(WEB, "connection.js"),
  "/assets/uPlot.iife.min.js": join(UPLOT, "uPlot.iife.min.js"),
  "/assets/uPlot.min.css": join(UPLOT, "uPlot.min.css"),
};

/** The file a page path is served from, or null when the path is not a page. */
export function pageFile(path: string): string | null {
  if (path === "/" || path === "/index.html") return join(WEB, "index.html");
  if (/^\/connection\/[^/]+$/.test(path)) return join(WEB, "connection.html");
  return ASSETS[path] ?? null;
}

/** The page or asset at `path`, or null when the path is not one (the API's routes follow). */
export function pageResponse(path: string): Response | null {
  const file = pageFile(path);
  if (file === null) return null;
  const type = TYPES[file.slice(file.lastIndexOf("."))] ?? "application/octet-stream";
  return new Response(Bun.file(file), {
    headers: {
      "content-type": type,
      // Assets change only with the collector's version: a short cache is enough.
      "cache-control": "max-age=300",
      "x-content-type-options": "nosniff",
    },
  });
}
