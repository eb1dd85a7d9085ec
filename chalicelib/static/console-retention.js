/* The DPO's retention screens (chalicelib/api/dpo.py): the preview of what a sweep on a day
   would do (GET /retention/preview, changing nothing) and the last sweeps with their counts
   per rule (GET /retention/runs, paged). A rule is named in the page's words as the privacy
   notice states it (GET /privacy-notice as JSON: its data, event, period and what then
   happens), so the DPO reads the same schedule the people read. Registered with console.js
   (`kit`). */
(function () {
  "use strict";

  const TEXT = {
    fi: {
      title: "Säilytysajat",
      previewTitle: "Esikatselu",
      asOf: "Päivä (tyhjä: tänään)",
      preview: "Esikatsele",
      rule: "Sääntö",
      due: "Erääntynyt",
      held: "Pidätetty",
      done: "Tehty",
      changed: "Muuttunut",
      itemsRead: "Luettuja rivejä: {n}",
      runsTitle: "Viimeisimmät ajot",
      at: "Aika",
      run: "Ajo",
      failed: "Epäonnistuneet säännöt",
      none: "Ei ajoja.",
      dryRun: " (kuiva-ajo)",
      ruleText: "{data}: {event}, {after} → {then}",
      audit: "Lokitapahtumat (poistuvat DynamoDB:n TTL:llä)",
      // Request cases are not in the notice's schedule; the preview gives their periods.
      caseRules: {
        case_unverified: "Tietopyyntö, jota ei vahvistettu: {period} saapumisesta → poistetaan",
        case_waiting: "Henkilön vastausta odottava pyyntö: {period} odotuksen alusta → henkilölle kerrotaan, pyyntö suljetaan",
        case_closed: "Suljettu pyyntö: {period} sulkemisesta → poistetaan",
      },
    },
    en: {
      title: "Retention",
      previewTitle: "Preview",
      asOf: "Day (empty: today)",
      preview: "Preview",
      rule: "Rule",
      due: "Due",
      held: "Held",
      done: "Done",
      changed: "Changed",
      itemsRead: "Items read: {n}",
      runsTitle: "The last sweeps",
      at: "Time",
      run: "Run",
      failed: "Failed rules",
      none: "No sweeps.",
      dryRun: " (dry run)",
      ruleText: "{data}: {event}, {after} → {then}",
      audit: "Audit events (expire by DynamoDB TTL)",
      caseRules: {
        case_unverified: "A request never verified: {period} from receipt → deleted",
        case_waiting: "A request waiting for the person's answer: {period} from the wait → the person told, the request closed",
        case_closed: "A closed request: {period} from closing → deleted",
      },
    },
  };

  let T, h, fill, say, show, field, form, api, apiError, more, lang;
  // The notice's schedule per language: {rule code: {data, event, after, then}}.
  const schedules = {};

  function bind(kit) {
    ({ h, fill, say, show, field, form, api, apiError, more, lang } = kit);
    T = { ...kit.T, ...TEXT[kit.lang] };
  }

  function loadSchedule() {
    if (schedules[lang]) return Promise.resolve(schedules[lang]);
    return api("GET", `privacy-notice?${new URLSearchParams({ lang })}`).then((doc) => {
      const rules = {};
      for (const register of doc.registers || []) for (const rule of register.retention || []) rules[rule.rule] = rule;
      schedules[lang] = rules;
      return rules;
    });
  }

  // A rule's cell: the notice's words, the code kept as data-rule; a request case rule in the
  // page's words with the period the preview gives (`shown`); any other rule the notice does not
  // list, the code itself.
  function ruleCell(name, shown) {
    const rule = (schedules[lang] || {})[name];
    if (name === "audit_events") return h("td", { "data-rule": name }, T.audit);
    if (!rule && T.caseRules[name] && shown && shown.period) {
      return h("td", { "data-rule": name }, fill(T.caseRules[name], { period: shown.period[lang] || shown.after }));
    }
    return h("td", { "data-rule": name }, rule ? fill(T.ruleText, rule) : name);
  }

  function cell(value) {
    return h("td", { class: "num" }, value === undefined || value === null ? "" : String(value));
  }

  function header(texts) {
    return h("thead", {}, h("tr", {}, texts.map((t, i) => h("th", { scope: "col", class: i ? "num" : null }, t))));
  }

  function screen() {
    const preview = h("div", { id: "preview" });
    const runs = h("div", { id: "sweeps" });
    show(
      T.title,
      h(
        "section",
        { "aria-labelledby": "preview-title" },
        h("h3", { id: "preview-title" }, T.previewTitle),
        form(
          (data) => loadPreview(preview, String(data.get("as-of") || "")),
          field("as-of", T.asOf, { type: "date" }),
          h("button", { type: "submit" }, T.preview),
        ),
        preview,
      ),
      h("section", { "aria-labelledby": "sweeps-title" }, h("h3", { id: "sweeps-title" }, T.runsTitle), runs),
    );
    loadSchedule()
      .catch(() => ({})) // without the notice, rules show by their codes
      .then(() => loadRuns(runs, null, true));
  }

  function loadPreview(box, asOf) {
    say(T.loading);
    api("GET", `retention/preview${asOf ? `?${new URLSearchParams({ as_of: asOf })}` : ""}`)
      .then((result) => {
        say("");
        box.replaceChildren(
          h("p", {}, `${result.as_of} · ${fill(T.itemsRead, { n: result.items_read })}`),
          h(
            "table",
            {},
            header([T.rule, T.due, T.held]),
            h(
              "tbody",
              {},
              Object.entries(result.rules || {}).map(([name, rule]) =>
                h("tr", { "data-rule": name }, ruleCell(name, rule), cell(rule.due), cell(rule.held)),
              ),
            ),
          ),
        );
      })
      .catch(apiError);
  }

  function loadRuns(box, cursor, fresh, emptyInRow = 0) {
    say(T.loading);
    const query = new URLSearchParams({ limit: "10" });
    if (cursor) query.set("cursor", cursor);
    api("GET", `retention/runs?${query}`)
      .then((page) => {
        say("");
        if (fresh) box.replaceChildren();
        for (const event of page.items || []) {
          const summary = event.summary || {};
          const failed = Object.keys(summary.failed_rules || {});
          box.append(
            h(
              "article",
              { class: "sweep", "data-run": summary.run_id || event.event_id },
              h("h4", {}, `${T.run} ${summary.as_of || ""} · ${event.at || ""}${summary.dry_run ? T.dryRun : ""}`),
              failed.length ? h("p", { class: "marked" }, `${T.failed}: ${failed.join(", ")}`) : null,
              h(
                "table",
                {},
                header([T.rule, T.due, T.done, T.held, T.changed]),
                h(
                  "tbody",
                  {},
                  Object.entries(summary.rules || {}).map(([name, c]) => h("tr", {}, ruleCell(name), cell(c.due), cell(c.done), cell(c.held), cell(c.changed))),
                ),
              ),
            ),
          );
        }
        // A page can come back empty with a cursor (the API filters out previews audited on the
        // runs record before they had their own; at most 20 such pages are read on at once).
        if (!(page.items || []).length && page.next_cursor && emptyInRow < 20) return loadRuns(box, page.next_cursor, false, emptyInRow + 1);
        if (!box.children.length) box.append(h("p", {}, T.none));
        more(box, page.next_cursor && (() => loadRuns(box, page.next_cursor, false)));
      })
      .catch(apiError);
  }

  window.IlopisteConsole.register({
    id: "retention",
    roles: ["dpo"],
    label: { fi: "Säilytysajat", en: "Retention" },
    start(kit) {
      bind(kit);
      screen();
    },
  });
})();
