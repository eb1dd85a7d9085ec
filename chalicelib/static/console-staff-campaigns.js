/* The staff console's campaign screens: list the campaigns (paged), create one (name, purpose,
   channel and every criterion of the API's selection) and change a draft's, view one with its
   state and counts, form its audience (the materialisation job, followed until it is ready),
   hand a phone campaign to a marketing partner picked from the partner registry and close that
   assignment, read the audience with each person's latest call outcome and record one, read
   every outcome recorded (by staff or the partner, also of people no longer in the audience),
   send an email campaign and follow its sending, and close the campaign. Every rule is the
   API's (chalicelib/campaigns.py, chalicelib/call_lists.py); this page only shows what it
   answers, its codes and refusals in the page's words. The file name sorts after
   console-customers.js, so Customers stays the first area. */
(function () {
  "use strict";

  const TEXT = {
    fi: {
      listTitle: "Kampanjat",
      newTitle: "Uusi kampanja",
      name: "Nimi",
      purpose: "Käyttötarkoitus",
      channel: "Kanava",
      channels: { email: "sähköposti", phone: "puhelin" },
      selectionTitle: "Valinta (kaikkien annettujen ehtojen on täytyttävä)",
      organization: "Organisaation nimi sisältää",
      titleWords: "Tittelin sanat (välilyönnein erotettuina)",
      titleMatch: "Tittelissä on oltava",
      titleMatches: { any: "jokin sanoista", all: "kaikki sanat" },
      sourcePartner: "Tiedot toi kumppani",
      anySource: "mikä tahansa lähde",
      firstSeenFrom: "Rekisteriin tullut aikaisintaan",
      firstSeenTo: "Rekisteriin tullut viimeistään",
      lastVerifiedFrom: "Viimeksi vahvistettu aikaisintaan",
      lastVerifiedTo: "Viimeksi vahvistettu viimeistään",
      create: "Luo kampanja",
      created: "Kampanja luotu.",
      campaigns: "Kampanjat",
      none: "Ei kampanjoita.",
      open: "Avaa",
      status: "Tila",
      statuses: { draft: "luonnos", materialising: "kohderyhmää muodostetaan", ready: "valmis", closed: "suljettu" },
      back: "Takaisin kampanjoihin",
      selection: "Valinta",
      allProspects: "kaikki prospektit",
      selected: "Valittu",
      audience: "Kohderyhmä",
      excluded: "Jätetty pois",
      reasons: {
        suppressed: "estolistalla",
        do_not_call: "soittokieltolistalla",
        no_phone: "ei puhelinnumeroa",
        restricted: "käsittely rajoitettu",
        erased: "poistettu",
      },
      editTitle: "Muuta luonnosta",
      save: "Tallenna muutokset",
      saved: "Muutokset tallennettu.",
      assignedTo: "Markkinointikumppani",
      assignmentOpen: "{partner} (toimeksianto voimassa)",
      assignmentClosed: "{partner} (toimeksianto päättynyt)",
      materialise: "Muodosta kohderyhmä",
      materialising: "Kohderyhmää muodostetaan: {selected} valittu, {audience} kohderyhmässä tähän mennessä.",
      materialised: "Kohderyhmä muodostettu.",
      assignTitle: "Anna markkinointikumppanille",
      partner: "Markkinointikumppani",
      partnerOption: "{name} ({id})",
      noPartners: "Rekisterissä ei ole voimassa olevaa markkinointikumppania.",
      assign: "Anna kampanja",
      assigned: "Kampanja annettu kumppanille.",
      unassign: "Päätä toimeksianto",
      unassigned: "Toimeksianto päätetty.",
      audienceTitle: "Kohderyhmä ja soittojen tulokset",
      showAudience: "Näytä kohderyhmä",
      noAudience: "Kohderyhmässä ei ole nyt ketään.",
      person: "Henkilö",
      contactOrg: "Organisaatio",
      latest: "Viimeisin tulos",
      outcome: "Tulos",
      outcomeFor: "Tulos: {name}",
      recordFor: "Kirjaa tulos: {name}",
      choose: "Valitse tulos",
      chooseFirst: "Valitse ensin tulos.",
      outcomeAt: "{outcome}, {at}",
      record: "Kirjaa tulos",
      recorded: "Tulos kirjattu.",
      unchanged: "Sama tulos oli jo kirjattu.",
      shownExcluded: "Näytetyiltä sivuilta jätetty pois: {list}",
      outcomesTitle: "Kirjatut tulokset",
      outcomesIntro: "Jokainen henkilöstön tai markkinointikumppanin kirjaama tulos, myös niistä, jotka eivät enää ole kohderyhmässä (esim. markkinoinnin kieltäneet, joiden tiedot on poistettu).",
      showOutcomes: "Näytä kirjatut tulokset",
      noOutcomes: "Tuloksia ei ole kirjattu.",
      prospectId: "Henkilön tunnus",
      recordedAt: "Kirjattu",
      recordedBy: "Kirjaaja",
      sendTitle: "Lähetä sähköpostikampanja",
      subject: "Aihe",
      text: "Viesti (pelkkää tekstiä, kappaleet tyhjällä rivillä)",
      lang: "Kieli",
      langs: { fi: "suomi", en: "englanti" },
      send: "Lähetä",
      sendingTitle: "Lähetys",
      sendStatuses: { sending: "lähetetään", sent: "lähetetty" },
      sendCounts: "{sent} lähetetty, {failed} epäonnistui, {unconfirmed} vahvistamatta",
      sending: "Viestejä lähetetään: {sent} lähetetty tähän mennessä.",
      sent: "Kampanja lähetetty.",
      closeTitle: "Sulje kampanja",
      close: "Sulje kampanja",
      closed: "Kampanja suljettu.",
      retention: "Kohderyhmä poistetaan viimeistään",
      // The API's refusals of campaign steps (chalicelib/campaigns.py, call_lists.py).
      refusals: {
        not_a_draft: "Vain luonnosta voi muuttaa: kohderyhmän muodostaminen on jo alkanut.",
        version_conflict: "Kampanjaa on muutettu välillä. Avaa se uudelleen.",
        unknown_partner: "Kumppania ei ole kumppanirekisterissä.",
        not_a_marketing_partner: "Kampanjan voi antaa vain markkinointikumppanille.",
        partner_inactive: "Markkinointikumppani ei ole voimassa.",
        no_processing_agreement: "Markkinointikumppanin henkilötietojen käsittelysopimusta ei ole kirjattu.",
        campaign_closed: "Kampanja on suljettu.",
        assigned: "Kampanja on annettu toiselle kumppanille: päätä se toimeksianto ensin.",
        not_assigned: "Kampanjalla ei ole voimassa olevaa toimeksiantoa.",
        already_materialised: "Kohderyhmä on jo muodostettu.",
        not_an_email_campaign: "Vain sähköpostikampanjan voi lähettää.",
        audience_not_available: "Kampanjalla ei ole nyt luettavaa kohderyhmää.",
        already_sent: "Kampanja on jo lähetetty.",
        not_a_phone_campaign: "Soittolista on vain puhelinkampanjalla.",
        campaign_not_ready: "Kampanjan kohderyhmää ei ole vielä muodostettu.",
        call_list_too_large: "Kohderyhmä on liian suuri yhdelle soittolistalle: rajaa valintaa.",
        not_in_audience: "Henkilö ei ole enää kampanjan kohderyhmässä.",
        outcome_final: "Henkilön tulos on jo lopullinen, eikä sitä voi enää muuttaa.",
        no_phone: "Henkilöllä ei ole puhelinnumeroa, jonka voisi estää.",
        too_many_outcomes: "Liian monta uutta tulosta kerralla: lähetä lista osissa.",
      },
    },
    en: {
      listTitle: "Campaigns",
      newTitle: "New campaign",
      name: "Name",
      purpose: "Purpose",
      channel: "Channel",
      channels: { email: "email", phone: "phone" },
      selectionTitle: "Selection (every criterion given must hold)",
      organization: "Organisation name contains",
      titleWords: "Title words (separated by spaces)",
      titleMatch: "The title must contain",
      titleMatches: { any: "any of the words", all: "every word" },
      sourcePartner: "Data brought by the partner",
      anySource: "any source",
      firstSeenFrom: "Entered the register on or after",
      firstSeenTo: "Entered the register on or before",
      lastVerifiedFrom: "Last verified on or after",
      lastVerifiedTo: "Last verified on or before",
      create: "Create the campaign",
      created: "Campaign created.",
      campaigns: "Campaigns",
      none: "No campaigns.",
      open: "Open",
      status: "Status",
      statuses: { draft: "draft", materialising: "forming the audience", ready: "ready", closed: "closed" },
      back: "Back to campaigns",
      selection: "Selection",
      allProspects: "every prospect",
      selected: "Selected",
      audience: "Audience",
      excluded: "Left out",
      reasons: {
        suppressed: "on the suppression list",
        do_not_call: "on the do-not-call list",
        no_phone: "no phone number",
        restricted: "processing restricted",
        erased: "erased",
      },
      editTitle: "Change the draft",
      save: "Save the changes",
      saved: "Changes saved.",
      assignedTo: "Marketing partner",
      assignmentOpen: "{partner} (assignment open)",
      assignmentClosed: "{partner} (assignment closed)",
      materialise: "Form the audience",
      materialising: "Forming the audience: {selected} selected, {audience} in the audience so far.",
      materialised: "Audience formed.",
      assignTitle: "Hand to a marketing partner",
      partner: "Marketing partner",
      partnerOption: "{name} ({id})",
      noPartners: "The registry has no active marketing partner.",
      assign: "Assign the campaign",
      assigned: "Campaign assigned to the partner.",
      unassign: "Close the assignment",
      unassigned: "Assignment closed.",
      audienceTitle: "Audience and call outcomes",
      showAudience: "Show the audience",
      noAudience: "Nobody is in the audience now.",
      person: "Person",
      contactOrg: "Organisation",
      latest: "Latest outcome",
      outcome: "Outcome",
      outcomeFor: "Outcome: {name}",
      recordFor: "Record the outcome: {name}",
      choose: "Choose an outcome",
      chooseFirst: "Choose an outcome first.",
      outcomeAt: "{outcome}, {at}",
      record: "Record the outcome",
      recorded: "Outcome recorded.",
      unchanged: "The same outcome was recorded already.",
      shownExcluded: "Left out of the pages shown: {list}",
      outcomesTitle: "Recorded outcomes",
      outcomesIntro: "Every outcome staff or the marketing partner recorded, also of people no longer in the audience (such as those who objected, whose data was removed).",
      showOutcomes: "Show the recorded outcomes",
      noOutcomes: "No outcome has been recorded.",
      prospectId: "Person's id",
      recordedAt: "Recorded",
      recordedBy: "Recorded by",
      sendTitle: "Send the email campaign",
      subject: "Subject",
      text: "Message (plain text, paragraphs split by a blank line)",
      lang: "Language",
      langs: { fi: "Finnish", en: "English" },
      send: "Send",
      sendingTitle: "Sending",
      sendStatuses: { sending: "sending", sent: "sent" },
      sendCounts: "{sent} sent, {failed} failed, {unconfirmed} unconfirmed",
      sending: "Sending the messages: {sent} sent so far.",
      sent: "Campaign sent.",
      closeTitle: "Close the campaign",
      close: "Close the campaign",
      closed: "Campaign closed.",
      retention: "Audience deleted by",
      refusals: {
        not_a_draft: "Only a draft can be changed: forming the audience has started.",
        version_conflict: "The campaign was changed meanwhile. Open it again.",
        unknown_partner: "The partner is not in the partner registry.",
        not_a_marketing_partner: "Only a marketing partner can be assigned a campaign.",
        partner_inactive: "The marketing partner is not active.",
        no_processing_agreement: "The marketing partner has no processing agreement on record.",
        campaign_closed: "The campaign is closed.",
        assigned: "The campaign is assigned to another partner: close that assignment first.",
        not_assigned: "The campaign has no open assignment.",
        already_materialised: "The audience has been formed already.",
        not_an_email_campaign: "Only an email campaign can be sent.",
        audience_not_available: "The campaign has no audience to read now.",
        already_sent: "The campaign has been sent already.",
        not_a_phone_campaign: "Call lists are for phone campaigns only.",
        campaign_not_ready: "The campaign's audience has not been formed yet.",
        call_list_too_large: "The audience is too large for one call list: narrow the selection.",
        not_in_audience: "This person is no longer in the campaign's audience.",
        outcome_final: "This person's outcome is final and can no longer be changed.",
        no_phone: "This person has no phone number to block.",
        too_many_outcomes: "Too many new outcomes at once: send the list in parts.",
      },
    },
  };
  const POLL_MS = 2000;
  const PAGE = "25";
  // The selection's criteria (chalicelib/campaigns.py Selection) that are days, and their labels.
  const DAYS = [
    ["first_seen_from", "firstSeenFrom"],
    ["first_seen_to", "firstSeenTo"],
    ["last_verified_from", "lastVerifiedFrom"],
    ["last_verified_to", "lastVerifiedTo"],
  ];

  let T, kit, h, fill, say, fail, show, field, form, api, apiError, pagedTable, label, partners;
  let poll = null; // the one timer this area runs (a campaign being followed)

  function bind(given) {
    kit = given;
    ({ h, fill, say, fail, show, field, form, api, apiError, pagedTable, label, partners } = kit);
    T = { ...kit.T, ...TEXT[kit.lang], outcomes: window.IlopisteCallListFiles.outcomes(kit.lang) };
  }

  // An API error: a refusal of this area's steps in the page's words, anything else as the core says.
  function refused(err) {
    return kit.refusals(T.refusals)(err);
  }

  function path(id, tail) {
    return `campaigns/${encodeURIComponent(id)}${tail || ""}`;
  }

  function options(entries, chosen) {
    return entries.map(([value, text]) => h("option", { value, selected: value === chosen }, text));
  }

  function select(id, text, entries, chosen) {
    return h("p", { class: "field" }, h("label", { for: id }, text), h("select", { id, name: id }, options(entries, chosen)));
  }

  function button(text, onclick, secondary) {
    return h("button", { type: "button", class: secondary ? "secondary" : null, onclick }, text);
  }

  function excludedText(excluded) {
    return Object.entries(excluded || {})
      .filter(([, n]) => n)
      .map(([reason, n]) => `${label(T.reasons, reason)}: ${n}`)
      .join(", ");
  }

  function partnerOption(p) {
    return [p.partner_id, fill(T.partnerOption, { name: p.name || p.partner_id, id: p.partner_id })];
  }

  // -- the selection: every criterion the API's `selection` takes ------------------------------

  function selectionFields(s) {
    const sel = s || {};
    const source = h("select", { id: "sel-source", name: "sel-source" }, options([["", T.anySource]], ""));
    if (sel.source_partner) source.append(...options([[sel.source_partner, sel.source_partner]], sel.source_partner));
    // The data providers, offered once the registry answers (a chosen one stays chosen).
    partners()
      .then((list) => {
        for (const p of list) {
          if (p.kind === "data_provider" && p.partner_id !== sel.source_partner) source.append(...options([partnerOption(p)], ""));
        }
      })
      .catch(refused);
    return h(
      "fieldset",
      {},
      h("legend", {}, T.selectionTitle),
      field("sel-org", T.organization, { maxlength: "200", autocomplete: "off", value: sel.organization || "" }),
      field("sel-titles", T.titleWords, { autocomplete: "off", value: (sel.title_words || []).join(" ") }),
      select("sel-match", T.titleMatch, Object.entries(T.titleMatches), sel.title_match || "any"),
      h("p", { class: "field" }, h("label", { for: "sel-source" }, T.sourcePartner), source),
      DAYS.map(([key, text]) => field(`sel-${key}`, T[text], { type: "date", value: sel[key] || "" })),
    );
  }

  function selectionOf(data) {
    const value = (name) => String(data.get(name) || "").trim();
    const selection = {};
    if (value("sel-org")) selection.organization = value("sel-org");
    const words = value("sel-titles").split(/[\s,]+/).filter(Boolean);
    if (words.length) {
      selection.title_words = words;
      if (value("sel-match") === "all") selection.title_match = "all";
    }
    if (value("sel-source")) selection.source_partner = value("sel-source");
    for (const [key] of DAYS) if (value(`sel-${key}`)) selection[key] = value(`sel-${key}`);
    return selection;
  }

  function selectionText(selection) {
    const s = selection || {};
    const parts = [];
    if (s.organization) parts.push(`${T.organization}: ${s.organization}`);
    if (s.title_words) parts.push(`${T.titleWords.split(" (")[0]}: ${s.title_words.join(" ")} (${label(T.titleMatches, s.title_match || "any")})`);
    if (s.source_partner) parts.push(`${T.sourcePartner}: ${s.source_partner}`);
    for (const [key, text] of DAYS) if (s[key]) parts.push(`${T[text]}: ${s[key]}`);
    const known = ["organization", "title_words", "title_match", "source_partner", ...DAYS.map(([key]) => key)];
    for (const [k, v] of Object.entries(s)) if (!known.includes(k)) parts.push(`${k}: ${v}`);
    return parts.join("; ") || T.allProspects;
  }

  // -- the list and a new campaign ------------------------------------------------------------

  function listScreen(message) {
    clearTimeout(poll);
    const list = h("div", { id: "campaigns" });
    show(
      T.listTitle,
      h(
        "section",
        { "aria-labelledby": "new-campaign-title" },
        h("h3", { id: "new-campaign-title" }, T.newTitle),
        form(
          (data) => {
            const value = (name) => String(data.get(name) || "").trim();
            say(T.loading);
            api("POST", "campaigns", {
              name: value("campaign-name"),
              purpose: value("campaign-purpose"),
              channel: value("campaign-channel"),
              selection: selectionOf(data),
            })
              .then((campaign) => campaignScreen(campaign, T.created))
              .catch(refused);
          },
          field("campaign-name", T.name, { required: true, maxlength: "200", autocomplete: "off" }),
          field("campaign-purpose", T.purpose, { required: true, maxlength: "1000", autocomplete: "off" }),
          select("campaign-channel", T.channel, Object.entries(T.channels), "email"),
          selectionFields(null),
          h("button", { type: "submit" }, T.create),
        ),
      ),
      h("section", { "aria-labelledby": "campaigns-title" }, h("h3", { id: "campaigns-title" }, T.campaigns), list),
    );
    pagedTable(list, {
      columns: [T.name, T.channel, T.status, ""],
      empty: T.none,
      load: (cursor) => api("GET", `campaigns?${new URLSearchParams({ limit: PAGE, ...(cursor ? { cursor } : {}) })}`),
      failure: refused,
      row: (item) =>
        h(
          "tr",
          { "data-campaign": item.campaign_id },
          h("td", {}, item.name || ""),
          h("td", {}, label(T.channels, item.channel)),
          h("td", {}, label(T.statuses, item.status)),
          h("td", {}, button(T.open, () => openCampaign(item.campaign_id), true)),
        ),
    });
    if (message) say(message);
  }

  // -- one campaign ------------------------------------------------------------------------

  function openCampaign(id, message) {
    clearTimeout(poll);
    say(T.loading);
    api("GET", path(id))
      .then((campaign) => campaignScreen(campaign, message))
      .catch(refused);
  }

  // The answer of a step: the campaign as it now stands, with what was done.
  function step(method, tail, body, done) {
    return (id) => {
      say(T.loading);
      api(method, path(id, tail), body && body())
        .then((campaign) => campaignScreen(campaign, done))
        .catch(refused);
    };
  }

  function details(c) {
    const counts = c.counts || {};
    const rows = [
      ["status", T.status, label(T.statuses, c.status)],
      ["channel", T.channel, label(T.channels, c.channel)],
      ["purpose", T.purpose, c.purpose],
      ["selection", T.selection, selectionText(c.selection)],
      ["selected", T.selected, String(counts.selected ?? 0)],
      ["audience", T.audience, String(counts.audience ?? 0)],
      ["excluded", T.excluded, excludedText(counts.excluded) || "0"],
    ];
    if (c.assigned_partner) {
      rows.push(["assignment", T.assignedTo, fill(c.assignment_open ? T.assignmentOpen : T.assignmentClosed, { partner: c.assigned_partner })]);
    }
    if (c.sending) {
      const s = c.sending.counts || {};
      const counted = fill(T.sendCounts, { sent: s.sent ?? 0, failed: s.failed ?? 0, unconfirmed: s.unconfirmed ?? 0 });
      const left = excludedText(s.excluded);
      rows.push(["sending", T.sendingTitle, `${label(T.sendStatuses, c.sending.status)}: ${counted}${left ? `; ${T.excluded}: ${left}` : ""}`]);
    }
    if (c.retention_due_at) rows.push(["retention_due_at", T.retention, c.retention_due_at]);
    return h("dl", { id: "campaign", "data-campaign": c.campaign_id }, rows.flatMap(([key, text, value]) => [h("dt", {}, text), h("dd", { "data-field": key }, String(value ?? ""))]));
  }

  function section(key, title, ...content) {
    return h("section", { "aria-labelledby": `${key}-title` }, h("h3", { id: `${key}-title` }, title), ...content);
  }

  // A draft's name, purpose and selection, changed against the version shown (409 if it changed).
  function editSection(c) {
    return section(
      "edit",
      T.editTitle,
      form(
        (data) =>
          step("PATCH", "", () => ({
            name: String(data.get("edit-name") || "").trim(),
            purpose: String(data.get("edit-purpose") || "").trim(),
            selection: selectionOf(data),
            version: c.version,
          }), T.saved)(c.campaign_id),
        field("edit-name", T.name, { required: true, maxlength: "200", autocomplete: "off", value: c.name || "" }),
        field("edit-purpose", T.purpose, { required: true, maxlength: "1000", autocomplete: "off", value: c.purpose || "" }),
        selectionFields(c.selection),
        h("button", { type: "submit" }, T.save),
      ),
    );
  }

  // The marketing partner picked from the registry: active marketing partners only.
  function assignSection(c) {
    const id = c.campaign_id;
    const box = h("div", { id: "assign-form" }, h("p", {}, T.loading));
    partners()
      .then((list) => {
        const offered = list.filter((p) => p.kind === "marketing" && p.status === "active").map(partnerOption);
        if (!offered.length) return box.replaceChildren(h("p", {}, T.noPartners));
        const chosen = c.assignment_open ? c.assigned_partner : offered[0][0];
        box.replaceChildren(
          form(
            (data) => step("PUT", "/assignment", () => ({ partner_id: String(data.get("partner-id") || "") }), T.assigned)(id),
            select("partner-id", T.partner, offered, chosen),
            h("button", { type: "submit" }, T.assign),
          ),
        );
      })
      .catch(refused);
    return section(
      "assign",
      T.assignTitle,
      box,
      c.assignment_open ? h("p", {}, button(T.unassign, () => step("DELETE", "/assignment", null, T.unassigned)(id), true)) : null,
    );
  }

  function sendSection(c) {
    return section(
      "send",
      T.sendTitle,
      form(
        (data) =>
          step("POST", "/sending", () => ({
            subject: String(data.get("send-subject") || "").trim(),
            text: String(data.get("send-text") || ""),
            lang: String(data.get("send-lang") || "fi"),
          }), null)(c.campaign_id),
        field("send-subject", T.subject, { required: true, maxlength: "200", autocomplete: "off" }),
        h("p", { class: "field" }, h("label", { for: "send-text" }, T.text), h("textarea", { id: "send-text", name: "send-text", required: true, rows: "8" })),
        select("send-lang", T.lang, Object.entries(T.langs), "fi"),
        h("button", { type: "submit" }, T.send),
      ),
    );
  }

  function campaignScreen(c, message) {
    clearTimeout(poll);
    const id = c.campaign_id;
    const phone = c.channel === "phone";
    const sections = [];

    if (c.status === "draft") {
      sections.push(h("p", {}, button(T.materialise, () => step("POST", "/materialisation", null, null)(id))));
      sections.push(editSection(c));
    }
    if (phone && c.status === "ready") {
      sections.push(assignSection(c));
      const box = h("div", { id: "audience" });
      const left = h("p", { class: "excluded" });
      const outcomesBox = h("div", { id: "outcomes" });
      const reloadOutcomes = () => (outcomesBox.dataset.shown ? showOutcomes(outcomesBox, id) : null);
      sections.push(section("audience", T.audienceTitle, button(T.showAudience, () => showAudience(box, left, id, reloadOutcomes), true), box, left));
      sections.push(outcomesSection(id, outcomesBox));
      // Staff may call the list themselves: the same file the marketing partner gets.
      sections.push(window.IlopisteCallListFiles.section(kit, `campaigns/${encodeURIComponent(id)}`, { sent: reloadOutcomes, failure: refused }));
    }
    if (phone && c.status === "closed") sections.push(outcomesSection(id, h("div", { id: "outcomes" })));
    if (!phone && c.status === "ready" && !c.sending) sections.push(sendSection(c));
    if (c.status !== "closed") sections.push(section("close", T.closeTitle, button(T.close, () => step("POST", "/closure", null, T.closed)(id), true)));

    show(c.name || id, h("p", {}, button(T.back, () => listScreen(), true)), details(c), ...sections);

    // Long work is followed: the materialisation job, then an email campaign's sending.
    const counts = c.counts || {};
    const sent = (c.sending && c.sending.counts) || {};
    if (c.status === "materialising") {
      say(fill(T.materialising, { selected: counts.selected ?? 0, audience: counts.audience ?? 0 }));
      follow(id, (next) => campaignScreen(next, next.status === "ready" ? T.materialised : null));
    } else if (c.sending && c.sending.status === "sending") {
      say(fill(T.sending, { sent: sent.sent ?? 0 }));
      follow(id, (next) => campaignScreen(next, next.sending && next.sending.status === "sent" ? T.sent : null));
    } else if (message) {
      say(message);
    }
  }

  // A poll's answer is shown only while this campaign's screen is (another area may be open).
  function follow(id, then) {
    const onScreen = () => document.querySelector(`#campaign[data-campaign="${CSS.escape(id)}"]`);
    poll = setTimeout(() => {
      if (!onScreen()) return;
      api("GET", path(id))
        .then((next) => {
          if (onScreen()) then(next);
        })
        .catch(refused);
    }, POLL_MS);
  }

  function outcomeText(code, at) {
    return code ? fill(T.outcomeAt, { outcome: label(T.outcomes, code), at: at || "" }) : "";
  }

  // The audience as it stands now (each person shown is an audited read), with each person's
  // latest outcome and a call's outcome recorded per person (PUT .../members/{prospect}/outcome).
  function showAudience(box, left, id, recordedOne) {
    const excluded = {};
    left.textContent = "";
    pagedTable(box, {
      columns: [T.person, T.contactOrg, T.latest, T.outcome],
      empty: T.noAudience,
      load: (cursor) =>
        api("GET", path(id, `/audience?${new URLSearchParams({ limit: PAGE, ...(cursor ? { cursor } : {}) })}`)).then((data) => {
          // Who was left out is counted over the pages shown, never named.
          for (const [reason, n] of Object.entries(data.excluded || {})) excluded[reason] = (excluded[reason] || 0) + n;
          const text = excludedText(excluded);
          left.textContent = text ? fill(T.shownExcluded, { list: text }) : "";
          return data;
        }),
      failure: refused,
      row: (member) => memberRow(id, member, recordedOne),
    });
  }

  function memberRow(id, member, recordedOne) {
    const pid = member.prospect_id;
    const who = member.contact_name || pid;
    const choice = `outcome-${pid}`;
    const latest = h("td", { "data-outcome": member.outcome || "" }, outcomeText(member.outcome, member.outcome_at));
    return h(
      "tr",
      { "data-prospect": pid },
      h("td", {}, [member.contact_name, member.title].filter(Boolean).join(", ")),
      h("td", {}, member.organization || ""),
      latest,
      h(
        "td",
        {},
        form(
          (data) => {
            const outcome = String(data.get(choice) || "");
            if (!outcome) return fail(T.chooseFirst);
            say(T.loading);
            api("PUT", path(id, `/members/${encodeURIComponent(pid)}/outcome`), { outcome })
              .then((result) => {
                if (result.changed) {
                  latest.dataset.outcome = result.outcome;
                  latest.textContent = label(T.outcomes, result.outcome);
                }
                say(result.changed ? T.recorded : T.unchanged);
                recordedOne();
              })
              .catch(refused);
          },
          select(choice, fill(T.outcomeFor, { name: who }), [["", T.choose], ...Object.entries(T.outcomes)], member.outcome || ""),
          h("button", { type: "submit", class: "secondary", "aria-label": fill(T.recordFor, { name: who }) }, T.record),
        ),
      ),
    );
  }

  // Every outcome recorded (GET .../outcomes: codes and times, each an audited read), also of
  // people the audience no longer holds.
  function outcomesSection(id, box) {
    return section("outcomes", T.outcomesTitle, h("p", {}, T.outcomesIntro), button(T.showOutcomes, () => showOutcomes(box, id), true), box);
  }

  function showOutcomes(box, id) {
    box.dataset.shown = "1";
    pagedTable(box, {
      columns: [T.prospectId, T.outcome, T.recordedAt, T.recordedBy],
      empty: T.noOutcomes,
      load: (cursor) => api("GET", path(id, `/outcomes?${new URLSearchParams({ limit: PAGE, ...(cursor ? { cursor } : {}) })}`)),
      failure: refused,
      row: (item) =>
        h(
          "tr",
          { "data-prospect": item.prospect_id, "data-outcome": item.outcome },
          h("td", {}, h("code", {}, item.prospect_id || "")),
          h("td", {}, label(T.outcomes, item.outcome)),
          h("td", {}, item.outcome_at || ""),
          h("td", {}, item.outcome_by || ""),
        ),
    });
  }

  window.IlopisteConsole.register({
    id: "campaigns",
    roles: ["staff", "dpo"],
    label: { fi: "Kampanjat", en: "Campaigns" },
    start(kit) {
      bind(kit);
      listScreen();
    },
  });
})();
