/* The staff console's campaign screens: list the campaigns (paged), create one (name, purpose,
   channel and a simple selection), view one with its state and counts, form its audience (the
   materialisation job, followed until it is ready), hand a phone campaign to a marketing
   partner and close that assignment, read the audience and record a call's outcome per
   person, send an email campaign and follow its sending, and close the campaign. Every rule
   is the API's (chalicelib/campaigns.py); this page only shows what it answers. The file
   name sorts after console-customers.js, so Customers stays the first area. */
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
      organization: "Organisaation nimi sisältää",
      titleWords: "Tittelin sanat (välilyönnein erotettuina, mikä tahansa riittää)",
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
      assignedTo: "Markkinointikumppani",
      assignmentOpen: "{partner} (toimeksianto voimassa)",
      assignmentClosed: "{partner} (toimeksianto päättynyt)",
      materialise: "Muodosta kohderyhmä",
      materialising: "Kohderyhmää muodostetaan: {selected} valittu, {audience} kohderyhmässä tähän mennessä.",
      materialised: "Kohderyhmä muodostettu.",
      assignTitle: "Anna markkinointikumppanille",
      partnerId: "Markkinointikumppanin tunnus",
      assign: "Anna kampanja",
      assigned: "Kampanja annettu kumppanille.",
      unassign: "Päätä toimeksianto",
      unassigned: "Toimeksianto päätetty.",
      audienceTitle: "Kohderyhmä ja soittojen tulokset",
      showAudience: "Näytä kohderyhmä",
      person: "Henkilö",
      contactOrg: "Organisaatio",
      outcome: "Tulos",
      outcomes: {
        reached: "tavoitettu",
        no_answer: "ei vastannut",
        objected: "kielsi markkinoinnin",
        wrong_person: "väärä henkilö",
        left_organisation: "lähtenyt organisaatiosta",
        do_not_call: "ei soittoja",
      },
      record: "Kirjaa tulos",
      recorded: "Tulos kirjattu.",
      unchanged: "Sama tulos oli jo kirjattu.",
      pageExcluded: "Tältä sivulta jätetty pois: {list}",
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
    },
    en: {
      listTitle: "Campaigns",
      newTitle: "New campaign",
      name: "Name",
      purpose: "Purpose",
      channel: "Channel",
      channels: { email: "email", phone: "phone" },
      organization: "Organisation name contains",
      titleWords: "Title words (separated by spaces, any one matches)",
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
      assignedTo: "Marketing partner",
      assignmentOpen: "{partner} (assignment open)",
      assignmentClosed: "{partner} (assignment closed)",
      materialise: "Form the audience",
      materialising: "Forming the audience: {selected} selected, {audience} in the audience so far.",
      materialised: "Audience formed.",
      assignTitle: "Hand to a marketing partner",
      partnerId: "Marketing partner's id",
      assign: "Assign the campaign",
      assigned: "Campaign assigned to the partner.",
      unassign: "Close the assignment",
      unassigned: "Assignment closed.",
      audienceTitle: "Audience and call outcomes",
      showAudience: "Show the audience",
      person: "Person",
      contactOrg: "Organisation",
      outcome: "Outcome",
      outcomes: {
        reached: "reached",
        no_answer: "no answer",
        objected: "objected to marketing",
        wrong_person: "wrong person",
        left_organisation: "left the organisation",
        do_not_call: "do not call",
      },
      record: "Record the outcome",
      recorded: "Outcome recorded.",
      unchanged: "The same outcome was recorded already.",
      pageExcluded: "Left out of this page: {list}",
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
    },
  };
  const POLL_MS = 2000;

  let T, h, fill, say, show, field, form, api, apiError, more;
  let poll = null; // the one timer this area runs (a campaign being followed)

  function bind(kit) {
    ({ h, fill, say, show, field, form, api, apiError, more } = kit);
    T = { ...kit.T, ...TEXT[kit.lang] };
  }

  function path(id, tail) {
    return `campaigns/${encodeURIComponent(id)}${tail || ""}`;
  }

  function select(id, label, options, attrs) {
    return h(
      "p",
      { class: "field" },
      h("label", { for: id }, label),
      h("select", { id, name: id, ...attrs }, Object.entries(options).map(([value, text]) => h("option", { value }, text))),
    );
  }

  function button(text, onclick, secondary) {
    return h("button", { type: "button", class: secondary ? "secondary" : null, onclick }, text);
  }

  function excludedText(excluded) {
    return Object.entries(excluded || {})
      .filter(([, n]) => n)
      .map(([reason, n]) => `${T.reasons[reason] || reason}: ${n}`)
      .join(", ");
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
            const selection = {};
            if (value("campaign-org")) selection.organization = value("campaign-org");
            const words = value("campaign-titles").split(/[\s,]+/).filter(Boolean);
            if (words.length) selection.title_words = words;
            say(T.loading);
            api("POST", "campaigns", {
              name: value("campaign-name"),
              purpose: value("campaign-purpose"),
              channel: value("campaign-channel"),
              selection,
            })
              .then((campaign) => campaignScreen(campaign, T.created))
              .catch(apiError);
          },
          field("campaign-name", T.name, { required: true, maxlength: "200", autocomplete: "off" }),
          field("campaign-purpose", T.purpose, { required: true, maxlength: "1000", autocomplete: "off" }),
          select("campaign-channel", T.channel, T.channels),
          field("campaign-org", T.organization, { maxlength: "200", autocomplete: "off" }),
          field("campaign-titles", T.titleWords, { autocomplete: "off" }),
          h("button", { type: "submit" }, T.create),
        ),
      ),
      h("section", { "aria-labelledby": "campaigns-title" }, h("h3", { id: "campaigns-title" }, T.campaigns), list),
    );
    loadCampaigns(list, null, true);
    if (message) say(message);
  }

  function loadCampaigns(list, cursor, fresh) {
    const query = new URLSearchParams({ limit: "25", ...(cursor ? { cursor } : {}) });
    api("GET", `campaigns?${query}`)
      .then((page) => {
        let body = list.querySelector("tbody");
        if (fresh || !body) {
          body = h("tbody");
          list.replaceChildren(
            h("table", {}, h("thead", {}, h("tr", {}, [T.name, T.channel, T.status, ""].map((t) => h("th", { scope: "col" }, t)))), body),
          );
        }
        for (const item of page.items || []) {
          body.append(
            h(
              "tr",
              { "data-campaign": item.campaign_id },
              h("td", {}, item.name || ""),
              h("td", {}, T.channels[item.channel] || item.channel || ""),
              h("td", {}, T.statuses[item.status] || item.status || ""),
              h("td", {}, button(T.open, () => openCampaign(item.campaign_id), true)),
            ),
          );
        }
        if (!body.children.length) list.replaceChildren(h("p", {}, T.none));
        more(list, page.next_cursor && (() => loadCampaigns(list, page.next_cursor, false)));
      })
      .catch(apiError);
  }

  // -- one campaign ------------------------------------------------------------------------

  function openCampaign(id, message) {
    clearTimeout(poll);
    say(T.loading);
    api("GET", path(id))
      .then((campaign) => campaignScreen(campaign, message))
      .catch(apiError);
  }

  // The answer of a step: the campaign as it now stands, with what was done.
  function step(method, tail, body, done) {
    return (id) => {
      say(T.loading);
      api(method, path(id, tail), body && body())
        .then((campaign) => campaignScreen(campaign, done))
        .catch(apiError);
    };
  }

  function selectionText(selection) {
    const parts = [];
    if (selection && selection.organization) parts.push(`${T.organization}: ${selection.organization}`);
    if (selection && selection.title_words) parts.push(`${T.titleWords.split(" (")[0]}: ${selection.title_words.join(" ")}`);
    for (const [k, v] of Object.entries(selection || {})) {
      if (!["organization", "title_words", "title_match"].includes(k)) parts.push(`${k}: ${v}`);
    }
    return parts.join("; ") || T.allProspects;
  }

  function details(c) {
    const counts = c.counts || {};
    const rows = [
      ["status", T.status, T.statuses[c.status] || c.status],
      ["channel", T.channel, T.channels[c.channel] || c.channel],
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
      rows.push(["sending", T.sendingTitle, `${T.sendStatuses[c.sending.status] || c.sending.status}: ${counted}${left ? `; ${T.excluded}: ${left}` : ""}`]);
    }
    if (c.retention_due_at) rows.push(["retention_due_at", T.retention, c.retention_due_at]);
    return h("dl", { id: "campaign", "data-campaign": c.campaign_id }, rows.flatMap(([key, label, value]) => [h("dt", {}, label), h("dd", { "data-field": key }, String(value ?? ""))]));
  }

  function campaignScreen(c, message) {
    clearTimeout(poll);
    const id = c.campaign_id;
    const open = c.status !== "closed";
    const phone = c.channel === "phone";
    const sections = [];
    const section = (key, title, ...content) =>
      h("section", { "aria-labelledby": `${key}-title` }, h("h3", { id: `${key}-title` }, title), ...content);

    if (c.status === "draft") {
      sections.push(h("p", {}, button(T.materialise, () => step("POST", "/materialisation", null, null)(id))));
    }
    if (phone && c.status === "ready") {
      sections.push(
        section(
          "assign",
          T.assignTitle,
          form(
            (data) => step("PUT", "/assignment", () => ({ partner_id: String(data.get("partner-id") || "").trim() }), T.assigned)(id),
            field("partner-id", T.partnerId, { required: true, autocomplete: "off", value: c.assignment_open ? c.assigned_partner : "" }),
            h("button", { type: "submit" }, T.assign),
          ),
          c.assignment_open ? h("p", {}, button(T.unassign, () => step("DELETE", "/assignment", null, T.unassigned)(id), true)) : null,
        ),
      );
      const box = h("div", { id: "audience" });
      sections.push(section("audience", T.audienceTitle, button(T.showAudience, () => loadAudience(box, id, null, true), true), box));
    }
    if (!phone && c.status === "ready" && !c.sending) {
      sections.push(
        section(
          "send",
          T.sendTitle,
          form(
            (data) =>
              step("POST", "/sending", () => ({
                subject: String(data.get("send-subject") || "").trim(),
                text: String(data.get("send-text") || ""),
                lang: String(data.get("send-lang") || "fi"),
              }), null)(id),
            field("send-subject", T.subject, { required: true, maxlength: "200", autocomplete: "off" }),
            h("p", { class: "field" }, h("label", { for: "send-text" }, T.text), h("textarea", { id: "send-text", name: "send-text", required: true, rows: "8" })),
            select("send-lang", T.lang, T.langs),
            h("button", { type: "submit" }, T.send),
          ),
        ),
      );
    }
    if (open) sections.push(section("close", T.closeTitle, button(T.close, () => step("POST", "/closure", null, T.closed)(id), true)));

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
        .catch(apiError);
    }, POLL_MS);
  }

  // The audience as it stands now (each person shown is an audited read), with a call's
  // outcome recorded per person (PUT .../members/{prospect}/outcome, with its effects).
  function loadAudience(box, id, cursor, fresh) {
    say(T.loading);
    const query = new URLSearchParams({ limit: "25", ...(cursor ? { cursor } : {}) });
    api("GET", path(id, `/audience?${query}`))
      .then((page) => {
        say("");
        let body = box.querySelector("tbody");
        if (fresh || !body) {
          body = h("tbody");
          box.replaceChildren(
            h("table", {}, h("thead", {}, h("tr", {}, [T.person, T.contactOrg, T.outcome].map((t) => h("th", { scope: "col" }, t)))), body),
          );
        }
        box.querySelector(".excluded")?.remove();
        for (const member of page.items || []) {
          const pid = member.prospect_id;
          const choice = `outcome-${pid}`;
          body.append(
            h(
              "tr",
              { "data-prospect": pid },
              h("td", {}, [member.contact_name, member.title].filter(Boolean).join(", ")),
              h("td", {}, member.organization || ""),
              h(
                "td",
                {},
                form(
                  (data) => {
                    say(T.loading);
                    api("PUT", path(id, `/members/${encodeURIComponent(pid)}/outcome`), { outcome: String(data.get(choice) || "") })
                      .then((result) => say(result.changed ? T.recorded : T.unchanged))
                      .catch(apiError);
                  },
                  select(choice, `${T.outcome}: ${member.contact_name || pid}`, T.outcomes),
                  h("button", { type: "submit", class: "secondary" }, T.record),
                ),
              ),
            ),
          );
        }
        const left = excludedText(page.excluded);
        if (left) box.append(h("p", { class: "excluded" }, fill(T.pageExcluded, { list: left })));
        more(box, page.next_cursor && (() => loadAudience(box, id, page.next_cursor, false)));
      })
      .catch(apiError);
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
