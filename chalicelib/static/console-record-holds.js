/* A record's restriction of processing (GDPR Art. 18) and the DPO's legal hold, for both
   registers' screens (customers, prospects): the restriction shown with its ground and dates,
   restricted or changed with a ground and a review date (PUT /restrictions/{kind}/{id}), lifted
   after the person is told (POST …/lift, `told_otherwise` when told by letter or phone); a hold
   set or lifted with its reason (PUT /legal-holds/{kind}/{id}, POST …/lift; the API refuses
   anyone but the DPO). Not an area: the screens call
   `IlopisteRecordHolds.restrictionSection(kit, kind, record_id, restriction, after)` and
   `.holdSection(kit, kind, record_id, hold, after)`, `after(message)` taking the call's promise
   (the screen opens the record again with the message). Every rule is the API's. */
(function () {
  "use strict";

  const TEXT = {
    fi: {
      restrictedMark: "Rajoitettu",
      notRestricted: "Ei rajoitettu",
      reasonLabel: "Peruste",
      since: "Alkaen",
      until: "Tarkistetaan viimeistään",
      restrictionTitle: "Käsittelyn rajoitus (Art. 18)",
      restrict: "Rajoita käsittelyä",
      change: "Muuta rajoitusta",
      restrictedMsg: "Käsittely rajoitettu.",
      lift: "Poista rajoitus",
      toldOtherwise: "Henkilölle on kerrottu muuten (kirje tai puhelu): ei sähköpostia",
      lifted: "Rajoitus poistettu; henkilölle kerrottiin.",
      holdTitle: "Lakisääteinen säilytys (legal hold)",
      held: "Säilytysvelvoite",
      notHeld: "Ei säilytysvelvoitetta",
      holdReason: "Syy (asia, ei henkilön tietoja)",
      setHold: "Aseta säilytysvelvoite",
      holdSet: "Säilytysvelvoite asetettu.",
      liftHold: "Poista säilytysvelvoite",
      holdLifted: "Säilytysvelvoite poistettu.",
      reasons: {
        accuracy_contested: "Henkilö kiistää tietojen paikkansapitävyyden (18(1)(a))",
        unlawful_processing_opposed_erasure: "Lainvastainen käsittely, henkilö vastustaa poistamista (18(1)(b))",
        needed_for_legal_claims: "Henkilö tarvitsee tietoja oikeusvaateeseen (18(1)(c))",
        objection_pending: "Vastustus käsittelyssä (18(1)(d))",
      },
    },
    en: {
      restrictedMark: "Restricted",
      notRestricted: "Not restricted",
      reasonLabel: "Ground",
      since: "Since",
      until: "Review by",
      restrictionTitle: "Restriction of processing (Art. 18)",
      restrict: "Restrict processing",
      change: "Change the restriction",
      restrictedMsg: "Processing restricted.",
      lift: "Lift the restriction",
      toldOtherwise: "The person was told another way (letter or phone): no email",
      lifted: "Restriction lifted; the person was told.",
      holdTitle: "Legal hold",
      held: "Legal hold",
      notHeld: "No legal hold",
      holdReason: "Reason (the matter, not the person's data)",
      setHold: "Set a legal hold",
      holdSet: "Legal hold set.",
      liftHold: "Lift the legal hold",
      holdLifted: "Legal hold lifted.",
      reasons: {
        accuracy_contested: "The person contests the data's accuracy (18(1)(a))",
        unlawful_processing_opposed_erasure: "Unlawful processing; the person opposes erasure (18(1)(b))",
        needed_for_legal_claims: "The person needs the data for legal claims (18(1)(c))",
        objection_pending: "An objection is being decided (18(1)(d))",
      },
    },
  };
  const REASONS = ["accuracy_contested", "unlawful_processing_opposed_erasure", "needed_for_legal_claims", "objection_pending"];

  const words = (kit) => ({ ...kit.T, ...TEXT[kit.lang] });

  // The restriction as one line: marked with its ground, since and review date; or "not restricted".
  function restrictionText(kit, r) {
    const T = words(kit);
    if (!r) return T.notRestricted;
    const parts = [`${T.restrictedMark}: ${kit.label(T.reasons, r.reason)}`];
    if (r.since) parts.push(`${T.since} ${r.since}`);
    if (r.until) parts.push(`${T.until} ${r.until}`);
    return parts.join(" · ");
  }

  function restrictionSection(kit, kind, id, r, after) {
    const { h, say, field, form, api, label } = kit;
    const T = words(kit);
    const path = `restrictions/${kind}/${encodeURIComponent(id)}`;
    const restrictForm = form(
      (data) => {
        const until = String(data.get("restrict-until") || "");
        say(T.loading);
        return after(T.restrictedMsg)(api("PUT", path, { reason: String(data.get("restrict-reason") || ""), ...(until ? { until } : {}) }));
      },
      h(
        "p",
        { class: "field" },
        h("label", { for: "restrict-reason" }, T.reasonLabel),
        h(
          "select",
          { id: "restrict-reason", name: "restrict-reason" },
          REASONS.map((reason) => h("option", { value: reason, selected: r && r.reason === reason }, label(T.reasons, reason))),
        ),
      ),
      field("restrict-until", T.until, { type: "date", value: (r && r.until) || "" }),
      h("button", { type: "submit" }, r ? T.change : T.restrict),
    );
    const liftForm =
      r &&
      form(
        (data) => {
          say(T.loading);
          return after(T.lifted)(api("POST", `${path}/lift`, { told_otherwise: data.get("told-otherwise") === "on" }));
        },
        h(
          "p",
          { class: "check" },
          h("input", { type: "checkbox", id: "told-otherwise", name: "told-otherwise" }),
          " ",
          h("label", { for: "told-otherwise" }, T.toldOtherwise),
        ),
        h("button", { type: "submit", class: "secondary" }, T.lift),
      );
    return h("section", { "aria-labelledby": "restriction-title" }, h("h3", { id: "restriction-title" }, T.restrictionTitle), restrictForm, liftForm);
  }

  function holdSection(kit, kind, id, hold, after) {
    const { h, say, field, form, api } = kit;
    const T = words(kit);
    const path = `legal-holds/${kind}/${encodeURIComponent(id)}`;
    const holdForm = form(
      (data) => {
        const reason = String(data.get("hold-reason") || "").trim();
        say(T.loading);
        return after(hold ? T.holdLifted : T.holdSet)(hold ? api("POST", `${path}/lift`, { reason }) : api("PUT", path, { reason }));
      },
      field("hold-reason", T.holdReason, { type: "text", maxlength: "500", autocomplete: "off", required: true }),
      h("button", { type: "submit" }, hold ? T.liftHold : T.setHold),
    );
    return h("section", { "aria-labelledby": "hold-title" }, h("h3", { id: "hold-title" }, T.holdTitle), h("p", {}, hold ? T.held : T.notHeld), holdForm);
  }

  window.IlopisteRecordHolds = Object.freeze({ restrictionText, restrictionSection, holdSection });
})();
