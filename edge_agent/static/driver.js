const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token") || "";
const headers = { "Content-Type": "application/json", "X-Terminal-Token": token };
const strokes = {};
let rendered = "";

async function post(job, action, body, raw) {
  const res = await fetch(`/api/jobs/${encodeURIComponent(job)}/${action}`, {
    method: "POST",
    headers: raw ? { "Content-Type": raw.type || "application/octet-stream", "X-Terminal-Token": token } : headers,
    body: raw ? raw : JSON.stringify(body || {}),
  });
  const data = await res.json();
  $("msg").textContent = res.ok ? "" : data.detail;
  await refresh(true);
  return res.ok;
}

function pad(canvas, job) {
  const ctx = canvas.getContext("2d");
  ctx.lineWidth = 3; ctx.lineCap = "round";
  let current = null;
  const pos = (e) => { const r = canvas.getBoundingClientRect(); return [(e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height]; };
  canvas.addEventListener("pointerdown", (e) => { current = [pos(e)]; (strokes[job] ||= []).push(current); canvas.setPointerCapture(e.pointerId); });
  canvas.addEventListener("pointermove", (e) => {
    if (!current) return;
    const p = pos(e), q = current[current.length - 1];
    current.push(p);
    ctx.beginPath(); ctx.moveTo(q[0] * canvas.width, q[1] * canvas.height); ctx.lineTo(p[0] * canvas.width, p[1] * canvas.height); ctx.stroke();
  });
  canvas.addEventListener("pointerup", () => { current = null; });
}

function render(jobs) {
  const key = JSON.stringify(jobs.map((j) => [j.job_id, j.status, j.weights.length, j.photos.length, !!j.signature]));
  if (key === rendered) return;
  rendered = key;
  const root = $("jobs");
  root.replaceChildren();
  for (const j of jobs) {
    const el = $("job-tpl").content.firstElementChild.cloneNode(true);
    const done = !["open", "arrived", "started"].includes(j.status);
    el.classList.toggle("done", done);
    el.dataset.job = j.job_id;
    el.querySelector(".title").textContent = `${j.job.sequence ?? ""}. ${j.job.kind ?? ""} — ${j.job.customer_name ?? ""}`;
    el.querySelector(".meta").textContent = [j.job.address, j.job.container_type, j.job.material, `status: ${j.status}`].filter(Boolean).join(" · ");
    el.querySelector(".instructions").textContent = j.job.instructions || "";
    el.querySelector(".weights").textContent = j.weights.map((w) => `${w.value} ${w.unit}${w.tag_id ? " (bak " + w.tag_id + ")" : ""}${w.source === "manual" ? " handmatig" : ""}`).join(", ");
    el.querySelector(".photos").textContent = j.photos.length ? `${j.photos.length} foto('s)` : "";
    el.querySelector(".notes").value = j.notes || "";
    el.querySelector(".signer").value = j.signer || "";
    for (const input of el.querySelectorAll(".count")) input.value = j.counts[input.dataset.count] ?? "";
    el.querySelectorAll("button, input, textarea").forEach((b) => { b.disabled = done; });
    pad(el.querySelector("canvas"), j.job_id);
    el.addEventListener("click", async (ev) => {
      const act = ev.target.dataset.act;
      if (!act) return;
      if (act === "clear-sign") { strokes[j.job_id] = []; const c = el.querySelector("canvas"); c.getContext("2d").clearRect(0, 0, c.width, c.height); return; }
      if (act === "manual") return post(j.job_id, "weight", { manual: el.querySelector(".manual").value });
      if (act === "sign") return post(j.job_id, "sign", { signer: el.querySelector(".signer").value, strokes: strokes[j.job_id] || [] });
      if (act === "fail") { const reason = prompt("Waarom niet gelukt?"); if (reason) post(j.job_id, "fail", { reason }); return; }
      if (act === "complete") {
        const counts = {};
        for (const input of el.querySelectorAll(".count")) if (input.value !== "") counts[input.dataset.count] = parseInt(input.value, 10);
        if (!(await post(j.job_id, "counts", { counts }))) return;
        if (!(await post(j.job_id, "notes", { notes: el.querySelector(".notes").value }))) return;
        return post(j.job_id, "complete");
      }
      post(j.job_id, act);
    });
    el.querySelector(".photo").addEventListener("change", (ev) => { const f = ev.target.files[0]; if (f) post(j.job_id, "photo", null, f); });
    root.append(el);
  }
}

// -- new order -------------------------------------------------------------------------
// The id is made when the form is opened and kept until the truck accepted the order, so a
// retry after a timeout is stored once. crypto.randomUUID needs a secure context (https or
// localhost) and the truck's page is plain http on its Wi-Fi: built from getRandomValues.
function newClientOrderId() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const orderForm = $("order-form");
const ORDER_STATUS = { queued: "in wachtrij", sent: "verzonden", rejected: "geweigerd" };
orderForm.elements.client_order_id.value = newClientOrderId();
orderForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = orderForm.elements;
  if (!f.customer_number.value.trim() && !f.customer_name.value.trim()) {
    $("order-msg").textContent = "Vul een klantnummer of een klantnaam in.";
    return;
  }
  const body = {};
  for (const el of orderForm.elements) if (el.name && el.value.trim() !== "") body[el.name] = el.value;
  $("order-send").disabled = true;
  try {
    const res = await fetch("/api/orders", { method: "POST", headers, body: JSON.stringify(body) });
    const data = await res.json();
    if (res.ok) {
      $("order-msg").textContent = "Order opgeslagen; hij wordt verzonden zodra de wagen online is.";
      orderForm.reset();
      f.client_order_id.value = newClientOrderId();
    } else {
      $("order-msg").textContent = data.detail;
    }
  } catch (e) {
    $("order-msg").textContent = "Agent onbereikbaar: probeer het opnieuw.";
  } finally {
    $("order-send").disabled = false;
  }
  await refresh(true);
});

function renderOrders(orders) {
  $("orders").replaceChildren(...orders.map((o) => {
    const li = document.createElement("li");
    const status = ORDER_STATUS[o.status] || o.status;
    li.textContent = [o.order_type, o.customer, o.address, o.requested_date, status + (o.reason ? `: ${o.reason}` : "")].filter(Boolean).join(" · ");
    li.className = o.status;
    return li;
  }));
}

async function refresh(force) {
  if (force) rendered = "";
  try {
    const s = await (await fetch("/api/state", { headers })).json();
    const o = s.onboard;
    $("device").textContent = `Ritten ${s.device_id}`;
    $("status").textContent = (s.connected ? "online" : "offline") + ` · wachtrij ${s.outbox.backlog} · uploads ${s.uploads_pending}`;
    $("status").className = "status" + (s.connected ? "" : " offline");
    $("weight").textContent = o.weight === null ? "—" : `${o.weight} ${o.unit}`;
    $("stable").textContent = o.weight === null ? "" : (o.stable ? "stabiel" : "in beweging");
    $("bin").textContent = o.bin_tag ? `bak ${o.bin_tag}` : `${o.lifts} lediging(en)`;
    render(o.jobs);
    renderOrders(o.orders || []);
  } catch (e) { $("status").textContent = "agent onbereikbaar"; }
}
refresh(); setInterval(refresh, 2000);
