/* The staff console's customer screens: find a customer (by organisation, or by email or
   the contact person's name in a POST body so neither is in a URL), view one, correct it,
   end and re-activate its contract, set its services and prices, list and add its orders;
   its restriction of processing (GDPR Art. 18: restrict with a ground, lift after telling
   the person) and any legal hold, marked; for the DPO, set and lift a legal hold and read
   the audit history. Every rule (which ground, who may) is the API's
   (chalicelib/api/restrictions.py, dpo.py). Registered with console.js, which signs in and
   lends the page builders and the API (`kit`). */
(function () {
  "use strict";

  const TEXT = {
    fi: {
      findTitle: "Etsi asiakas",
      byOrg: "Organisaation nimi",
      search: "Hae",
      byEmail: "Yhteyshenkilön sähköpostiosoite",
      searchEmail: "Hae sähköpostilla",
      byName: "Yhteyshenkilön nimi tai sen osa",
      searchName: "Hae nimellä",
      results: "Hakutulokset",
      none: "Ei asiakkaita.",
      open: "Avaa",
      organization: "Organisaatio",
      business_id: "Y-tunnus",
      contact_name: "Yhteyshenkilö",
      phone: "Puhelin",
      email: "Sähköposti",
      status: "Tila",
      contract_end: "Sopimus päättyy",
      statuses: { active: "voimassa", ended: "päättynyt", erased: "poistettu" },
      back: "Takaisin hakuun",
      correctTitle: "Korjaa tietoja",
      save: "Tallenna korjaukset",
      saved: "Korjaukset tallennettu.",
      noChanges: "Ei muutoksia tallennettavaksi.",
      contractTitle: "Sopimus",
      endDate: "Päättymispäivä",
      endContract: "Päätä sopimus",
      ended: "Sopimus päätetty.",
      reactivate: "Aktivoi uudelleen",
      reactivated: "Sopimus aktivoitu uudelleen.",
      auditTitle: "Tapahtumahistoria",
      showAudit: "Näytä tapahtumahistoria",
      when: "Aika",
      action: "Tapahtuma",
      who: "Tekijä",
      fields: "Kentät",
      servicesTitle: "Palvelut",
      service: "Palvelu",
      price: "Hinta (EUR)",
      period: "Jakso",
      periods: { month: "kuukausi", year: "vuosi", once: "kertamaksu" },
      noServices: "Ei voimassa olevia palveluja.",
      endService: "Lopeta {service}",
      addService: "Lisää palvelu",
      servicesSaved: "Palvelut tallennettu.",
      ordersTitle: "Tilaukset",
      showOrders: "Näytä tilaukset",
      ordered: "Tilattu",
      lines: "Rivit",
      total: "Yhteensä",
      noOrders: "Ei tilauksia.",
      orderService: "Tilattava palvelu",
      quantity: "Määrä",
      addOrder: "Lisää tilaus",
      orderAdded: "Tilaus lisätty.",
      reasonCol: "Syy",
      noAudit: "Ei tapahtumia.",
      // Field names in audit events beyond the editable ones.
      fieldNames: {
        username: "käyttäjätunnus",
        status: "tila",
        contract_end: "sopimuksen päättyminen",
        active_services: "palvelut",
        items: "tilausrivit",
        consent_service_messages: "suostumus palveluviesteihin",
        consent_history: "suostumushistoria",
        email_change: "sähköpostiosoitteen vaihto",
        last_seen_at: "viimeksi käytetty",
      },
      restricted: "Käsittely rajoitettu",
      restrictedMark: "Rajoitettu",
      held: "Säilytysvelvoite",
      reasons: {
        accuracy_contested: "Henkilö kiistää tietojen paikkansapitävyyden (18(1)(a))",
        unlawful_processing_opposed_erasure: "Lainvastainen käsittely, henkilö vastustaa poistamista (18(1)(b))",
        needed_for_legal_claims: "Henkilö tarvitsee tietoja oikeusvaateeseen (18(1)(c))",
        objection_pending: "Vastustus käsittelyssä (18(1)(d))",
      },
      // Audit actions on a customer beyond the core's shared ones (kit.T.auditActions).
      moreActions: {
        consent_request: "suostumusta pyydetty",
        service_message: "palveluviesti",
        dormant_notice: "ilmoitus käyttämättömästä tilistä",
        keep_account: "tili pidetään",
        schedule_deletion: "poisto ajastettu",
        retention_review: "säilytys tarkistettu",
        rekey: "avaimet vaihdettu",
      },
      // The API's refusals here (409s), in the page's words.
      refusals: {
        not_restricted: "Käsittelyä ei ole rajoitettu.",
        person_not_told: "Henkilölle ei voitu lähettää sähköpostia; rajoitusta ei poistettu. Kerro hänelle muuten ja merkitse se.",
      },
    },
    en: {
      findTitle: "Find a customer",
      byOrg: "Organisation name",
      search: "Search",
      byEmail: "Contact person's email address",
      searchEmail: "Search by email",
      byName: "Contact person's name or part of it",
      searchName: "Search by name",
      results: "Results",
      none: "No customers.",
      open: "Open",
      organization: "Organisation",
      business_id: "Business ID",
      contact_name: "Contact person",
      phone: "Phone",
      email: "Email",
      status: "Status",
      contract_end: "Contract ends",
      statuses: { active: "active", ended: "ended", erased: "erased" },
      back: "Back to search",
      correctTitle: "Correct data",
      save: "Save corrections",
      saved: "Corrections saved.",
      noChanges: "Nothing changed to save.",
      contractTitle: "Contract",
      endDate: "End date",
      endContract: "End the contract",
      ended: "Contract ended.",
      reactivate: "Re-activate",
      reactivated: "Contract re-activated.",
      auditTitle: "Audit history",
      showAudit: "Show the audit history",
      when: "Time",
      action: "Action",
      who: "By",
      fields: "Fields",
      servicesTitle: "Services",
      service: "Service",
      price: "Price (EUR)",
      period: "Period",
      periods: { month: "month", year: "year", once: "one-off" },
      noServices: "No active services.",
      endService: "End {service}",
      addService: "Add a service",
      servicesSaved: "Services saved.",
      ordersTitle: "Orders",
      showOrders: "Show the orders",
      ordered: "Ordered",
      lines: "Lines",
      total: "Total",
      noOrders: "No orders.",
      orderService: "Service to order",
      quantity: "Quantity",
      addOrder: "Add an order",
      orderAdded: "Order added.",
      reasonCol: "Reason",
      noAudit: "No events.",
      fieldNames: {
        username: "username",
        status: "status",
        contract_end: "contract end",
        active_services: "services",
        items: "order lines",
        consent_service_messages: "consent to service messages",
        consent_history: "consent history",
        email_change: "email address change",
        last_seen_at: "last seen",
      },
      restricted: "Processing restricted",
      restrictedMark: "Restricted",
      held: "Legal hold",
      reasons: {
        accuracy_contested: "The person contests the data's accuracy (18(1)(a))",
        unlawful_processing_opposed_erasure: "Unlawful processing; the person opposes erasure (18(1)(b))",
        needed_for_legal_claims: "The person needs the data for legal claims (18(1)(c))",
        objection_pending: "An objection is being decided (18(1)(d))",
      },
      moreActions: {
        consent_request: "consent asked",
        service_message: "service message",
        dormant_notice: "dormant account notice",
        keep_account: "account kept",
        schedule_deletion: "deletion scheduled",
        retention_review: "retention reviewed",
        rekey: "keys rotated",
      },
      refusals: {
        not_restricted: "Processing is not restricted.",
        person_not_told: "The email to the person could not be sent; the restriction is not lifted. Tell them another way and say so.",
      },
    },
  };

  const EDITABLE = ["organization", "business_id", "contact_name", "phone", "email"];
  const REQUIRED = ["organization", "contact_name", "email"]; // the register's required fields

  let T, kit, h, fill, say, fail, show, field, form, api, claims, pagedTable, label, changes, searchForms;
  let holds; // console-record-holds.js (loads after this script): restriction and legal hold

  function bind(given) {
    kit = given;
    holds = window.IlopisteRecordHolds;
    ({ h, fill, say, fail, show, field, form, api, claims, pagedTable, label, changes, searchForms } = kit);
    T = { ...kit.T, ...TEXT[kit.lang] };
  }

  // A refusal of this area's API in the page's words; anything else as the core says it.
  function apiError(err) {
    return kit.refusals(T.refusals)(err);
  }

  // The page's words for a field name the API answers with (audit events name fields).
  function fieldText(name) {
    return EDITABLE.includes(name) ? T[name] : label(T.fieldNames, name);
  }

  function restrictionText(r) {
    return holds.restrictionText(kit, r);
  }


  // -- search -----------------------------------------------------------------------------

  function searchScreen(message) {
    const list = h("div", { id: "results" });
    show(
      T.findTitle,
      ...searchForms("customers", "search", T, (load) => showResults(list, load)),
      list,
    );
    if (message) say(message);
  }

  function showResults(list, load) {
    pagedTable(list, {
      heading: T.results,
      columns: [T.organization, T.contact_name, T.status, T.restricted, ""],
      empty: T.none,
      load,
      row: (item) =>
        h(
          "tr",
          { "data-customer": item.customer_id },
          h("td", {}, item.organization || ""),
          h("td", {}, item.contact_name || ""),
          h("td", {}, label(T.statuses, item.status)),
          h("td", {}, item.restricted ? T.restrictedMark : ""),
          h("td", {}, h("button", { type: "button", class: "secondary", onclick: () => openCustomer(item.customer_id) }, T.open)),
        ),
    });
  }

  // -- one customer -----------------------------------------------------------------------

  function openCustomer(customerId, message) {
    say(T.loading);
    api("GET", `customers/${encodeURIComponent(customerId)}`)
      .then((customer) => customerScreen(customer, message))
      .catch(apiError);
  }

  function then(id, message) {
    return (promise) => promise.then(() => openCustomer(id, message)).catch(apiError);
  }

  function customerScreen(customer, message) {
    const id = customer.customer_id;
    const r = customer.restriction || null;
    const hold = customer.legal_hold || null;
    const details = h(
      "dl",
      { id: "customer" },
      [...EDITABLE, "status", "contract_end"].flatMap((name) =>
        customer[name] === undefined || customer[name] === null
          ? []
          : [h("dt", {}, T[name]), h("dd", { "data-field": name }, name === "status" ? label(T.statuses, customer[name]) : String(customer[name]))],
      ),
      h("dt", {}, T.restricted),
      h("dd", { "data-field": "restriction", class: r ? "marked" : null }, restrictionText(r)),
      hold && h("dt", {}, T.held),
      hold && h("dd", { "data-field": "legal_hold", class: "marked" }, `${hold.reason || ""} · ${hold.set_at || ""}`),
    );
    const correct = form(
      (data) => {
        const changed = changes(customer, EDITABLE, REQUIRED, (name) => data.get(name));
        if (!Object.keys(changed).length) return say(T.noChanges);
        say(T.loading);
        return api("PATCH", `customers/${encodeURIComponent(id)}`, changed)
          .then((updated) => customerScreen(updated, T.saved))
          .catch(apiError);
      },
      ...EDITABLE.map((name) =>
        field(`edit-${name}`, T[name], { name, value: customer[name] || "", type: name === "email" ? "email" : "text", autocomplete: "off" }),
      ),
      h("button", { type: "submit" }, T.save),
    );
    const contract =
      customer.status === "active"
        ? form(
            (data) => {
              say(T.loading);
              api("POST", `customers/${encodeURIComponent(id)}/contract-end`, { end_date: String(data.get("end_date") || "") })
                .then((updated) => customerScreen(updated, T.ended))
                .catch(apiError);
            },
            field("end_date", T.endDate, { type: "date", required: true }),
            h("button", { type: "submit" }, T.endContract),
          )
        : customer.status === "ended"
          ? h(
              "p",
              {},
              h("button", {
                type: "button",
                onclick: () => {
                  say(T.loading);
                  api("POST", `customers/${encodeURIComponent(id)}/reactivation`)
                    .then((updated) => customerScreen(updated, T.reactivated))
                    .catch(apiError);
                },
              }, T.reactivate),
            )
          : null;
    const isDpo = claims().roles.includes("dpo");
    const audit = h("div", { id: "audit" });
    show(
      customer.organization || id,
      h("p", {}, h("button", { type: "button", class: "secondary", onclick: () => searchScreen() }, T.back)),
      details,
      h("section", { "aria-labelledby": "correct-title" }, h("h3", { id: "correct-title" }, T.correctTitle), correct),
      contract && h("section", { "aria-labelledby": "contract-title" }, h("h3", { id: "contract-title" }, T.contractTitle), contract),
      holds.restrictionSection(kit, "customer", customer.customer_id, customer.restriction || null, (m) => then(customer.customer_id, m)),
      isDpo && holds.holdSection(kit, "customer", customer.customer_id, customer.legal_hold || null, (m) => then(customer.customer_id, m)),
      servicesSection(customer),
      ordersSection(customer),
      isDpo &&
        h(
          "section",
          { "aria-labelledby": "audit-title" },
          h("h3", { id: "audit-title" }, T.auditTitle),
          h("button", { type: "button", class: "secondary", onclick: () => loadAudit(audit, id) }, T.showAudit),
          audit,
        ),
    );
    if (message) say(message);
  }

  // The services the customer can order, with their prices: the list is set whole
  // (PUT /customers/{id}/services), so ending one sends the list without it.
  function servicesSection(customer) {
    const id = customer.customer_id;
    const current = customer.active_services || [];
    const save = (list) => {
      say(T.loading);
      api("PUT", `customers/${encodeURIComponent(id)}/services`, { active_services: list })
        .then((updated) => customerScreen(updated, T.servicesSaved))
        .catch(apiError);
    };
    const rows = current.map((s) =>
      h(
        "tr",
        { "data-service": s.service },
        h("td", {}, s.service),
        h("td", {}, `${s.price} ${s.currency || "EUR"}`),
        h("td", {}, label(T.periods, s.period)),
        h("td", {}, h("button", {
          type: "button",
          class: "secondary",
          onclick: () => save(current.filter((o) => o.service !== s.service)),
        }, fill(T.endService, { service: s.service }))),
      ),
    );
    const periodSelect = h(
      "p",
      { class: "field" },
      h("label", { for: "service-period" }, T.period),
      h("select", { id: "service-period", name: "service-period" }, Object.entries(T.periods).map(([value, text]) => h("option", { value }, text))),
    );
    return h(
      "section",
      { "aria-labelledby": "services-title" },
      h("h3", { id: "services-title" }, T.servicesTitle),
      rows.length
        ? h("table", { id: "services" }, h("thead", {}, h("tr", {}, [T.service, T.price, T.period, ""].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows))
        : h("p", { id: "services" }, T.noServices),
      form(
        (data) =>
          save([
            ...current,
            {
              service: String(data.get("service-name") || "").trim(),
              price: String(data.get("service-price") || "").trim(),
              period: String(data.get("service-period") || "month"),
            },
          ]),
        field("service-name", T.service, { required: true, maxlength: "100", autocomplete: "off" }),
        field("service-price", T.price, { required: true, inputmode: "decimal", autocomplete: "off" }),
        periodSelect,
        h("button", { type: "submit" }, T.addService),
      ),
    );
  }

  // Orders: listed page by page; a new one names active services and quantities (the API
  // prices them and refuses anything else, and any order once the contract has ended).
  function ordersSection(customer) {
    const id = customer.customer_id;
    const box = h("div", { id: "orders" });
    const offered = (customer.active_services || []).map((s) => s.service);
    const add =
      customer.status === "active" && offered.length
        ? form(
            (data) => {
              say(T.loading);
              const items = [{ service: String(data.get("order-service") || ""), quantity: Number(data.get("order-quantity") || 0) }];
              api("POST", `customers/${encodeURIComponent(id)}/orders`, { items })
                .then(() => loadOrders(box, id, T.orderAdded))
                .catch(apiError);
            },
            h(
              "p",
              { class: "field" },
              h("label", { for: "order-service" }, T.orderService),
              h("select", { id: "order-service", name: "order-service" }, offered.map((name) => h("option", { value: name }, name))),
            ),
            field("order-quantity", T.quantity, { type: "number", min: "1", max: "10000", value: "1", required: true }),
            h("button", { type: "submit" }, T.addOrder),
          )
        : null;
    return h(
      "section",
      { "aria-labelledby": "orders-title" },
      h("h3", { id: "orders-title" }, T.ordersTitle),
      h("button", { type: "button", class: "secondary", onclick: () => loadOrders(box, id) }, T.showOrders),
      box,
      add,
    );
  }

  // `message` (the order just added) stays while the list loads (the core clears only "loading").
  function loadOrders(box, id, message) {
    if (message) say(message);
    pagedTable(box, {
      columns: [T.ordered, T.lines, T.total],
      empty: T.noOrders,
      load: (cursor) => {
        const query = new URLSearchParams({ limit: "25", ...(cursor ? { cursor } : {}) });
        return api("GET", `customers/${encodeURIComponent(id)}/orders?${query}`);
      },
      row: (order) =>
        h(
          "tr",
          { "data-order": order.order_id },
          h("td", {}, String(order.ordered_at || "")),
          h("td", {}, (order.items || []).map((l) => `${l.service} × ${l.quantity} (${l.unit_price} ${l.currency || "EUR"})`).join(", ")),
          h("td", {}, `${order.total || ""} ${order.currency || "EUR"}`),
        ),
    });
  }

  // The DPO's audit history of the customer, newest first: actions, fields and reasons
  // (a restriction's ground, a legal hold's reason) in the page's words.
  function loadAudit(box, id) {
    pagedTable(box, {
      columns: [T.when, T.action, T.who, T.fields, T.reasonCol],
      empty: T.noAudit,
      load: (cursor) => {
        const query = new URLSearchParams({ limit: "50", ...(cursor ? { cursor } : {}) });
        return api("GET", `audit/records/customers/${encodeURIComponent(id)}?${query}`);
      },
      row: (event) =>
        h(
          "tr",
          { "data-action": String(event.action || "") },
          h("td", {}, String(event.at || "")),
          h("td", {}, label({ ...T.auditActions, ...T.moreActions }, event.action)),
          h("td", {}, String(event.principal_id || "")),
          h("td", {}, (event.fields || []).map(fieldText).join(", ")),
          h("td", {}, label(T.reasons, event.reason)),
        ),
    });
  }

  window.IlopisteConsole.register({
    id: "customers",
    roles: ["staff", "dpo"],
    label: { fi: "Asiakkaat", en: "Customers" },
    start(kit) {
      bind(kit);
      searchScreen();
    },
  });
})();
