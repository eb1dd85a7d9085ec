/* The staff console's prospect screens: find a prospect (by organisation, or by email or name
   in a POST body so neither is in a URL), view one with its sources and retention, its
   restriction of processing marked (GDPR Art. 18: the ground, since when, the review date)
   and any legal hold; correct it (which also confirms it current), confirm it current, delete
   it; restrict or change the restriction, lift it (the API tells the person first); and for
   the DPO its audit history and a legal hold set and lifted with its reason. Every rule
   (which ground, which date, who may, what a hold refuses) is the API's
   (chalicelib/api/prospects.py, restrictions.py, dpo.py). */
(function () {
  "use strict";

  const TEXT = {
    fi: {
      findTitle: "Etsi prospekti",
      byOrg: "Organisaation nimi",
      search: "Hae",
      byEmail: "Sähköpostiosoite",
      searchEmail: "Hae sähköpostilla",
      byName: "Yhteyshenkilön nimi tai sen osa",
      searchName: "Hae nimellä",
      results: "Hakutulokset",
      none: "Ei prospekteja.",
      open: "Avaa",
      back: "Takaisin hakuun",
      organization: "Organisaatio",
      contact_name: "Yhteyshenkilö",
      title: "Titteli",
      email: "Sähköposti",
      phone: "Puhelin",
      source_url: "Julkinen lähde",
      first_seen: "Ensimmäinen lähde",
      last_verified: "Viimeksi varmistettu",
      retention_due_at: "Säilytetään",
      sources: "Lähteet",
      sourceStaff: "henkilökunta",
      restricted: "Käsittely rajoitettu",
      restrictedMark: "Rajoitettu",
      held: "Säilytysvelvoite",
      correctTitle: "Korjaa tiedot",
      correctIntro: "Tallennus myös vahvistaa tiedot ajantasaisiksi. Sähköpostiosoite on prospektin tunniste: sitä ei voi muuttaa.",
      save: "Tallenna",
      saved: "Tiedot tallennettu.",
      nothingChanged: "Mitään ei muutettu.",
      verify: "Vahvista ajantasaiseksi",
      verified: "Vahvistettu ajantasaiseksi; säilytysaika alkoi alusta.",
      deleteTitle: "Poista prospekti",
      deleteIntro: "Poistaa prospektin, sen lähteet ja luovutusloki. Ei voi perua.",
      delete: "Poista prospekti",
      confirmDelete: "Vahvista poisto",
      deleted: "Prospekti poistettu.",
      auditTitle: "Tapahtumahistoria",
      showAudit: "Näytä tapahtumahistoria",
      when: "Aika",
      action: "Tapahtuma",
      who: "Kuka",
      fields: "Kentät",
      noEvents: "Ei tapahtumia.",
    },
    en: {
      findTitle: "Find a prospect",
      byOrg: "Organisation name",
      search: "Search",
      byEmail: "Email address",
      searchEmail: "Search by email",
      byName: "Contact person's name or part of it",
      searchName: "Search by name",
      results: "Results",
      none: "No prospects.",
      open: "Open",
      back: "Back to search",
      organization: "Organisation",
      contact_name: "Contact person",
      title: "Title",
      email: "Email",
      phone: "Phone",
      source_url: "Public source",
      first_seen: "First seen",
      last_verified: "Last verified",
      retention_due_at: "Kept until",
      sources: "Sources",
      sourceStaff: "staff",
      restricted: "Processing restricted",
      restrictedMark: "Restricted",
      held: "Legal hold",
      correctTitle: "Correct the data",
      correctIntro: "Saving also confirms the data current. The email address is the prospect's identity: it cannot change.",
      save: "Save",
      saved: "Saved.",
      nothingChanged: "Nothing was changed.",
      verify: "Confirm current",
      verified: "Confirmed current; the retention period starts again.",
      deleteTitle: "Delete the prospect",
      deleteIntro: "Deletes the prospect, its sources and its disclosure log. This cannot be undone.",
      delete: "Delete the prospect",
      confirmDelete: "Confirm the deletion",
      deleted: "Prospect deleted.",
      auditTitle: "Audit history",
      showAudit: "Show the audit history",
      when: "Time",
      action: "Event",
      who: "By",
      fields: "Fields",
      noEvents: "No events.",
    },
  };

  const SHOWN = ["organization", "contact_name", "title", "email", "phone", "source_url", "first_seen", "last_verified", "retention_due_at"];
  // What staff may correct (the email is the identity; the rest is the API's to check).
  const EDITABLE = ["organization", "contact_name", "title", "phone", "source_url"];
  const REQUIRED = ["organization", "contact_name"];

  let T, kit, h, say, show, field, form, api, apiError, claims, pagedTable, label, changes, searchForms;
  let holds; // console-record-holds.js (loads after this script): restriction and legal hold

  function bind(given) {
    kit = given;
    holds = window.IlopisteRecordHolds;
    ({ h, say, show, field, form, api, apiError, claims, pagedTable, label, changes, searchForms } = kit);
    T = { ...kit.T, ...TEXT[kit.lang] };
  }

  function restrictionText(r) {
    return holds.restrictionText(kit, r);
  }


  // -- search -----------------------------------------------------------------------------

  function searchScreen(message) {
    const list = h("div", { id: "prospects" });
    show(
      T.findTitle,
      ...searchForms("prospects", "prospect", T, (load) => showResults(list, load)),
      list,
    );
    if (message) say(message);
  }

  // The results of any of the three searches (kit.searchForms), page by page.
  function showResults(list, load) {
    pagedTable(list, {
      heading: T.results,
      columns: [T.organization, T.contact_name, T.restricted, ""],
      empty: T.none,
      load,
      row: (item) =>
        h(
          "tr",
          { "data-prospect": item.prospect_id },
          h("td", {}, item.organization || ""),
          h("td", {}, item.contact_name || ""),
          h("td", {}, item.restricted ? T.restrictedMark : ""),
          h("td", {}, h("button", { type: "button", class: "secondary", onclick: () => openProspect(item.prospect_id) }, T.open)),
        ),
    });
  }

  // -- one prospect -----------------------------------------------------------------------

  function openProspect(id, message) {
    say(T.loading);
    api("GET", `prospects/${encodeURIComponent(id)}`)
      .then((prospect) => prospectScreen(prospect, message))
      .catch(apiError);
  }

  function then(id, message) {
    return (promise) => promise.then(() => openProspect(id, message)).catch(apiError);
  }

  function prospectScreen(p, message) {
    const id = p.prospect_id;
    const r = p.restriction || null;
    const hold = p.legal_hold || null;
    const details = h(
      "dl",
      { id: "prospect" },
      SHOWN.flatMap((name) => (p[name] === undefined || p[name] === null ? [] : [h("dt", {}, T[name]), h("dd", { "data-field": name }, String(p[name]))])),
      h("dt", {}, T.sources),
      h(
        "dd",
        { "data-field": "sources" },
        (p.sources || []).map((s) => (s.source === "partner" ? `${s.partner_id} (${s.first_seen || ""})` : T.sourceStaff)).join(", "),
      ),
      h("dt", {}, T.restricted),
      h("dd", { "data-field": "restriction", class: r ? "marked" : null }, restrictionText(r)),
      hold && h("dt", {}, T.held),
      hold && h("dd", { "data-field": "legal_hold", class: "marked" }, `${hold.reason || ""} · ${hold.set_at || ""}`),
    );
    const isDpo = claims().roles.includes("dpo");
    const correctForm = form(
      (data) => {
        const changed = changes(p, EDITABLE, REQUIRED, (name) => data.get(`prospect-${name}`));
        if (!Object.keys(changed).length) return say(T.nothingChanged);
        say(T.loading);
        return then(id, T.saved)(api("PATCH", `prospects/${encodeURIComponent(id)}`, changed));
      },
      h("p", {}, T.correctIntro),
      EDITABLE.map((name) =>
        field(`prospect-${name}`, T[name], {
          type: name === "phone" ? "tel" : name === "source_url" ? "url" : "text",
          value: p[name] || "",
          required: REQUIRED.includes(name),
          autocomplete: "off",
        }),
      ),
      h("button", { type: "submit" }, T.save),
      " ",
      h("button", { type: "button", class: "secondary", onclick: () => then(id, T.verified)(api("POST", `prospects/${encodeURIComponent(id)}/verification`)) }, T.verify),
    );
    const deleteBox = h("div", { id: "delete-prospect" });
    deleteBox.append(
      h("p", {}, T.deleteIntro),
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: (event) => {
            // A second, explicit step: deleting cannot be undone.
            event.target.replaceWith(
              h(
                "button",
                {
                  type: "button",
                  class: "danger",
                  onclick: () => {
                    say(T.loading);
                    api("DELETE", `prospects/${encodeURIComponent(id)}`)
                      .then(() => searchScreen(T.deleted))
                      .catch(apiError);
                  },
                },
                T.confirmDelete,
              ),
            );
            deleteBox.querySelector("button")?.focus();
          },
        },
        T.delete,
      ),
    );
    const audit = isDpo && h("div", { id: "audit" });
    const auditRow = (event) =>
      h(
        "tr",
        {},
        h("td", {}, String(event.at || event.timestamp || "")),
        h("td", {}, label("auditActions", event.action)),
        h("td", {}, String(event.principal_id || "")),
        h("td", {}, (event.fields || []).map((f) => (EDITABLE.includes(f) || f === "email" ? T[f] : f)).join(", ")),
      );
    show(
      p.organization || id,
      h("p", {}, h("button", { type: "button", class: "secondary", onclick: () => searchScreen() }, T.back)),
      details,
      h("section", { "aria-labelledby": "correct-title" }, h("h3", { id: "correct-title" }, T.correctTitle), correctForm),
      holds.restrictionSection(kit, "prospect", id, r, (m) => then(id, m)),
      isDpo && holds.holdSection(kit, "prospect", id, hold, (m) => then(id, m)),
      audit &&
        h(
          "section",
          { "aria-labelledby": "audit-title" },
          h("h3", { id: "audit-title" }, T.auditTitle),
          h(
            "button",
            {
              type: "button",
              class: "secondary",
              onclick: () =>
                pagedTable(audit, {
                  columns: [T.when, T.action, T.who, T.fields],
                  empty: T.noEvents,
                  row: auditRow,
                  load: (cursor) => {
                    const query = new URLSearchParams({ limit: "50", ...(cursor ? { cursor } : {}) });
                    return api("GET", `audit/records/prospects/${encodeURIComponent(id)}?${query}`);
                  },
                }),
            },
            T.showAudit,
          ),
          audit,
        ),
      h("section", { "aria-labelledby": "delete-title" }, h("h3", { id: "delete-title" }, T.deleteTitle), deleteBox),
    );
    if (message) say(message);
  }

  window.IlopisteConsole.register({
    id: "prospects",
    roles: ["staff", "dpo"],
    label: { fi: "Prospektit", en: "Prospects" },
    start(kit) {
      bind(kit);
      searchScreen();
    },
  });
})();
