// Calls to the collector's API from its pages. With an API token configured, a 401 asks
// for the token once per tab and sends it as a bearer header from then on.
"use strict";
const api = {
  token: sessionStorage.getItem("tcpinfo-token"),
  async get(path) {
    for (let attempt = 0; attempt < 2; attempt++) {
      const headers = this.token ? { authorization: `Bearer ${this.token}` } : {};
      const res = await fetch(path, { headers });
      if (res.status === 401 && attempt === 0) {
        const t = prompt("This collector's API needs its token:");
        if (!t) break;
        this.token = t.trim();
        sessionStorage.setItem("tcpinfo-token", this.token);
        continue;
      }
      const body = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
      if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
      return body;
    }
    throw new Error("this API needs a token");
  },
};

/** "2026-12-01 05:02:08.391" in the viewer's own time zone. */
function localTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function endpoint(e) {
  if (!e) return "";
  return e.ip.includes(":") ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

function showMessage(text, isError) {
  const el = document.getElementById("message");
  el.textContent = text;
  el.className = isError ? "error" : "";
}
