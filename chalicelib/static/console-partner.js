/* The partner portal's screens. A data provider (and a reseller, which may upload too) sends
   a contact list straight from the browser to the upload bucket with a presigned POST
   (POST /partner/uploads: the form; the page's CSP allows exactly the bucket's origin), then
   follows the import run (polling GET /partner/import-runs/{id} with a visible status) to its
   report: the counts and the rejected rows with their line numbers and reasons
   (GET /partner/import-runs/{id}/rejected-rows, page by page); earlier runs are listed page by
   page. A reseller lists, adds and removes its end users (/partner/end-users). Every rule is
   the API's (and S3's, for the form): this page shows what they answer. Registered with
   console.js, which signs in and lends the page builders and the API (`kit`). */
(function () {
  "use strict";

  const TEXT = {
    fi: {
      uploadTitle: "Lähetä yhteystietoluettelo",
      uploadIntro: "Valitse .csv- tai .xlsx-tiedosto (enintään 50 Mt). Tiedosto tuodaan rekisteriin, ja näet sen jälkeen raportin: montako riviä tuotiin ja mitkä rivit hylättiin ja miksi.",
      file: "Tiedosto",
      send: "Lähetä",
      chooseFile: "Valitse ensin tiedosto.",
      sending: "Lähetetään tiedostoa…",
      uploadRefused: "Tallennuspalvelu ei ottanut tiedostoa vastaan (tila {status}). Pyydä uusi lähetys ja yritä uudelleen.",
      waiting: "Tiedosto vastaanotettu. Odotetaan tuonnin alkamista…",
      tooLong: "Tuonti ei näy vielä. Katso tilanne myöhemmin aiemmista tuonneista.",
      runTitle: "Tuonti: {file}",
      state: "Tila",
      progress: "Tuonnin tila: {state}. Sivu päivittyy itsestään.",
      finished: "Tuonti on valmis.",
      failedRun: "Tuonti epäonnistui: {reason}",
      fileName: "Tiedosto",
      received: "Vastaanotettu",
      finishedAt: "Valmistui",
      countsTitle: "Rivit",
      rejectedTitle: "Hylätyt rivit",
      noRejected: "Yhtään riviä ei hylätty.",
      runsTitle: "Aiemmat tuonnit",
      noRuns: "Ei aiempia tuonteja.",
      open: "Näytä raportti",
      back: "Takaisin lähetykseen",
      usersTitle: "Loppukäyttäjät",
      usersIntro: "Loppukäyttäjistäsi tallennetaan vain nimi ja sähköpostiosoite.",
      addTitle: "Lisää loppukäyttäjä",
      name: "Nimi",
      email: "Sähköposti",
      add: "Lisää",
      added: "Loppukäyttäjä lisätty.",
      remove: "Poista",
      removeNamed: "Poista {name}",
      removed: "Loppukäyttäjä poistettu.",
      noUsers: "Ei loppukäyttäjiä.",
      errors: {
        notice_not_delivered: "Tiedostojasi ei vielä tuoda: tietosuojaselosteen toimitusta ei ole kirjattu. Ota yhteyttä Ilopisteeseen.",
        invalid_file_name: "Tiedoston nimi ei kelpaa: {detail}",
        invalid_content_type: "Tiedoston tyyppi ei vastaa sen päätettä (.csv tai .xlsx).",
      },
    },
    en: {
      uploadTitle: "Send a contact list",
      uploadIntro: "Choose a .csv or .xlsx file (at most 50 MB). The file is imported into the register, and you then see its report: how many rows were imported, and which rows were rejected and why.",
      file: "File",
      send: "Send",
      chooseFile: "Choose a file first.",
      sending: "Sending the file…",
      uploadRefused: "The storage service did not accept the file (status {status}). Send it again.",
      waiting: "File received. Waiting for the import to start…",
      tooLong: "The import does not show yet. Look for it later among the earlier imports.",
      runTitle: "Import: {file}",
      state: "Status",
      progress: "Import status: {state}. This page updates by itself.",
      finished: "The import is done.",
      failedRun: "The import failed: {reason}",
      fileName: "File",
      received: "Received",
      finishedAt: "Finished",
      countsTitle: "Rows",
      rejectedTitle: "Rejected rows",
      noRejected: "No row was rejected.",
      runsTitle: "Earlier imports",
      noRuns: "No earlier imports.",
      open: "Show the report",
      back: "Back to sending",
      usersTitle: "End users",
      usersIntro: "Only the name and email address of your end users are stored.",
      addTitle: "Add an end user",
      name: "Name",
      email: "Email",
      add: "Add",
      added: "End user added.",
      remove: "Remove",
      removeNamed: "Remove {name}",
      removed: "End user removed.",
      noUsers: "No end users.",
      errors: {
        notice_not_delivered: "Your files are not imported yet: the delivery of the privacy notice is not on record. Contact Ilopiste.",
        invalid_file_name: "The file name is not accepted: {detail}",
        invalid_content_type: "The file's type does not fit its extension (.csv or .xlsx).",
      },
    },
  };

  const POLL_MS = 1500;
  const WAIT_FOR_RUN_MS = 120000;

  let T, h, fill, say, fail, show, field, form, api, refusals, pagedTable, rejectedRows, label;
  let poll = null; // the one timer this area runs (a run being followed)

  function bind(kit) {
    ({ h, fill, say, fail, show, field, form, api, refusals, pagedTable, rejectedRows, label } = kit);
    T = { ...kit.T, ...TEXT[kit.lang] };
    stopPolling();
  }

  function stopPolling() {
    if (poll) clearTimeout(poll);
    poll = null;
  }

  // A poll's answer is shown only while its screen is (another area may have opened since).
  function later(screenId, then) {
    poll = setTimeout(() => {
      poll = null;
      if (document.getElementById(screenId)) then();
    }, POLL_MS);
  }

  function failWith(err) {
    return refusals(T.errors)(err);
  }

  function cells(...values) {
    return h("tr", {}, ...values.map((v) => h("td", {}, v === undefined || v === null ? "" : v)));
  }

  function stateText(state) {
    return label("runStates", state);
  }

  // -- uploading ----------------------------------------------------------------------------

  function uploadScreen(message) {
    stopPolling();
    const runsBox = h("div", { id: "runs" });
    show(
      T.uploadTitle,
      h("p", {}, T.uploadIntro),
      form(
        (data) => {
          const file = data.get("file");
          if (!(file instanceof File) || !file.name) return fail(T.chooseFile);
          return send(file);
        },
        h("p", { class: "field" }, h("label", { for: "file" }, T.file), h("input", { id: "file", name: "file", type: "file", accept: ".csv,.xlsx", required: true })),
        h("button", { type: "submit" }, T.send),
      ),
      h("section", { "aria-labelledby": "runs-title" }, h("h3", { id: "runs-title" }, T.runsTitle), runsBox),
    );
    listRuns(runsBox, message);
  }

  async function send(file) {
    say(T.sending);
    let presigned;
    try {
      presigned = await api("POST", "partner/uploads", { file_name: file.name, ...(file.type ? { content_type: file.type } : {}) });
    } catch (err) {
      return failWith(err);
    }
    // The form's fields first, the file last: S3 reads the policy before the content.
    const body = new FormData();
    for (const [name, value] of Object.entries(presigned.fields)) body.append(name, value);
    body.append("file", file);
    let response;
    try {
      response = await fetch(presigned.url, { method: "POST", body, credentials: "omit", cache: "no-store" });
    } catch (err) {
      return fail(T.errors.network);
    }
    if (!response.ok) return fail(fill(T.uploadRefused, { status: response.status }));
    say(T.waiting);
    findRun(presigned.key, Date.now());
  }

  // The run of this upload: the newest runs are listed first; its object key is the form's.
  function findRun(key, started) {
    api("GET", "partner/import-runs?limit=10")
      .then((page) => {
        if (!document.getElementById("runs")) return;
        const run = (page.items || []).find((r) => r.upload_key === key);
        if (run) return runScreen(run);
        if (Date.now() - started > WAIT_FOR_RUN_MS) return say(T.tooLong);
        later("runs", () => findRun(key, started));
      })
      .catch(failWith);
  }

  function listRuns(box, message) {
    if (message) say(message);
    pagedTable(box, {
      columns: [T.fileName, T.received, T.state, ""],
      empty: T.noRuns,
      load: (cursor) => {
        const query = new URLSearchParams({ limit: "10", ...(cursor ? { cursor } : {}) });
        return api("GET", `partner/import-runs?${query}`);
      },
      row: (run) =>
        h(
          "tr",
          {},
          h("td", {}, run.file_name || ""),
          h("td", {}, run.received_at || ""),
          h("td", {}, stateText(run.state)),
          h("td", {}, h("button", { type: "button", class: "secondary", "aria-label": `${T.open}: ${run.file_name || run.run_id}`, onclick: () => openRun(run.run_id) }, T.open)),
        ),
    });
  }

  function openRun(runId) {
    stopPolling();
    say(T.loading);
    api("GET", `partner/import-runs/${encodeURIComponent(runId)}`).then(runScreen).catch(failWith);
  }

  // -- one run: its status while it goes, then its report ----------------------------------

  function runScreen(run) {
    stopPolling();
    const going = run.state === "received" || run.state === "running";
    const status = h("p", { id: "run-state" }, h("strong", {}, `${T.state}: `), h("span", { "data-state": run.state }, stateText(run.state)));
    const details = h(
      "dl",
      { id: "run", "data-run": run.run_id },
      h("dt", {}, T.fileName),
      h("dd", {}, run.file_name || ""),
      h("dt", {}, T.received),
      h("dd", {}, run.received_at || ""),
      run.finished_at ? [h("dt", {}, T.finishedAt), h("dd", {}, run.finished_at)] : [],
    );
    const counts = run.counts || {};
    const countRows = Object.keys(T.runCounts)
      .filter((name) => counts[name] !== undefined && (counts[name] || ["rows", "inserted", "rejected"].includes(name)))
      .map((name) => h("tr", {}, h("th", { scope: "row" }, label("runCounts", name)), h("td", { "data-count": name }, String(counts[name]))));
    const rejects = h("div", { id: "rejected" });
    show(
      fill(T.runTitle, { file: run.file_name || run.run_id }),
      h("p", {}, h("button", { type: "button", class: "secondary", onclick: () => uploadScreen() }, T.back)),
      status,
      details,
      h("section", { "aria-labelledby": "counts-title" }, h("h3", { id: "counts-title" }, T.countsTitle), h("table", { id: "counts" }, h("tbody", {}, countRows))),
      !going && h("section", { "aria-labelledby": "rejected-title" }, h("h3", { id: "rejected-title" }, T.rejectedTitle), rejects),
    );
    if (going) {
      say(fill(T.progress, { state: stateText(run.state) }));
      later("run-state", () => {
        api("GET", `partner/import-runs/${encodeURIComponent(run.run_id)}`)
          // Only while this run's screen is shown (the person may have opened another run).
          .then((next) => document.querySelector(`#run[data-run="${CSS.escape(run.run_id)}"]`) && runScreen(next))
          .catch(failWith);
      });
      return;
    }
    if (run.state === "failed") fail(fill(T.failedRun, { reason: (run.failure && run.failure.code) || "" }));
    else say(T.finished);
    if (counts.rejected) rejectedRows(rejects, `partner/import-runs/${encodeURIComponent(run.run_id)}/rejected-rows`);
    else rejects.replaceChildren(h("p", {}, T.noRejected));
  }

  // -- a reseller's end users --------------------------------------------------------------

  function usersScreen(message) {
    stopPolling();
    const list = h("div", { id: "end-users" });
    show(
      T.usersTitle,
      h("p", {}, T.usersIntro),
      list,
      h(
        "section",
        { "aria-labelledby": "add-title" },
        h("h3", { id: "add-title" }, T.addTitle),
        form(
          (data) => {
            const body = { name: String(data.get("name") || "").trim(), email: String(data.get("email") || "").trim() };
            say(T.loading);
            api("POST", "partner/end-users", body).then(() => usersScreen(T.added)).catch(failWith);
          },
          field("name", T.name, { type: "text", autocomplete: "off", required: true }),
          field("email", T.email, { type: "email", autocomplete: "off", required: true }),
          h("button", { type: "submit" }, T.add),
        ),
      ),
    );
    listUsers(list, message);
  }

  function listUsers(box, message) {
    if (message) say(message);
    pagedTable(box, {
      columns: [T.name, T.email, ""],
      empty: T.noUsers,
      load: (cursor) => {
        const query = new URLSearchParams({ limit: "25", ...(cursor ? { cursor } : {}) });
        return api("GET", `partner/end-users?${query}`);
      },
      row: (user) => {
        const id = user.end_user_id || user.customer_id;
        const who = user.name || user.email || id;
        return h(
          "tr",
          {},
          h("td", {}, user.name || ""),
          h("td", {}, user.email || ""),
          h("td", {}, h("button", {
            type: "button",
            class: "secondary",
            "aria-label": fill(T.removeNamed, { name: who }),
            onclick: () => {
              say(T.loading);
              api("DELETE", `partner/end-users/${encodeURIComponent(id)}`).then(() => usersScreen(T.removed)).catch(failWith);
            },
          }, T.remove)),
        );
      },
    });
  }

  window.IlopisteConsole.register({
    id: "uploads",
    roles: ["partner", "reseller"],
    label: { fi: "Tiedostot", en: "Files" },
    start(kit) {
      bind(kit);
      uploadScreen();
    },
  });

  window.IlopisteConsole.register({
    id: "end-users",
    roles: ["reseller"],
    label: { fi: "Loppukäyttäjät", en: "End users" },
    start(kit) {
      bind(kit);
      usersScreen();
    },
  });
})();
