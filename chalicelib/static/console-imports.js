/* The staff console's import runs (GET /import-runs, /import-runs/{id}): every partner's runs,
   newest first and paged, filtered by a partner picked from the registry; one run with its state, counts, timings, its
   rejected rows counted by reason and the report's key. A run still going is polled until it
   ends. Registered with console.js (`kit`). */
(function () {
  "use strict";

  const TEXT = {
    fi: {
      listTitle: "Tuontiajot",
      partner: "Kumppani",
      allPartners: "Kaikki kumppanit",
      partnerId: "Kumppani",
      show: "Näytä",
      none: "Ei tuontiajoja.",
      open: "Avaa",
      back: "Takaisin luetteloon",
      received: "Vastaanotettu",
      file: "Tiedosto",
      state: "Tila",
      rows: "Rivit",
      started: "Aloitettu",
      finished: "Valmis",
      fullRefresh: "Täysi päivitys",
      yes: "kyllä",
      no: "ei",
      counts: "Määrät",
      rejected: "Hylätyt rivit syyn mukaan",
      noRejected: "Ei hylättyjä rivejä.",
      reason: "Syy",
      count: "Rivejä",
      rejectedRows: "Hylätyt rivit",
      failure: "Virhe",
      report: "Raportti",
      running: "Ajo on kesken; tila päivittyy.",
    },
    en: {
      listTitle: "Import runs",
      partner: "Partner",
      allPartners: "All partners",
      partnerId: "Partner",
      show: "Show",
      none: "No import runs.",
      open: "Open",
      back: "Back to the list",
      received: "Received",
      file: "File",
      state: "State",
      rows: "Rows",
      started: "Started",
      finished: "Finished",
      fullRefresh: "Full refresh",
      yes: "yes",
      no: "no",
      counts: "Counts",
      rejected: "Rejected rows by reason",
      noRejected: "No rejected rows.",
      reason: "Reason",
      count: "Rows",
      rejectedRows: "Rejected rows",
      failure: "Failure",
      report: "Report",
      running: "The run is in progress; its state updates.",
    },
  };
  const FINAL = ["done", "failed"]; // chalicelib/imports/runs.py STATES
  const POLL_MS = 3000;

  let T, h, fill, say, show, field, form, api, apiError, pagedTable, rejectedRows, label, counts, partners;
  let partner = "";
  let poll = null;

  function bind(kit) {
    ({ h, fill, say, show, field, form, api, apiError, pagedTable, rejectedRows, label, counts, partners } = kit);
    T = { ...kit.T, ...TEXT[kit.lang] };
  }

  function listScreen() {
    clearTimeout(poll);
    const list = h("div", { id: "runs" });
    const picker = h(
      "select",
      { id: "run-partner", name: "run-partner" },
      h("option", { value: "" }, T.allPartners),
      partner ? h("option", { value: partner, selected: true }, partner) : null,
    );
    show(
      T.listTitle,
      form(
        (data) => {
          partner = String(data.get("run-partner") || "").trim();
          loadRuns(list);
        },
        h("p", { class: "field" }, h("label", { for: "run-partner" }, T.partner), picker),
        h("button", { type: "submit" }, T.show),
      ),
      list,
    );
    loadRuns(list);
    // The partners that send files (data providers, resellers), once the registry answers.
    partners()
      .then((all) => {
        for (const p of all) {
          if (p.kind === "marketing" || p.partner_id === partner) continue;
          picker.append(h("option", { value: p.partner_id }, `${p.name || p.partner_id} (${p.partner_id})`));
        }
      })
      .catch(apiError);
  }

  function loadRuns(list) {
    pagedTable(list, {
      columns: [T.received, T.partnerId, T.file, T.state, T.rows, ""],
      empty: T.none,
      load: (cursor) => {
        const query = new URLSearchParams({ limit: "25" });
        if (partner) query.set("partner_id", partner);
        if (cursor) query.set("cursor", cursor);
        return api("GET", `import-runs?${query}`);
      },
      row: (run) =>
        h(
          "tr",
          { "data-run": run.run_id },
          h("td", {}, String(run.received_at || "")),
          h("td", {}, String(run.partner_id || "")),
          h("td", {}, String(run.file_name || "")),
          h("td", {}, label("runStates", run.state)),
          h("td", {}, counts(run.counts)),
          h("td", {}, h("button", { type: "button", class: "secondary", onclick: () => openRun(run.run_id) }, T.open)),
        ),
    });
  }

  function openRun(id) {
    clearTimeout(poll);
    say(T.loading);
    api("GET", `import-runs/${encodeURIComponent(id)}`)
      .then((run) => runScreen(run))
      .catch(apiError);
  }

  function runScreen(run) {
    const rows = [
      [T.partnerId, run.partner_id, "partner"],
      [T.file, run.file_name, "file"],
      [T.state, label("runStates", run.state), "state"],
      [T.fullRefresh, run.full_refresh ? T.yes : T.no, "full_refresh"],
      [T.received, run.received_at, "received"],
      [T.started, run.started_at, "started"],
      [T.finished, run.finished_at, "finished"],
      [T.counts, counts(run.counts), "counts"],
      run.failure && [T.failure, typeof run.failure === "object" ? run.failure.code || run.failure.message : run.failure, "failure"],
      run.report_key && [T.report, run.report_key, "report"],
    ].filter((r) => r && r[1] !== undefined && r[1] !== null);
    const rejected = Object.entries(run.rejected_by_reason || {});
    const rowsBox = h("div", { id: "rejected-rows" });
    show(
      `${T.listTitle}: ${run.file_name || run.run_id}`,
      h("p", {}, h("button", { type: "button", class: "secondary", onclick: listScreen }, T.back)),
      h("dl", { id: "run" }, rows.flatMap(([label, value, key]) => [h("dt", {}, label), h("dd", { "data-field": key }, String(value))])),
      h(
        "section",
        { "aria-labelledby": "rejected-title" },
        h("h3", { id: "rejected-title" }, T.rejected),
        rejected.length
          ? h(
              "table",
              { id: "rejected" },
              h("thead", {}, h("tr", {}, h("th", { scope: "col" }, T.reason), h("th", { scope: "col" }, T.count))),
              h("tbody", {}, rejected.map(([reason, count]) => h("tr", {}, h("td", {}, label("rejectReasons", reason)), h("td", {}, String(count))))),
            )
          : h("p", {}, T.noRejected),
      ),
      rejected.length
        ? h("section", { "aria-labelledby": "rejected-rows-title" }, h("h3", { id: "rejected-rows-title" }, T.rejectedRows), rowsBox)
        : null,
    );
    if (rejected.length) rejectedRows(rowsBox, `import-runs/${encodeURIComponent(run.run_id)}/rejected-rows`);
    if (!run.finished_at && !FINAL.includes(run.state)) {
      say(T.running);
      poll = setTimeout(() => {
        if (document.getElementById("run")) openRun(run.run_id);
      }, POLL_MS);
    }
  }

  window.IlopisteConsole.register({
    id: "imports",
    roles: ["staff", "dpo"],
    label: { fi: "Tuonnit", en: "Imports" },
    start(kit) {
      bind(kit);
      listScreen();
    },
  });
})();
