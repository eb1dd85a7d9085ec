/* The call list as a file, for both who may call its people: staff (`campaigns/{id}`) and the
   assigned marketing partner (`marketing/campaigns/{id}`). Downloaded as .xlsx or CSV
   (GET …/call-list?format=…: every person in it a recorded disclosure) and sent back with its
   outcome column filled (POST …/outcomes, the file itself as the body), the answer shown as
   counts and each rejected line with why. Not an area: the campaign screens of both build
   their file section with `IlopisteCallListFiles.section(kit, base, {sent, failure})`, and
   name a call's outcome with `IlopisteCallListFiles.outcomes(lang)`. Every
   rule (what a file sent back must hold, what each outcome does) is the API's. */
(function () {
  "use strict";

  const TEXT = {
    fi: {
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
      errors: {
        missing_columns: "Tiedostosta puuttuu sarake prospect_id tai outcome. Lähetä soittolista sellaisena kuin se ladattiin, tulokset täytettyinä.",
        unsupported_format: "Vain .xlsx- ja .csv-tiedostot käyvät.",
        unreadable_xlsx: "Excel-tiedostoa ei voitu lukea.",
        invalid_encoding: "Tiedoston merkistöä ei tunnistettu. Tallenna se UTF-8-muodossa.",
        malformed_csv: "CSV-tiedostoa ei voitu lukea.",
        empty_file: "Tiedosto on tyhjä.",
        too_many_rows: "Tiedostossa on liikaa rivejä soittolistaksi.",
        too_many_outcomes: "Liian monta uutta tulosta kerralla: lähetä lista osissa.",
        call_list_too_large: "Soittolista on liian suuri ladattavaksi yhtenä tiedostona.",
      },
    },
    en: {
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
      errors: {
        missing_columns: "The file has no prospect_id or outcome column. Send the call list as it was downloaded, with its outcomes filled in.",
        unsupported_format: "Only .xlsx and .csv files are accepted.",
        unreadable_xlsx: "The Excel file could not be read.",
        invalid_encoding: "The file's character encoding was not recognised. Save it as UTF-8.",
        malformed_csv: "The CSV file could not be read.",
        empty_file: "The file is empty.",
        too_many_rows: "The file has too many rows for a call list.",
        too_many_outcomes: "Too many new outcomes at once: send the list in parts.",
        call_list_too_large: "The call list is too large to download as one file.",
      },
    },
  };

  // The media type a list goes back with, by its extension: the API accepts the two types (and
  // application/octet-stream) and reads the content; a browser may label a .csv
  // application/vnd.ms-excel, which the API would refuse as a media type.
  const FILE_TYPES = {
    xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    csv: "text/csv",
  };

  // The API's answer to a list sent back: its counts, and each rejected line with why.
  function showResult(kit, T, box, answer) {
    const { h, label } = kit;
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

  // The section for the call list at API path `base`: `sent(answer)` runs after a list sent
  // back was read (the answer already shown and said); `failure(err)` takes any error that is
  // not a file's own (default: kit.apiError).
  function section(kit, base, { sent, failure } = {}) {
    const { h, fill, say, fail, form, action, download, send } = kit;
    const T = { ...kit.T, ...TEXT[kit.lang] };
    // A file's own refusals in these words; any other error as the screen handles it.
    const failWith = (err) => (Object.hasOwn(T.errors, err.code) && err.status !== 401 ? fail(T.errors[err.code]) : (failure || kit.apiError)(err));
    const result = h("div", { id: "outcomes-result" });
    const fetchAs = (format) => () => {
      say(T.loading);
      return download(`${base}/call-list?format=${format}`, `soittolista.${format}`)
        .then((name) => say(fill(T.downloaded, { name })))
        .catch(failWith);
    };
    const downloadButton = (format, text) => {
      const button = action(text, fetchAs(format), { secondary: true });
      button.id = `download-${format}`;
      return button;
    };
    return h(
      "section",
      { "aria-labelledby": "file-title", id: "call-list-file" },
      h("h3", { id: "file-title" }, T.fileTitle),
      h("p", {}, T.fileIntro),
      h("p", {}, downloadButton("xlsx", T.downloadXlsx), " ", downloadButton("csv", T.downloadCsv)),
      h("h4", {}, T.sendBackTitle),
      form(
        (data) => {
          const file = data.get("outcomes-file");
          if (!(file instanceof File) || !file.name) return fail(T.chooseFile);
          const type = FILE_TYPES[file.name.split(".").pop().toLowerCase()] || "application/octet-stream";
          result.replaceChildren();
          say(T.sending);
          return send("POST", `${base}/outcomes`, new Blob([file], { type }))
            .then((answer) => {
              showResult(kit, T, result, answer);
              say(fill(T.result, { applied: answer.counts.applied, rejected: answer.counts.rejected }));
              if (sent) sent(answer);
            })
            .catch(failWith);
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

  // A call's outcome codes in `lang`'s words: one wording for staff and the partner.
  function outcomes(lang) {
    return { ...TEXT[lang === "en" ? "en" : "fi"].outcomes };
  }

  window.IlopisteCallListFiles = Object.freeze({ section, outcomes });
})();
