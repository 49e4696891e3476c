const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token") || "";
const headers = { "Content-Type": "application/json", "X-Terminal-Token": token };
async function refresh() {
  try {
    const s = await (await fetch("/api/state", { headers })).json();
    const w = s.weighbridge;
    $("device").textContent = `Weegbrug ${s.device_id}`;
    $("status").textContent = (s.connected ? "online" : "offline") + ` · wachtrij ${s.outbox.backlog}`;
    $("status").className = "status" + (s.connected ? "" : " offline");
    $("weight").firstChild.textContent = w.weight === null ? (w.condition === "ok" ? "— " : w.condition + " ") : w.weight + " ";
    $("weight").querySelector("small").textContent = w.unit || "";
    $("stable").textContent = w.condition !== "ok" ? "" : (w.stable ? "stabiel" : "in beweging");
    $("stable").className = w.stable ? "stable" : "motion";
    $("event").textContent = w.last_event;
    $("open").replaceChildren(...w.open_weighings.map((o) => {
      const tr = document.createElement("tr");
      for (const v of [o.vehicle, `${o.weight} ${o.unit}`, new Date(o.at).toLocaleTimeString("nl-NL")]) {
        const td = document.createElement("td"); td.textContent = v; tr.append(td);
      }
      return tr;
    }));
  } catch (e) { $("status").textContent = "agent onbereikbaar"; }
}
$("plate-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const res = await fetch("/api/plate", { method: "POST", headers, body: JSON.stringify({ plate: $("plate").value }) });
  const body = await res.json();
  $("plate-msg").textContent = res.ok ? `Kenteken ${$("plate").value.toUpperCase()} doorgegeven` : body.detail;
  if (res.ok) $("plate").value = "";
  refresh();
});
refresh(); setInterval(refresh, 1000);
