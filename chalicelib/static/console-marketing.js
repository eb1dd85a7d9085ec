/* The marketing partner's screens: the phone campaigns assigned to it (GET /marketing/campaigns,
   page by page), one campaign's caller script and its call list as it stands now, shown in the
   page (GET /marketing/campaigns/{id}/audience, page by page: each read is a disclosure the API
   records), and a call's outcome recorded per person (PUT …/members/{prospect_id}/outcome), an
   objection included. The call list also goes as a file, downloaded and sent back filled
   (console-call-list-files.js, shared with staff's campaign screen). Every rule is the API's: what an outcome
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
      statuses: { ready: "valmis", materialising: "muodostetaan", draft: "luonnos", closed: "suljettu" },
      errors: {
        outcome_final: "Henkilön tulos on jo lopullinen, eikä sitä voi enää muuttaa.",
        not_in_audience: "Henkilö ei ole enää soittolistalla.",
        campaign_closed: "Kampanja on suljettu.",
        campaign_not_ready: "Kampanjan soittolista ei ole vielä valmis.",
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
      statuses: { ready: "ready", materialising: "being formed", draft: "draft", closed: "closed" },
      errors: {
        outcome_final: "This person's outcome is final and can no longer be changed.",
        not_in_audience: "This person is no longer on the call list.",
        campaign_closed: "The campaign is closed.",
        campaign_not_ready: "The campaign's call list is not ready yet.",
      },
    },
  };

  const COLUMNS = ["organization", "contact_name", "title", "phone", "email", "source"];

  let T, kit, lang, h, fill, say, fail, show, api, pagedTable, label;

  function bind(given) {
    kit = given;
    ({ lang, h, fill, say, fail, show, api, pagedTable, label } = kit);
    T = { ...kit.T, ...TEXT[kit.lang], outcomes: window.IlopisteCallListFiles.outcomes(kit.lang) };
  }

  function failWith(err) {
    return kit.refusals(T.errors)(err);
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
    let reload = null;
    show(
      campaign.name || id,
      h("p", {}, h("button", { type: "button", class: "secondary", onclick: campaignsScreen }, T.back)),
      h("p", {}, campaign.purpose || ""),
      h("section", { "aria-labelledby": "script-title" }, h("h3", { id: "script-title" }, T.scriptTitle), script),
      // The list in the page as it stands after the outcomes (a final one takes a person out).
      window.IlopisteCallListFiles.section(kit, `marketing/campaigns/${encodeURIComponent(id)}`, { sent: () => reload(), failure: failWith }),
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
