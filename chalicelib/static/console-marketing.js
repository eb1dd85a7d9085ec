/* The marketing partner's screens: the phone campaigns assigned to it (GET /marketing/campaigns,
   page by page), one campaign's caller script and its call list as it stands now, shown in the
   page (GET /marketing/campaigns/{id}/audience, page by page: each read is a disclosure the API
   records), and a call's outcome recorded per person (PUT …/members/{prospect_id}/outcome), an
   objection included. The call list also goes as a file: downloaded as .xlsx or CSV
   (GET …/call-list?format=…, every person a recorded disclosure) and sent back with its outcome
   column filled (POST …/outcomes, the file itself as the body), the answer shown as rows
   applied and rows rejected with line and reason. Every rule is the API's: what an outcome
   does, which outcomes end a person's place in the list, what a file sent back must hold.
   Registered with console.js (`kit`). */
(function () {
  "use strict";

  const OUTCOMES = ["reached", "no_answer", "objected", "wrong_person", "left_organisation", "do_not_call"];

  const TEXT = {
    fi: {
      listTitle: "Soittokampanjat",
      intro: "Sinulle osoitetut soittokampanjat. Avaa kampanja nähdäksesi soittolistan ja soittajan ohjeen.",
      none: "Sinulle ei ole osoitettu kampanjoita.",
      name: "Kampanja",
      purpose: "Tarkoitus",
      status: "Tila",
      audience: "Henkilöitä",
      open: "Avaa",
      openNamed: "Avaa {name}",
      back: "Takaisin kampanjoihin",
      scriptTitle: "Soittajan ohje",
      callListTitle: "Soittolista",
      noMembers: "Soittolistalla ei ole ketään.",
      organization: "Organisaatio",
      contact_name: "Nimi",
      title: "Titteli",
      email: "Sähköposti",
      phone: "Puhelin",
      source: "Tietojen lähde",
      outcome: "Tulos",
      outcomeFor: "Tulos: {name}",
      choose: "Valitse tulos",
      record: "Kirjaa",
      recordFor: "Kirjaa tulos: {name}",
      recorded: "Tulos kirjattu: {name}, {outcome}.",
      unchanged: "Sama tulos oli jo kirjattu: {name}.",
      chooseFirst: "Valitse ensin tulos.",
      fileTitle: "Soittolista tiedostona",
      fileIntro: "Lataa soittolista tiedostona, kirjaa sarakkeeseen outcome kunkin puhelun tulos (yksi koodi riville, ks. soittajan ohje) ja lähetä täytetty tiedosto takaisin. Rivit ilman tulosta jätetään ennalleen.",
      downloadXlsx: "Lataa Excel-tiedostona (.xlsx)",
      downloadCsv: "Lataa CSV-tiedostona",
      downloaded: "Soittolista ladattu: {name}.",
      sendBackTitle: "Lähetä täytetty soittolista",
      filled: "Täytetty soittolista (.xlsx tai .csv)",
      sendBack: "Lähetä tulokset",
      chooseFile: "Valitse ensin tiedosto.",
      sending: "Lähetetään tiedostoa…",
      resultTitle: "Lähetetyn soittolistan tulokset",
      result: "Soittolista luettu. Tuloksia kirjattu: {applied}; rivejä hylätty: {rejected}.",
      noRejected: "Yhtään riviä ei hylätty.",
      rejectedTitle: "Hylätyt rivit",
      line: "Rivi",
      reason: "Syy",
      uploadCounts: {
        applied: "kirjattu",
        unchanged: "sama tulos jo kirjattu",
        blank: "ei tulosta (ei vielä soitettu)",
        rejected: "hylätty",
      },
      uploadReasons: {
        unknown_outcome: "tuntematon tuloskoodi",
        invalid_prospect_id: "prospect_id-sarakkeen tunnus ei kelpaa",
        conflicting_rows: "sama henkilö usealla rivillä eri tuloksin",
        not_found: "henkilö ei kuulu tähän kampanjaan",
        not_in_audience: "henkilö ei ole enää soittolistalla",
        outcome_final: "henkilön tulos on jo lopullinen",
      },
      outcomes: {
        reached: "tavoitettu, keskusteltu",
        no_answer: "ei vastannut",
        objected: "kielsi suoramarkkinoinnin",
        wrong_person: "väärä henkilö",
        left_organisation: "ei enää organisaatiossa",
        do_not_call: "ei puheluita tähän numeroon",
      },
      statuses: { ready: "valmis", materialising: "muodostetaan", draft: "luonnos", closed: "suljettu" },
      errors: {
        outcome_final: "Henkilön tulos on jo lopullinen, eikä sitä voi enää muuttaa.",
        not_in_audience: "Henkilö ei ole enää soittolistalla.",
        missing_columns: "Tiedostosta puuttuu sarake prospect_id tai outcome. Lähetä soittolista sellaisena kuin se ladattiin, tulokset täytettyinä.",
        unsupported_format: "Vain .xlsx- ja .csv-tiedostot käyvät.",
        unreadable_xlsx: "Excel-tiedostoa ei voitu lukea.",
        invalid_encoding: "Tiedoston merkistöä ei tunnistettu. Tallenna se UTF-8-muodossa.",
        malformed_csv: "CSV-tiedostoa ei voitu lukea.",
        empty_file: "Tiedosto on tyhjä.",
        too_many_rows: "Tiedostossa on liikaa rivejä soittolistaksi.",
        too_many_outcomes: "Liian monta uutta tulosta kerralla: lähetä lista osissa.",
        campaign_closed: "Kampanja on suljettu.",
        campaign_not_ready: "Kampanjan soittolista ei ole vielä valmis.",
        call_list_too_large: "Soittolista on liian suuri ladattavaksi yhtenä tiedostona.",
      },
    },
    en: {
      listTitle: "Phone campaigns",
      intro: "The phone campaigns assigned to you. Open a campaign to see its call list and the caller script.",
      none: "No campaign is assigned to you.",
      name: "Campaign",
      purpose: "Purpose",
      status: "Status",
      audience: "People",
      open: "Open",
      openNamed: "Open {name}",
      back: "Back to the campaigns",
      scriptTitle: "Caller script",
      callListTitle: "Call list",
      noMembers: "Nobody is on the call list.",
      organization: "Organisation",
      contact_name: "Name",
      title: "Title",
      email: "Email",
      phone: "Phone",
      source: "Source of the data",
      outcome: "Outcome",
      outcomeFor: "Outcome: {name}",
      choose: "Choose an outcome",
      record: "Record",
      recordFor: "Record the outcome: {name}",
      recorded: "Outcome recorded: {name}, {outcome}.",
      unchanged: "The same outcome was already recorded: {name}.",
      chooseFirst: "Choose an outcome first.",
      fileTitle: "The call list as a file",
      fileIntro: "Download the call list as a file, record each call's outcome in its outcome column (one code per row, see the caller script) and send the filled file back. Rows with no outcome are left as they are.",
      downloadXlsx: "Download as Excel (.xlsx)",
      downloadCsv: "Download as CSV",
      downloaded: "Call list downloaded: {name}.",
      sendBackTitle: "Send the filled call list",
      filled: "Filled call list (.xlsx or .csv)",
      sendBack: "Send the outcomes",
      chooseFile: "Choose a file first.",
      sending: "Sending the file…",
      resultTitle: "Outcomes of the list sent back",
      result: "The call list was read. Outcomes recorded: {applied}; rows rejected: {rejected}.",
      noRejected: "No row was rejected.",
      rejectedTitle: "Rejected rows",
      line: "Line",
      reason: "Reason",
      uploadCounts: {
        applied: "recorded",
        unchanged: "the same outcome already recorded",
        blank: "no outcome (not called yet)",
        rejected: "rejected",
      },
      uploadReasons: {
        unknown_outcome: "an unknown outcome code",
        invalid_prospect_id: "the prospect_id column's id is not valid",
        conflicting_rows: "the same person on several rows with different outcomes",
        not_found: "the person is not in this campaign",
        not_in_audience: "the person is no longer on the call list",
        outcome_final: "the person's outcome is already final",
      },
      outcomes: {
        reached: "reached, talked",
        no_answer: "no answer",
        objected: "objected to direct marketing",
        wrong_person: "wrong person",
        left_organisation: "left the organisation",
        do_not_call: "no calls to this number",
      },
      statuses: { ready: "ready", materialising: "being formed", draft: "draft", closed: "closed" },
      errors: {
        outcome_final: "This person's outcome is final and can no longer be changed.",
        not_in_audience: "This person is no longer on the call list.",
        missing_columns: "The file has no prospect_id or outcome column. Send the call list as it was downloaded, with its outcomes filled in.",
        unsupported_format: "Only .xlsx and .csv files are accepted.",
        unreadable_xlsx: "The Excel file could not be read.",
        invalid_encoding: "The file's character encoding was not recognised. Save it as UTF-8.",
        malformed_csv: "The CSV file could not be read.",
        empty_file: "The file is empty.",
        too_many_rows: "The file has too many rows for a call list.",
        too_many_outcomes: "Too many new outcomes at once: send the list in parts.",
        campaign_closed: "The campaign is closed.",
        campaign_not_ready: "The campaign's call list is not ready yet.",
        call_list_too_large: "The call list is too large to download as one file.",
      },
    },
  };

  const COLUMNS = ["organization", "contact_name", "title", "phone", "email", "source"];
  // The media type a list sent back goes with, by its extension (the API reads the body as
  // that type; a browser may name a .csv e.g. application/vnd.ms-excel).
  const FILE_TYPES = {
    xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    csv: "text/csv",
  };

  let T, lang, h, fill, say, fail, show, api, apiError, pagedTable, label, download, send;

  function bind(kit) {
    ({ lang, h, fill, say, fail, show, api, apiError, pagedTable, label, download, send } = kit);
    T = { ...kit.T, ...TEXT[kit.lang] };
  }

  function failWith(err) {
    const own = T.errors[err.code];
    if (own && err.status !== 401) return fail(own);
    return apiError(err);
  }

  // -- the campaigns --------------------------------------------------------------------

  function campaignsScreen() {
    const box = h("div", { id: "campaigns" });
    show(T.listTitle, h("p", {}, T.intro), box);
    pagedTable(box, {
      columns: [T.name, T.purpose, T.status, T.audience, ""],
      empty: T.none,
      load: (cursor) => {
        const query = new URLSearchParams({ limit: "25", ...(cursor ? { cursor } : {}) });
        return api("GET", `marketing/campaigns?${query}`);
      },
      row: (c) =>
        h(
          "tr",
          {},
          h("td", {}, c.name || ""),
          h("td", {}, c.purpose || ""),
          h("td", {}, label(T.statuses, c.status)),
          h("td", {}, String(c.audience ?? "")),
          h("td", {}, h("button", { type: "button", class: "secondary", "aria-label": fill(T.openNamed, { name: c.name || "" }), onclick: () => openCampaign(c.campaign_id) }, T.open)),
        ),
    });
  }

  function openCampaign(id) {
    say(T.loading);
    api("GET", `marketing/campaigns/${encodeURIComponent(id)}`).then(campaignScreen).catch(failWith);
  }

  // -- one campaign: its script, its call list as a file, and in the page -----------------------

  function campaignScreen(campaign) {
    const id = campaign.campaign_id;
    const script = h("div", { id: "script" });
    const members = h("div", { id: "call-list" });
    const result = h("div", { id: "outcomes-result" });
    let reload = null;
    show(
      campaign.name || id,
      h("p", {}, h("button", { type: "button", class: "secondary", onclick: campaignsScreen }, T.back)),
      h("p", {}, campaign.purpose || ""),
      h("section", { "aria-labelledby": "script-title" }, h("h3", { id: "script-title" }, T.scriptTitle), script),
      fileSection(id, result, (answer) => {
        showResult(result, answer);
        say(fill(T.result, { applied: answer.counts.applied, rejected: answer.counts.rejected }));
        // The list in the page as it stands after the outcomes (a final one takes a person out).
        reload();
      }),
      h("section", { "aria-labelledby": "call-list-title" }, h("h3", { id: "call-list-title" }, T.callListTitle), members),
    );
    api("GET", `marketing/campaigns/${encodeURIComponent(id)}/call-list/script`)
      .then((doc) => script.replaceChildren(...(doc[lang] || []).map((line) => h("p", {}, line))))
      .catch(failWith);
    reload = pagedTable(members, {
      columns: [...COLUMNS.map((c) => T[c]), T.outcome],
      empty: T.noMembers,
      load: (cursor) => {
        const query = new URLSearchParams({ limit: "25", ...(cursor ? { cursor } : {}) });
        return api("GET", `marketing/campaigns/${encodeURIComponent(id)}/audience?${query}`);
      },
      row: (person) => memberRow(id, person),
    });
  }

  function fileSection(campaignId, result, sent) {
    const base = `marketing/campaigns/${encodeURIComponent(campaignId)}`;
    const fetchAs = (format) => () => {
      say(T.loading);
      download(`${base}/call-list?format=${format}`, `soittolista.${format}`)
        .then((name) => say(fill(T.downloaded, { name })))
        .catch(failWith);
    };
    return h(
      "section",
      { "aria-labelledby": "file-title", id: "call-list-file" },
      h("h3", { id: "file-title" }, T.fileTitle),
      h("p", {}, T.fileIntro),
      h(
        "p",
        {},
        h("button", { type: "button", class: "secondary", id: "download-xlsx", onclick: fetchAs("xlsx") }, T.downloadXlsx),
        " ",
        h("button", { type: "button", class: "secondary", id: "download-csv", onclick: fetchAs("csv") }, T.downloadCsv),
      ),
      h("h4", {}, T.sendBackTitle),
      h(
        "form",
        {
          novalidate: true,
          onsubmit: (event) => {
            event.preventDefault();
            const file = new FormData(event.target).get("outcomes-file");
            if (!(file instanceof File) || !file.name) return fail(T.chooseFile);
            const extension = file.name.split(".").pop().toLowerCase();
            const body = FILE_TYPES[extension] ? new Blob([file], { type: FILE_TYPES[extension] }) : file;
            result.replaceChildren();
            say(T.sending);
            send("POST", `${base}/outcomes`, body).then(sent).catch(failWith);
          },
        },
        h(
          "p",
          { class: "field" },
          h("label", { for: "outcomes-file" }, T.filled),
          h("input", { id: "outcomes-file", name: "outcomes-file", type: "file", accept: ".xlsx,.csv", required: true }),
        ),
        h("button", { type: "submit" }, T.sendBack),
      ),
      result,
    );
  }

  // The API's answer to a list sent back: its counts, and each rejected line with why.
  function showResult(box, answer) {
    const counts = answer.counts || {};
    const rejected = answer.rejected_rows || [];
    box.replaceChildren(
      h("h4", {}, T.resultTitle),
      h(
        "table",
        { id: "outcome-counts" },
        h(
          "tbody",
          {},
          Object.keys(T.uploadCounts)
            .filter((name) => counts[name] !== undefined)
            .map((name) => h("tr", {}, h("th", { scope: "row" }, label(T.uploadCounts, name)), h("td", { "data-count": name }, String(counts[name])))),
        ),
      ),
      h("h4", {}, T.rejectedTitle),
      rejected.length
        ? h(
            "table",
            { id: "outcome-rejects" },
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, T.line), h("th", { scope: "col" }, T.reason))),
            h("tbody", {}, rejected.map((row) => h("tr", {}, h("td", {}, String(row.line)), h("td", { "data-reason": row.reason }, label(T.uploadReasons, row.reason))))),
          )
        : h("p", {}, T.noRejected),
    );
  }

  function memberRow(campaignId, person) {
    const who = person.contact_name || person.prospect_id;
    const selectId = `outcome-${person.prospect_id}`;
    const select = h(
      "select",
      { id: selectId, name: "outcome", "aria-label": fill(T.outcomeFor, { name: who }) },
      h("option", { value: "" }, T.choose),
      OUTCOMES.map((code) => h("option", { value: code }, label(T.outcomes, code))),
    );
    const cell = h("td", { "data-prospect": person.prospect_id });
    const button = h("button", {
      type: "button",
      "aria-label": fill(T.recordFor, { name: who }),
      onclick: () => {
        const outcome = select.value;
        if (!outcome) return fail(T.chooseFirst);
        say(T.loading);
        api("PUT", `marketing/campaigns/${encodeURIComponent(campaignId)}/members/${encodeURIComponent(person.prospect_id)}/outcome`, { outcome })
          .then((answer) => {
            const text = label(T.outcomes, answer.outcome);
            cell.replaceChildren(h("span", { "data-outcome": answer.outcome }, text));
            say(answer.changed === false ? fill(T.unchanged, { name: who }) : fill(T.recorded, { name: who, outcome: text }));
          })
          .catch(failWith);
      },
    }, T.record);
    cell.append(select, " ", button);
    return h("tr", {}, COLUMNS.map((c) => h("td", {}, person[c] === undefined || person[c] === null ? "" : String(person[c]))), cell);
  }

  window.IlopisteConsole.register({
    id: "campaigns",
    roles: ["marketing"],
    label: { fi: "Soittokampanjat", en: "Phone campaigns" },
    start(kit) {
      bind(kit);
      campaignsScreen();
    },
  });
})();
