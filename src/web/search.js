// The search page: /connections with the form's filters, newest first, a page at a time.
"use strict";
const form = document.getElementById("search");
const tbody = document.querySelector("#results tbody");
const more = document.getElementById("more");
let next = null;
// Each load's number: a slower answer to an earlier load (the unfiltered list asked for
// at page load) must not replace the results of the search made after it.
let latest = 0;

function query() {
  const q = new URLSearchParams();
  const f = new FormData(form);
  for (const key of ["port", "ip", "state"]) {
    const v = String(f.get(key) ?? "").trim();
    if (v !== "") q.set(key, v);
  }
  // datetime-local is the viewer's local time; the API takes RFC 3339.
  for (const key of ["since", "until"]) {
    const v = String(f.get(key) ?? "");
    if (v !== "") q.set(key, new Date(v).toISOString());
  }
  q.set("limit", "50");
  return q;
}

function row(c) {
  const tr = document.createElement("tr");
  const cells = [localTime(c.firstSeen), endpoint(c.src), endpoint(c.dst), c.closedAt ? "closed" : "open", String(c.snapshots ?? ""), c.closedAt ? `${localTime(c.closedAt)} (${c.endReason ?? ""})` : ""];
  cells.forEach((text, i) => {
    const td = document.createElement("td");
    if (i === 0) {
      const a = document.createElement("a");
      a.href = `/connection/${encodeURIComponent(c.uuid)}`;
      a.textContent = text;
      a.title = c.uuid;
      td.append(a);
    } else td.textContent = text;
    tr.append(td);
  });
  return tr;
}

async function load(append) {
  const q = query();
  if (append && next) q.set("cursor", next);
  const mine = ++latest;
  try {
    const body = await api.get(`/connections?${q}`);
    if (mine !== latest) return;
    if (!append) tbody.replaceChildren();
    for (const c of body.connections) tbody.append(row(c));
    next = body.next;
    more.hidden = !next;
    showMessage(tbody.children.length === 0 ? "No connection matches." : `${tbody.children.length} connection(s) shown.`, false);
  } catch (e) {
    if (mine === latest) showMessage(e.message, true);
  } finally {
    // Answers handled (shown or dropped), for whoever waits on the page (the tests).
    document.body.dataset.answered = String(Number(document.body.dataset.answered ?? 0) + 1);
  }
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  next = null;
  void load(false);
});
more.addEventListener("click", () => void load(true));
void load(false);
