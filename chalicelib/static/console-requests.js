/* The staff console's request cases (GDPR Art. 12-22, chalicelib/api/cases.py): the working
   list by due date (overdue and soon-due first, as the API sorts it), filtered by status; one
   case with its steps, due date and status; and the steps staff take: verify the person,
   wait for them, resume, extend once (the API mails the person the reason), carry the request
   out (its answer summarised), close with what was done and how it was delivered, refuse with
   a reason. Which step is allowed when is the API's rule: this page offers the steps that
   fit the case's status and shows the API's answer when one is refused. */
(function () {
  "use strict";

  const TEXT = {
    fi: {
      listTitle: "Rekisteröityjen pyynnöt",
      filter: "Tila",
      filterActive: "Käsiteltävät (eräpäivän mukaan)",
      show: "Näytä",
      none: "Ei pyyntöjä.",
      open: "Avaa",
      back: "Takaisin luetteloon",
      type: "Pyyntö",
      channel: "Kanava",
      received: "Saapui",
      status: "Tila",
      due: "Eräpäivä",
      daysLeft: "{days} pv jäljellä",
      overdue: "Myöhässä {days} pv",
      soonDue: "Erääntyy pian",
      verification: "Henkilöllisyys",
      unverifiedYet: "ei vielä varmistettu",
      extension: "Jatkettu",
      extensionText: "{months} kk: {reason}",
      waiting: "Odottaa henkilöä",
      lapsesOn: "Suljetaan tänä päivänä, ellei henkilö vastaa ennen sitä",
      handler: "Käsittelijä",
      outcome: "Lopputulos",
      delivery: "Vastaus toimitettu",
      refusal: "Epäämisen syy",
      closed: "Suljettu",
      keptUntil: "Säilytetään",
      asked: "Pyydetty",
      stepsTitle: "Vaiheet",
      when: "Aika",
      who: "Tekijä",
      what: "Vaihe",
      actTitle: "Käsittely",
      verify: "Henkilöllisyys tarkistettu",
      verified: "Henkilöllisyys kirjattu tarkistetuksi.",
      confirmErasure: "Vahvista: poista henkilön tiedot",
      carryOut: "Toteuta pyyntö",
      carriedOut: "Pyyntö toteutettu.",
      answerTitle: "Vastauksen yhteenveto",
      wait: "Odota henkilöä",
      waitReason: "Mitä henkilöltä odotetaan",
      waited: "Odottaa henkilöä: määräaika ei kulu.",
      resume: "Henkilö vastasi: jatka",
      resumed: "Käsittely jatkuu; eräpäivä siirtyi odotetut päivät.",
      extend: "Jatka määräaikaa",
      months: "Kuukautta",
      extendReason: "Jatkon syy (lähetetään henkilölle)",
      extended: "Määräaikaa jatkettu; henkilölle lähetettiin syy ja uusi päivä.",
      close: "Sulje tehtynä",
      outcomeText: "Mitä tehtiin",
      deliveryChoice: "Miten vastaus toimitettiin",
      closedMsg: "Pyyntö suljettu.",
      refuse: "Epää pyyntö",
      refuseReason: "Epäämisen syy (lähetetään henkilölle)",
      refused: "Pyyntö evätty; henkilölle lähetettiin syy ja tieto oikeussuojasta.",
      noAction: "Pyyntö on käsitelty.",
      types: {
        access: "Tietojen tarkastus",
        rectification: "Tietojen oikaisu",
        erasure: "Tietojen poisto",
        restriction: "Käsittelyn rajoitus",
        objection: "Vastustus",
        portability: "Siirto",
      },
      channels: {
        privacy_center: "tietosuojasivu",
        self_service: "asiakkaan oma sivu",
        staff_letter: "kirje",
        staff_phone: "puhelu",
        staff_email: "sähköposti",
        unsubscribe_link: "peruutuslinkki",
        one_click_unsubscribe: "yhden napin peruutus",
      },
      statuses: {
        unverified: "varmistamatta",
        open: "avoin",
        waiting_for_person: "odottaa henkilöä",
        done: "tehty",
        refused: "evätty",
      },
      deliveries: {
        email: "sähköposti",
        privacy_center: "tietosuojasivu",
        letter: "kirje",
        in_response: "vastauksessa",
      },
      methods: {
        email_link: "sähköpostin linkki",
        signed_in: "kirjautuminen",
        staff_checked: "henkilökunnan tarkistama",
        unsubscribe_link: "allekirjoitettu linkki",
      },
      // A step's name in `actions` is "what" or "what:detail" (chalicelib/cases.py).
      steps: {
        received: "Vastaanotettu",
        verified: "Henkilöllisyys varmistettu: {detail}",
        waiting_for_person: "Jäi odottamaan henkilöä",
        resumed: "Jatkui; odotettiin {detail} pv",
        extended: "Määräaikaa jatkettu {detail} kk",
        carried_out: "Toteutettu: {detail}",
        closed: "Suljettu tehtynä",
        lapsed: "Suljettu: henkilö ei vastannut",
        refused: "Evätty",
      },
      // What carrying a request out did (chalicelib/subjects.py, cases.py).
      outcomes: {
        found: "tiedot koottu",
        nothing_found: "tietoja ei löytynyt",
        rectified: "tiedot oikaistu",
        nothing_to_rectify: "ei oikaistavaa",
        erased: "tiedot poistettu",
        held: "tiedot säilytetään (säilytysvelvoite)",
        kept_only: "tiedot säilytetään (lakisääteinen peruste)",
        objection_recorded: "vastustus kirjattu",
        restricted: "käsittely rajoitettu",
        already_restricted: "käsittely oli jo rajoitettu",
        lapsed_no_answer: "henkilö ei vastannut määräajassa",
      },
      // The answer's parts (chalicelib/subjects.py, cases.py).
      answerKeys: {
        updated: "Oikaistu",
        not_changed: "Ei muutettu",
        erased: "Poistettu",
        kept: "Säilytetty",
        held: "Säilytysvelvoitteen alaisena",
        restricted: "Rajoitettu",
        already_restricted: "Jo rajoitettu",
        prospects_removed: "Prospekteja poistettu",
        prospects_held: "Prospekteja säilytetty",
        suppressed: "Kieltolistalla",
        numbers_do_not_call: "Numeroita soittokieltolistalle",
        generated_at: "Koottu",
        parts: "Rekisterit",
        suppression: "Kieltolista",
        do_not_call: "Soittokielto",
        do_not_re_add: "Ei lisätä uudelleen",
      },
      // The API's refusals of a step (409s of chalicelib/cases.py), in the page's words.
      refusals: {
        case_not_open: "Vain avointa pyyntöä voi käsitellä näin. Avaa pyyntö uudelleen nähdäksesi sen tilan.",
        case_not_unverified: "Henkilöllisyys on jo kirjattu. Avaa pyyntö uudelleen.",
        case_not_waiting: "Pyyntö ei odota henkilöä. Avaa pyyntö uudelleen.",
        case_closed: "Pyyntö on jo suljettu.",
        already_extended: "Määräaikaa on jo jatkettu kerran; toista kertaa ei voi jatkaa.",
        extension_too_late: "Eräpäivä on jo mennyt; määräaikaa ei voi enää jatkaa.",
        person_not_told: "Viestiä henkilölle ei voitu lähettää; pyyntöä ei muutettu. Yritä myöhemmin uudelleen.",
      },
    },
    en: {
      listTitle: "Data subject requests",
      filter: "Status",
      filterActive: "To handle (by due date)",
      show: "Show",
      none: "No requests.",
      open: "Open",
      back: "Back to the list",
      type: "Request",
      channel: "Channel",
      received: "Received",
      status: "Status",
      due: "Due",
      daysLeft: "{days} days left",
      overdue: "Overdue by {days} days",
      soonDue: "Due soon",
      verification: "Identity",
      unverifiedYet: "not verified yet",
      extension: "Extended",
      extensionText: "{months} months: {reason}",
      waiting: "Waiting for the person",
      lapsesOn: "Closed on this day unless the person answers before",
      handler: "Handler",
      outcome: "Outcome",
      delivery: "Answer delivered",
      refusal: "Reason for refusal",
      closed: "Closed",
      keptUntil: "Kept until",
      asked: "Asked",
      stepsTitle: "Steps",
      when: "Time",
      who: "By",
      what: "Step",
      actTitle: "Handling",
      verify: "Identity checked",
      verified: "Identity recorded as checked.",
      confirmErasure: "Confirm: erase the person's data",
      carryOut: "Carry out the request",
      carriedOut: "Request carried out.",
      answerTitle: "Answer summary",
      wait: "Wait for the person",
      waitReason: "What the person is asked for",
      waited: "Waiting for the person: the deadline's clock is stopped.",
      resume: "The person answered: resume",
      resumed: "Handling resumed; the due date moved by the days waited.",
      extend: "Extend the deadline",
      months: "Months",
      extendReason: "Reason for the extension (mailed to the person)",
      extended: "Deadline extended; the person was mailed the reason and the new date.",
      close: "Close as done",
      outcomeText: "What was done",
      deliveryChoice: "How the answer was delivered",
      closedMsg: "Request closed.",
      refuse: "Refuse the request",
      refuseReason: "Reason for refusal (mailed to the person)",
      refused: "Request refused; the person was mailed the reason and their remedies.",
      noAction: "The request has been handled.",
      types: {
        access: "Access",
        rectification: "Rectification",
        erasure: "Erasure",
        restriction: "Restriction",
        objection: "Objection",
        portability: "Portability",
      },
      channels: {
        privacy_center: "privacy center",
        self_service: "customer's own page",
        staff_letter: "letter",
        staff_phone: "phone call",
        staff_email: "email",
        unsubscribe_link: "unsubscribe link",
        one_click_unsubscribe: "one-click unsubscribe",
      },
      statuses: {
        unverified: "unverified",
        open: "open",
        waiting_for_person: "waiting for the person",
        done: "done",
        refused: "refused",
      },
      deliveries: {
        email: "email",
        privacy_center: "privacy center",
        letter: "letter",
        in_response: "in the response",
      },
      methods: {
        email_link: "emailed link",
        signed_in: "signed in",
        staff_checked: "checked by staff",
        unsubscribe_link: "signed link",
      },
      steps: {
        received: "Received",
        verified: "Identity verified: {detail}",
        waiting_for_person: "Waiting for the person",
        resumed: "Resumed after {detail} days",
        extended: "Deadline extended by {detail} months",
        carried_out: "Carried out: {detail}",
        closed: "Closed as done",
        lapsed: "Closed: the person did not answer",
        refused: "Refused",
      },
      outcomes: {
        found: "data gathered",
        nothing_found: "no data found",
        rectified: "data rectified",
        nothing_to_rectify: "nothing to rectify",
        erased: "data erased",
        held: "data kept (legal hold)",
        kept_only: "data kept (a legal ground)",
        objection_recorded: "objection recorded",
        restricted: "processing restricted",
        already_restricted: "processing was already restricted",
        lapsed_no_answer: "the person did not answer in time",
      },
      answerKeys: {
        updated: "Rectified",
        not_changed: "Not changed",
        erased: "Erased",
        kept: "Kept",
        held: "Under a legal hold",
        restricted: "Restricted",
        already_restricted: "Already restricted",
        prospects_removed: "Prospects removed",
        prospects_held: "Prospects kept",
        suppressed: "On the suppression list",
        numbers_do_not_call: "Numbers put on the do-not-call list",
        generated_at: "Gathered",
        parts: "Registers",
        suppression: "Suppression list",
        do_not_call: "Do not call",
        do_not_re_add: "Do not re-add",
      },
      refusals: {
        case_not_open: "Only an open request can be handled this way. Open the request again to see its status.",
        case_not_unverified: "The identity has already been recorded. Open the request again.",
        case_not_waiting: "The request is not waiting for the person. Open the request again.",
        case_closed: "The request is already closed.",
        already_extended: "The deadline has already been extended once; it cannot be extended again.",
        extension_too_late: "The due date has passed; the deadline can no longer be extended.",
        person_not_told: "The message to the person could not be sent; the request is unchanged. Try again later.",
      },
    },
  };

  const STATUSES = ["unverified", "open", "waiting_for_person", "done", "refused"];
  // How staff may say they delivered an answer (the privacy center's own channel answers itself).
  const DELIVERIES = ["email", "letter", "privacy_center", "in_response"];

  let T, h, fill, say, fail, show, field, form, api, refusals, pagedTable, label, action;
  let filter = "";

  function bind(kit) {
    ({ h, fill, say, fail, show, field, form, api, refusals, pagedTable, label, action } = kit);
    T = { ...kit.T, ...TEXT[kit.lang] };
  }

  // A refused step in the page's words; anything else as the core says it.
  function apiError(err) {
    return refusals(T.refusals)(err);
  }

  // A step as the page says it: "what" or "what:detail", the detail itself a code for some.
  function stepText(what) {
    const text = String(what || "");
    const cut = text.indexOf(":");
    const name = cut < 0 ? text : text.slice(0, cut);
    const raw = cut < 0 ? "" : text.slice(cut + 1);
    const detail = name === "verified" ? label(T.methods, raw) : name === "carried_out" ? label(T.outcomes, raw) : raw;
    return T.steps[name] ? fill(T.steps[name], { detail }) : text;
  }

  function choice(id, text, options, value) {
    return h(
      "p",
      { class: "field" },
      h("label", { for: id }, text),
      h("select", { id, name: id }, options.map(([v, optionText]) => h("option", { value: v, selected: v === value }, optionText))),
    );
  }

  function dueText(item) {
    if (!item.due_at) return "";
    if (item.overdue) return `${item.due_at} · ${fill(T.overdue, { days: -item.days_left })}`;
    if (item.days_left === undefined) return String(item.due_at);
    const left = fill(T.daysLeft, { days: item.days_left });
    return item.soon_due ? `${item.due_at} · ${T.soonDue} (${left})` : `${item.due_at} · ${left}`;
  }

  // -- the list ---------------------------------------------------------------------------

  function listScreen() {
    const list = h("div", { id: "cases" });
    show(
      T.listTitle,
      form(
        (data) => {
          filter = String(data.get("case-status") || "");
          loadCases(list);
        },
        choice("case-status", T.filter, [["", T.filterActive], ...STATUSES.map((s) => [s, label(T.statuses, s)])], filter),
        h("button", { type: "submit" }, T.show),
      ),
      list,
    );
    loadCases(list);
  }

  function loadCases(list) {
    pagedTable(list, {
      columns: [T.due, T.type, T.status, T.channel, T.received, ""],
      empty: T.none,
      load: (cursor) => {
        const query = new URLSearchParams({ limit: "25" });
        if (filter) query.set("status", filter);
        if (cursor) query.set("cursor", cursor);
        return api("GET", `cases?${query}`);
      },
      row: (item) =>
        h(
          "tr",
          { "data-case": item.case_id, class: item.overdue ? "overdue" : item.soon_due ? "soon-due" : null },
          h("td", {}, item.due_at ? dueText(item) : String(item.closed_at || "").slice(0, 10)),
          h("td", {}, label(T.types, item.type)),
          h("td", {}, label(T.statuses, item.status)),
          h("td", {}, label(T.channels, item.channel)),
          h("td", {}, String(item.received_on || item.received_at || "")),
          h("td", {}, h("button", { type: "button", class: "secondary", onclick: () => openCase(item.case_id) }, T.open)),
        ),
    });
  }

  // -- one case ---------------------------------------------------------------------------

  function openCase(caseId, message, answer) {
    say(T.loading);
    api("GET", `cases/${encodeURIComponent(caseId)}`)
      .then((item) => caseScreen(item, message, answer))
      .catch(apiError);
  }

  function step(caseId, path, body, message) {
    say(T.loading);
    api("POST", `cases/${encodeURIComponent(caseId)}/${path}`, body)
      .then(() => openCase(caseId, message))
      .catch(apiError);
  }

  function describe(value) {
    if (value === null || value === undefined) return "";
    if (Array.isArray(value)) return value.map(describe).join(", ");
    if (typeof value === "object") {
      return Object.entries(value)
        .map(([k, v]) => `${k}: ${describe(v)}`)
        .join("; ");
    }
    return String(value);
  }

  function caseScreen(item, message, answer) {
    const rows = [
      [T.type, label(T.types, item.type), "type"],
      [T.status, label(T.statuses, item.status), "status"],
      [T.channel, label(T.channels, item.channel), "channel"],
      [T.received, String(item.received_on || item.received_at || ""), "received"],
      [T.due, dueText(item), "due"],
      [
        T.verification,
        item.verification && item.verification.method ? `${label(T.methods, item.verification.method)} ${item.verification.at || ""}`.trim() : T.unverifiedYet,
        "verification",
      ],
      item.details && [T.asked, describe(item.details), "details"],
      item.extension && [T.extension, fill(T.extensionText, { months: item.extension.months, reason: item.extension.reason || "" }), "extension"],
      item.waiting_reason && item.status === "waiting_for_person" && [T.waiting, String(item.waiting_reason), "waiting"],
      // The day the nightly sweep closes a waiting case (the person told), unless resumed first.
      item.lapses_on && [T.lapsesOn, String(item.lapses_on), "lapses"],
      item.handler && [T.handler, String(item.handler), "handler"],
      // After carrying out, the outcome is a code; once closed, it is staff's own words.
      item.outcome && [T.outcome, label(T.outcomes, item.outcome), "outcome"],
      item.delivery && [T.delivery, label(T.deliveries, item.delivery), "delivery"],
      item.refusal_reason && [T.refusal, String(item.refusal_reason), "refusal"],
      item.closed_at && [T.closed, String(item.closed_at), "closed"],
      item.kept_until && [T.keptUntil, String(item.kept_until), "kept"],
    ].filter(Boolean);
    const details = h(
      "dl",
      { id: "case" },
      rows.flatMap(([text, value, key]) => [h("dt", {}, text), h("dd", { "data-field": key }, value)]),
    );
    const steps = h(
      "table",
      { id: "case-steps" },
      h("thead", {}, h("tr", {}, [T.when, T.what, T.who].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        (item.actions || []).map((a) =>
          h("tr", { "data-step": String(a.what || a.action || "") }, h("td", {}, String(a.at || "")), h("td", {}, stepText(a.what || a.action)), h("td", {}, String(a.by || a.principal_id || ""))),
        ),
      ),
    );
    show(
      `${label(T.types, item.type)} · ${item.received_on || ""}`,
      h("p", {}, h("button", { type: "button", class: "secondary", onclick: () => listScreen() }, T.back)),
      details,
      answer && answerSummary(answer),
      h("section", { "aria-labelledby": "act-title" }, h("h3", { id: "act-title" }, T.actTitle), ...actions(item)),
      h("section", { "aria-labelledby": "steps-title" }, h("h3", { id: "steps-title" }, T.stepsTitle), steps),
    );
    if (message) say(message);
  }

  function answerSummary(answer) {
    const entries = Object.entries(answer || {});
    return h(
      "section",
      { "aria-labelledby": "answer-title", id: "answer" },
      h("h3", { id: "answer-title" }, T.answerTitle),
      h(
        "dl",
        {},
        entries.flatMap(([key, value]) => [
          h("dt", {}, label(T.answerKeys, key)),
          h(
            "dd",
            {},
            Array.isArray(value)
              ? value.length
                ? h("ul", {}, value.slice(0, 50).map((v) => h("li", {}, describe(v))))
                : "0"
              : describe(value),
          ),
        ]),
      ),
    );
  }

  function reasonForm(id, text, button, onreason) {
    return form(
      (data) => onreason(String(data.get(id) || "").trim()),
      field(id, text, { type: "text", maxlength: "500", autocomplete: "off", required: true }),
      h("button", { type: "submit" }, button),
    );
  }

  function actions(item) {
    const id = item.case_id;
    const out = [];
    if (item.status === "unverified") {
      out.push(h("p", {}, h("button", { type: "button", onclick: () => step(id, "verify", { method: "staff_checked" }, T.verified) }, T.verify)));
    }
    if (item.status === "open") {
      if (!item.outcome) {
        // Carrying out an erasure deletes the person's data: it takes a second, explicit click.
        const carry = () => {
          say(T.loading);
          return api("POST", `cases/${encodeURIComponent(id)}/carry-out`, {})
            .then((done) => openCase(id, T.carriedOut, done.answer))
            .catch(apiError);
        };
        out.push(h("p", {}, action(T.carryOut, carry, { confirm: item.type === "erasure" ? T.confirmErasure : null })));
      }
      out.push(
        h("h4", {}, T.close),
        form(
          (data) =>
            step(id, "close", { outcome: String(data.get("close-outcome") || "").trim(), delivery: String(data.get("close-delivery") || "") }, T.closedMsg),
          field("close-outcome", T.outcomeText, { type: "text", maxlength: "500", autocomplete: "off", required: true, value: item.outcome || "" }),
          choice("close-delivery", T.deliveryChoice, DELIVERIES.map((d) => [d, label(T.deliveries, d)]), item.channel === "privacy_center" ? "email" : "letter"),
          h("button", { type: "submit" }, T.close),
        ),
        h("h4", {}, T.wait),
        reasonForm("wait-reason", T.waitReason, T.wait, (reason) => step(id, "wait", { reason }, T.waited)),
      );
    }
    if (item.status === "waiting_for_person") {
      out.push(h("p", {}, h("button", { type: "button", onclick: () => step(id, "resume", undefined, T.resumed) }, T.resume)));
    }
    // Once only (Art. 12(3)): offered while no extension is recorded; the API refuses a second.
    if (["open", "waiting_for_person"].includes(item.status) && !item.extension) {
      out.push(
        h("h4", {}, T.extend),
        form(
          (data) => step(id, "extend", { months: Number(data.get("extend-months") || 1), reason: String(data.get("extend-reason") || "").trim() }, T.extended),
          choice("extend-months", T.months, [["1", "1"], ["2", "2"]], "1"),
          field("extend-reason", T.extendReason, { type: "text", maxlength: "500", autocomplete: "off", required: true }),
          h("button", { type: "submit" }, T.extend),
        ),
      );
    }
    if (["unverified", "open", "waiting_for_person"].includes(item.status)) {
      out.push(h("h4", {}, T.refuse), reasonForm("refuse-reason", T.refuseReason, T.refuse, (reason) => step(id, "refuse", { reason }, T.refused)));
    } else {
      out.push(h("p", {}, T.noAction));
    }
    return out;
  }

  window.IlopisteConsole.register({
    id: "cases",
    roles: ["staff", "dpo"],
    label: { fi: "Pyynnöt", en: "Requests" },
    start(kit) {
      bind(kit);
      filter = "";
      listScreen();
    },
  });
})();
