/* The DPO's retention screens (chalicelib/api/dpo.py): the preview of what a sweep on a day
   would do (GET /retention/preview, changing nothing) and the last sweeps with their counts
   per rule (GET /retention/runs, paged). Registered with console.js (`kit`). */
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
      action: "Toimenpide",
      itemsRead: "Luettuja rivejä: {n}",
      runsTitle: "Viimeisimmät ajot",
      at: "Aika",
      run: "Ajo",
      failed: "Epäonnistuneet säännöt",
      none: "Ei ajoja.",
      dryRun: " (kuiva-ajo)",
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
      action: "Action",
      itemsRead: "Items read: {n}",
      runsTitle: "The last sweeps",
      at: "Time",
      run: "Run",
      failed: "Failed rules",
      none: "No sweeps.",
      dryRun: " (dry run)",
    },
  };

  let T, h, fill, say, show, field, form, api, apiError, more;

  function bind(kit) {
    ({ h, fill, say, show, field, form, api, apiError, more } = kit);
    T = { ...kit.T, ...TEXT[kit.lang] };
  }

  function cell(value) {
    return h("td", {}, value === undefined || value === null ? "" : String(value));
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
    loadRuns(runs, null, true);
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
            h("thead", {}, h("tr", {}, [T.rule, T.due, T.held, T.action].map((t) => h("th", { scope: "col" }, t)))),
            h(
              "tbody",
              {},
              Object.entries(result.rules || {}).map(([name, rule]) =>
                h("tr", { "data-rule": name }, cell(name), cell(rule.due), cell(rule.held), cell(`${rule.action || ""} ${rule.after || ""}`.trim())),
              ),
            ),
          ),
        );
      })
      .catch(apiError);
  }

  function loadRuns(box, cursor, fresh) {
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
                h("thead", {}, h("tr", {}, [T.rule, T.due, T.done, T.held, T.changed].map((t) => h("th", { scope: "col" }, t)))),
                h(
                  "tbody",
                  {},
                  Object.entries(summary.rules || {}).map(([name, c]) => h("tr", {}, cell(name), cell(c.due), cell(c.done), cell(c.held), cell(c.changed))),
                ),
              ),
            ),
          );
        }
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
