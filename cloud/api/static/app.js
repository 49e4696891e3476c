// Minimal orders page: a bearer token in sessionStorage, the JSON API, a refresh every 3 s.
const $ = (id) => document.getElementById(id);
let timer = null;

function token() { return sessionStorage.getItem("oms-token"); }

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json", ...(options.headers || {}) };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const res = await fetch(path, { ...options, headers });
  if (res.status === 401) { forget(); throw new Error("not logged in"); }
  const body = await res.json();
  if (!res.ok) throw new Error(body.detail || res.statusText);
  return body;
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (cls) td.className = cls;
  return td;
}

async function refresh() {
  const page = await api("/api/v1/orders?limit=100");
  $("count").textContent = `(${page.total})`;
  const rows = $("rows");
  rows.replaceChildren();
  for (const o of page.items) {
    const tr = document.createElement("tr");
    tr.dataset.number = o.number;
    const w = o.weighings[0];
    tr.append(
      cell(o.number),
      (() => { const td = cell(""); const s = document.createElement("span");
               s.className = `status ${o.status}`; s.textContent = o.status; td.append(s); return td; })(),
      cell(o.order_type),
      cell(o.customer_name),
      cell(o.plate ?? (w && (w.plate || w.rfid_card)) ?? ""),
      cell(w ? w.ticket_number : ""),
      cell(w ? `${w.net} ${w.unit}` : "", "num"),
      cell(o.executed_at ? new Date(o.executed_at).toLocaleString("nl-NL") : ""),
      cell(o.needs_review ? o.review_reasons.join("; ") : "", "review"),
    );
    rows.append(tr);
  }
  $("empty").hidden = page.total > 0;
}

async function show() {
  const me = await api("/api/v1/me");
  $("who").textContent = me.email;
  $("login").hidden = true;
  $("orders").hidden = false;
  $("logout").hidden = false;
  await refresh();
  timer = setInterval(() => refresh().catch(console.error), 3000);
}

// Log out on the server too (the token is revoked there), then forget it here.
async function logout() {
  const t = token();
  forget();
  if (t) {
    await fetch("/api/v1/auth/token", {
      method: "DELETE", headers: { Authorization: `Bearer ${t}` },
    }).catch(console.error);
  }
}

function forget() {
  sessionStorage.removeItem("oms-token");
  clearInterval(timer);
  $("login").hidden = false;
  $("orders").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("login").reset();  // no password left in the form
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  $("login-error").textContent = "";
  try {
    const res = await fetch("/api/v1/auth/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: form.get("email"), password: form.get("password") }),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(body.detail || "login failed");
    sessionStorage.setItem("oms-token", body.access_token);
    await show();
  } catch (err) {
    $("login-error").textContent = err.message;
  }
});
$("logout").addEventListener("click", logout);
if (token()) show().catch(() => forget());
