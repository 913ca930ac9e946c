// Live query page: start a campaign, then follow it over the results websocket (Fleet's frames).
(function () {
  "use strict";
  const results = document.getElementById("live-results");
  if (!results) return;
  const form = document.getElementById("live-form");
  const table = document.getElementById("result-table");
  const head = table.querySelector("thead tr");
  const body = table.querySelector("tbody");
  const columns = [];
  // The page shows the first page of rows as they arrive and counts the rest: tens of thousands
  // of rows in a live table would freeze the page (every new row lays the whole table out again).
  // All rows are stored; the full table (paged, sortable, filterable) and the CSV come from the server.
  const PAGE_ROWS = Number(results.dataset.pageRows || 100);
  const answeredHosts = new Set();  // stored results and the socket's replay must not show twice
  let socket = null;
  let campaignId = results.dataset.campaign ? Number(results.dataset.campaign) : null;
  let shownRows = 0;
  let totalRows = 0;
  let finished = false;

  function csrf() {
    const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function addRow(row) {
    for (const key of Object.keys(row)) {
      if (!columns.includes(key)) {
        columns.push(key);
        const th = document.createElement("th");
        th.scope = "col";
        th.textContent = key;
        head.appendChild(th);
        for (const tr of body.rows) tr.appendChild(document.createElement("td"));
      }
    }
    const tr = document.createElement("tr");
    for (const key of columns) {
      const td = document.createElement("td");
      td.textContent = row[key] === undefined ? "" : String(row[key]);
      tr.appendChild(td);
    }
    body.appendChild(tr);
    shownRows += 1;
  }

  function showRowCount() {
    const note = document.getElementById("row-count");
    const link = document.getElementById("all-results");
    if (!note || !campaignId) return;
    note.textContent = totalRows > shownRows
      ? `Showing the first ${shownRows.toLocaleString()} of ${totalRows.toLocaleString()} rows.`
      : `${totalRows.toLocaleString()} row${totalRows === 1 ? "" : "s"}.`;
    if (link) {
      link.href = `/queries/live/${campaignId}/`;
      link.hidden = !finished || totalRows <= shownRows;  // the paged table is the finished result
    }
    const exportLink = document.getElementById("export");
    exportLink.href = `/queries/live/${campaignId}/results.csv`;
    exportLink.removeAttribute("aria-disabled");
  }

  function showResult(data) {
    if (answeredHosts.has(data.host.id)) return;
    answeredHosts.add(data.host.id);
    if (data.error) {
      const details = document.getElementById("errors");
      details.hidden = false;
      const li = document.createElement("li");
      li.textContent = `${data.host.display_name || data.host.hostname}: ${data.error}`;
      document.getElementById("error-list").appendChild(li);
      const count = document.getElementById("error-count");
      count.textContent = String(Number(count.textContent) + 1);
    }
    const answered = data.rows || [];
    totalRows += answered.length;
    // The host first, as Fleet shows it; the host_* columns Fleet adds to each row fold into it.
    for (const row of answered.slice(0, Math.max(0, PAGE_ROWS - shownRows))) {
      const { host_hostname: hostname, host_display_name: displayName, ...columnsOfRow } = row;
      addRow({ host: displayName || hostname || data.host.hostname, ...columnsOfRow });
    }
    showRowCount();
  }

  function showStatus(data) {
    const expected = data.expected_results || 0;
    const share = expected ? Math.min(100, Math.round((100 * data.actual_results) / expected)) : 100;
    const bar = document.getElementById("progress");
    bar.setAttribute("aria-valuenow", String(share));
    bar.querySelector(".bar").style.width = share + "%";
    document.getElementById("progress-text").textContent =
      `${data.actual_results} of ${expected} online hosts answered` + (data.status === "finished" ? " · finished" : "");
    if (data.status === "finished" && !finished) {
      finished = true;
      showRowCount();
    }
  }

  function showTotals(data) {
    document.getElementById("totals").textContent =
      `${data.count} targeted · ${data.online} online · ${data.offline} offline · ${data.missing_in_action} missing`;
  }

  function watch(id) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/api/latest/fleet/results/websocket`);
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: "auth", data: {} }));  // the login session authenticates this page
      socket.send(JSON.stringify({ type: "select_campaign", data: { campaign_id: id } }));
    };
    socket.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "result") showResult(frame.data);
      else if (frame.type === "status") showStatus(frame.data);
      else if (frame.type === "totals") showTotals(frame.data);
      else if (frame.type === "error") document.getElementById("progress-text").textContent = "Error: " + frame.data;
    };
  }

  document.getElementById("stop").addEventListener("click", async () => {
    if (!campaignId) return;
    await fetch(`/queries/live/${campaignId}/stop/`, { method: "POST", headers: { "X-CSRFToken": csrf() } });
    if (socket) socket.close();
    document.getElementById("progress-text").textContent += " · stopped";
  });

  // The target picker. A ticked box never moves (the list stays still while ticking): every box
  // with the same name and value shares its state, a host ticked in the search results gets a copy
  // in the picked list (kept when a new search replaces the results), and the count follows.
  const picked = document.getElementById("picked-hosts");
  const counter = document.getElementById("target-count");
  let countTimer = null;

  function boxes(name, value) {
    return form ? form.querySelectorAll(`input[type=checkbox][name="${name}"][value="${value}"]`) : [];
  }

  function selectedIds(name) {
    const ids = new Set();
    if (form) for (const box of form.querySelectorAll(`input[name="${name}"]:checked`)) ids.add(Number(box.value));
    return [...ids];
  }

  async function updateCount() {
    if (!counter || !form) return;
    const params = new URLSearchParams();
    for (const name of ["hosts", "labels", "teams"]) params.set(name, selectedIds(name).join(","));
    const queryId = form.querySelector("input[name=query_id]");
    if (queryId) params.set("query_id", queryId.value);
    try {
      const response = await fetch(`${counter.dataset.countUrl}?${params}`, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      const total = data.targets_count;
      counter.textContent = total === 0 ? "No hosts targeted yet." :
        `${total} host${total === 1 ? "" : "s"} targeted · ${data.targets_online} online · ` +
        `${data.targets_offline} offline · ${data.targets_missing_in_action} missing`;
    } catch (error) {
      counter.textContent = "Could not count the targeted hosts; try again.";
    }
  }

  document.addEventListener("change", (event) => {
    const box = event.target;
    if (!form || !form.contains(box) || !["hosts", "labels", "teams"].includes(box.name)) return;
    for (const other of boxes(box.name, box.value)) other.checked = box.checked;
    if (box.name === "hosts" && box.checked && picked && !picked.querySelector(`input[value="${box.value}"]`)) {
      const copy = box.closest("label").cloneNode(true);
      copy.querySelector("input").checked = true;
      picked.appendChild(copy);
    }
    clearTimeout(countTimer);
    countTimer = setTimeout(updateCount, 200);
  });

  // New search results show what is already ticked; unticked copies leave the picked list then.
  document.addEventListener("htmx:afterSwap", (event) => {
    if (!picked || event.target.id !== "host-options") return;
    for (const box of event.target.querySelectorAll("input[type=checkbox]")) {
      box.checked = [...boxes(box.name, box.value)].some((other) => other !== box && other.checked);
    }
    for (const box of picked.querySelectorAll("input:not(:checked)")) box.closest("label").remove();
  });
  if (form && selectedIds("hosts").length) updateCount();
  // Enter in the search box searches now; it must not start the query.
  const search = form && form.querySelector("input[name=q]");
  if (search) search.addEventListener("keydown", (event) => { if (event.key === "Enter") event.preventDefault(); });

  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const payload = {
        hosts: selectedIds("hosts"), labels: selectedIds("labels"), teams: selectedIds("teams"),
        keep_open_seconds: Number(data.get("keep_open_seconds") || 0),
      };
      if (data.get("query_id")) payload.query_id = Number(data.get("query_id"));
      else payload.query = data.get("query") || "";
      const error = document.getElementById("form-error");
      error.textContent = "";
      const response = await fetch(form.dataset.startUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify(payload),
      });
      const answer = await response.json();
      if (!response.ok) {
        error.textContent = answer.errors && answer.errors.length ? answer.errors[0].reason : answer.message;
        return;
      }
      campaignId = answer.campaign.id;
      showTotals(answer.campaign.totals);
      results.hidden = false;
      document.getElementById("run").disabled = true;
      watch(campaignId);
    });
  } else if (campaignId) {
    const stored = document.getElementById("stored-results");
    if (stored) for (const frame of JSON.parse(stored.textContent)) showResult(frame);
    watch(campaignId);
  }
})();
